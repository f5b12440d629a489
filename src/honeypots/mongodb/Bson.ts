/**
 * A minimal, bounded BSON codec (bsonspec.org 1.1) for the commands a MongoDB client sends before it
 * authenticates. Decoding never reads past the buffer, caps nesting depth and element count, and keeps
 * types we do not interpret (ObjectId, Timestamp, Decimal128 …) as opaque bytes.
 */
import { Either } from "effect"
import { ProtocolViolation } from "../runtime/index.js"

export class BsonBinary {
  constructor(
    readonly subtype: number,
    readonly data: Buffer
  ) {}
}
/** A double on the wire even when the value is integral (servers send `ok: 1.0`). */
export class BsonDouble {
  constructor(readonly value: number) {}
}
/** Element types kept as raw bytes (type byte + payload). */
export class BsonOpaque {
  constructor(
    readonly type: number,
    readonly raw: Buffer
  ) {}
}

export type BsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | BsonBinary
  | BsonDouble
  | BsonOpaque
  | BsonDocument
  | ReadonlyArray<BsonValue>
export type BsonDocument = ReadonlyMap<string, BsonValue>

export const MAX_DEPTH = 32
const MAX_ELEMENTS = 10_000

export const doc = (entries: ReadonlyArray<readonly [string, BsonValue]>): BsonDocument => new Map(entries)

class Decoder {
  elements = 0
  constructor(readonly buf: Buffer) {}

  cstring(pos: number, end: number): readonly [string, number] | undefined {
    const nul = this.buf.indexOf(0, pos)
    if (nul < 0 || nul >= end) return undefined
    return [this.buf.toString("utf8", pos, nul), nul + 1]
  }

  /** Decode the document at `pos` (bounded by `limit`); returns it and the position after it. */
  document(
    pos: number,
    limit: number,
    depth: number,
    asArray: boolean
  ): readonly [BsonValue, number] | undefined {
    if (depth > MAX_DEPTH || pos + 5 > limit) return undefined
    const size = this.buf.readInt32LE(pos)
    const end = pos + size
    if (size < 5 || end > limit || this.buf[end - 1] !== 0) return undefined
    const entries: Array<[string, BsonValue]> = []
    let p = pos + 4
    while (p < end - 1) {
      if (++this.elements > MAX_ELEMENTS) return undefined
      const type = this.buf[p]!
      const name = this.cstring(p + 1, end - 1)
      if (name === undefined) return undefined
      const value = this.value(type, name[1], end - 1, depth)
      if (value === undefined) return undefined
      entries.push([name[0], value[0]])
      p = value[1]
    }
    if (p !== end - 1) return undefined
    return [asArray ? entries.map(([, v]) => v) : new Map(entries), end]
  }

  value(type: number, p: number, end: number, depth: number): readonly [BsonValue, number] | undefined {
    const b = this.buf
    const fixed = (n: number) => (p + n <= end ? b.subarray(p, p + n) : undefined)
    switch (type) {
      case 0x01: {
        const v = fixed(8)
        return v && [v.readDoubleLE(0), p + 8]
      }
      case 0x02:
      case 0x0d:
      case 0x0e: {
        if (p + 4 > end) return undefined
        const len = b.readInt32LE(p)
        if (len < 1 || p + 4 + len > end || b[p + 4 + len - 1] !== 0) return undefined
        return [b.toString("utf8", p + 4, p + 4 + len - 1), p + 4 + len]
      }
      case 0x03:
      case 0x04:
        return this.document(p, end, depth + 1, type === 0x04)
      case 0x05: {
        if (p + 5 > end) return undefined
        const len = b.readInt32LE(p)
        if (len < 0 || p + 5 + len > end) return undefined
        return [new BsonBinary(b[p + 4]!, Buffer.from(b.subarray(p + 5, p + 5 + len))), p + 5 + len]
      }
      case 0x06:
      case 0x0a:
      case 0x7f:
      case 0xff:
        return [null, p]
      case 0x07: {
        const v = fixed(12)
        return v && [new BsonOpaque(type, Buffer.from(v)), p + 12]
      }
      case 0x08: {
        const v = fixed(1)
        return v && [v[0] !== 0, p + 1]
      }
      case 0x09: {
        const v = fixed(8)
        return v && [new Date(Number(v.readBigInt64LE(0))), p + 8]
      }
      case 0x0b: {
        const pattern = this.cstring(p, end)
        const flags = pattern && this.cstring(pattern[1], end)
        return flags && [new BsonOpaque(type, Buffer.from(b.subarray(p, flags[1]))), flags[1]]
      }
      case 0x10: {
        const v = fixed(4)
        return v && [v.readInt32LE(0), p + 4]
      }
      case 0x11: {
        const v = fixed(8)
        return v && [new BsonOpaque(type, Buffer.from(v)), p + 8]
      }
      case 0x12: {
        const v = fixed(8)
        return v && [v.readBigInt64LE(0), p + 8]
      }
      case 0x13: {
        const v = fixed(16)
        return v && [new BsonOpaque(type, Buffer.from(v)), p + 16]
      }
      default:
        return undefined
    }
  }
}

/** Decode one document starting at `offset`; returns it and its byte length. */
export const decodeDocument = (
  buf: Buffer,
  offset = 0
): Either.Either<readonly [BsonDocument, number], ProtocolViolation> => {
  const r = new Decoder(buf).document(offset, buf.length, 0, false)
  if (r === undefined || !(r[0] instanceof Map))
    return Either.left(new ProtocolViolation({ reason: "malformed BSON document" }))
  return Either.right([r[0], r[1] - offset])
}

const cstr = (s: string): Buffer => Buffer.from(`${s.replace(/\0/g, "")}\0`, "utf8")

const element = (name: string, v: BsonValue): Buffer => {
  const head = (type: number) => Buffer.concat([Buffer.from([type]), cstr(name)])
  if (v === null) return head(0x0a)
  if (typeof v === "boolean") return Buffer.concat([head(0x08), Buffer.from([v ? 1 : 0])])
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(4)
      b.writeInt32LE(v)
      return Buffer.concat([head(0x10), b])
    }
    const b = Buffer.alloc(8)
    b.writeDoubleLE(v)
    return Buffer.concat([head(0x01), b])
  }
  if (v instanceof BsonDouble) {
    const b = Buffer.alloc(8)
    b.writeDoubleLE(v.value)
    return Buffer.concat([head(0x01), b])
  }
  if (typeof v === "bigint") {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(v)
    return Buffer.concat([head(0x12), b])
  }
  if (typeof v === "string") {
    const s = Buffer.from(v, "utf8")
    const len = Buffer.alloc(4)
    len.writeInt32LE(s.length + 1)
    return Buffer.concat([head(0x02), len, s, Buffer.from([0])])
  }
  if (v instanceof Date) {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(BigInt(v.getTime()))
    return Buffer.concat([head(0x09), b])
  }
  if (v instanceof BsonBinary) {
    const len = Buffer.alloc(4)
    len.writeInt32LE(v.data.length)
    return Buffer.concat([head(0x05), len, Buffer.from([v.subtype]), v.data])
  }
  if (v instanceof BsonOpaque) return Buffer.concat([head(v.type), v.raw])
  if (v instanceof Map) return Buffer.concat([head(0x03), encodeDocument(v)])
  if (Array.isArray(v))
    return Buffer.concat([head(0x04), encodeDocument(new Map(v.map((x, i) => [String(i), x])))])
  return head(0x0a)
}

export const encodeDocument = (d: BsonDocument): Buffer => {
  const body = Buffer.concat([...d].map(([k, v]) => element(k, v)))
  const len = Buffer.alloc(4)
  len.writeInt32LE(body.length + 5)
  return Buffer.concat([len, body, Buffer.from([0])])
}
