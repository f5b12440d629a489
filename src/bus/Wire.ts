/**
 * The bus wire format (spec/bus.md §1.2): `VERB args\n`, uint32 BE body length, empty or JSON-object body.
 * The decoder is incremental, never throws and never holds more than one header + one body of bytes;
 * attacker-reachable (any local process), so every bad input is a typed `WireError`.
 */
import { randomFillSync } from "node:crypto"
import { Data, Either } from "effect"
import type { BusEvent, Payload } from "./Bus.js"

export const VERBS = ["HELLO", "PUB", "SUB", "UNSUB", "EVT", "BYE"] as const
export type Verb = (typeof VERBS)[number]
export const MAX_HEADER = 4096
export const MAX_BODY = 1024 * 1024

export type WireErrorReason =
  | "header-too-long"
  | "empty-header"
  | "non-ascii-header"
  | "unknown-verb"
  | "body-too-large"
  | "invalid-json"
  | "body-not-object"

export class WireError extends Data.TaggedError("WireError")<{
  readonly reason: WireErrorReason
  readonly detail: string
}> {}

export interface Frame {
  readonly verb: Verb
  readonly args: string
  /** Raw body bytes (a view into the received chunk when possible, never copied needlessly). */
  readonly body: Uint8Array
}

const isVerb = (s: string): s is Verb => (VERBS as ReadonlyArray<string>).includes(s)

/** Parse a header line (without its LF). */
export const parseHeader = (line: Uint8Array): Either.Either<{ verb: Verb; args: string }, WireError> => {
  let end = line.length
  while (end > 0 && (line[end - 1] === 13 || line[end - 1] === 10)) end--
  for (let i = 0; i < end; i++) {
    const b = line[i] ?? 0
    if (b > 127)
      return Either.left(new WireError({ reason: "non-ascii-header", detail: `byte ${b} at ${i}` }))
  }
  const text = Buffer.from(line.buffer, line.byteOffset, end).toString("latin1")
  if (text.trim().length === 0)
    return Either.left(new WireError({ reason: "empty-header", detail: "empty header line" }))
  const sp = text.indexOf(" ")
  const verb = sp === -1 ? text : text.slice(0, sp)
  if (!isVerb(verb))
    return Either.left(new WireError({ reason: "unknown-verb", detail: JSON.stringify(verb.slice(0, 32)) }))
  return Either.right({ verb, args: sp === -1 ? "" : text.slice(sp + 1).trim() })
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Decode a body: empty → `{}`, otherwise exactly one JSON object. */
export const parseBody = (body: Uint8Array): Either.Either<Record<string, unknown>, WireError> => {
  if (body.length === 0) return Either.right({})
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString("utf8"))
  } catch (e) {
    return Either.left(new WireError({ reason: "invalid-json", detail: String(e).slice(0, 120) }))
  }
  return isRecord(value)
    ? Either.right(value)
    : Either.left(new WireError({ reason: "body-not-object", detail: "body is not a JSON object" }))
}

/**
 * Incremental decoder. `push(chunk)` returns the frames completed by that chunk, or the first error
 * (after which the decoder is poisoned: the connection must be closed). Chunks are kept as a list and
 * only the bytes of one header or body are ever joined.
 */
export class Decoder {
  private chunks: Array<Buffer> = []
  private buffered = 0
  private state: "header" | "length" | "body" = "header"
  private header: { verb: Verb; args: string } = { verb: "BYE", args: "" }
  private bodyLength = 0
  private failed: WireError | undefined

  push(chunk: Uint8Array): Either.Either<Array<Frame>, WireError> {
    if (this.failed) return Either.left(this.failed)
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length))
      this.buffered += chunk.length
    }
    const frames: Array<Frame> = []
    for (;;) {
      if (this.state === "header") {
        const lf = this.findLf()
        if (lf === -1) {
          if (this.buffered > MAX_HEADER)
            return this.fail("header-too-long", `no LF within ${MAX_HEADER} bytes`)
          return Either.right(frames)
        }
        if (lf + 1 > MAX_HEADER) return this.fail("header-too-long", `header of ${lf + 1} bytes`)
        const line = this.take(lf + 1)
        const parsed = parseHeader(line.subarray(0, lf))
        if (Either.isLeft(parsed)) return this.fail(parsed.left.reason, parsed.left.detail)
        this.header = parsed.right
        this.state = "length"
      } else if (this.state === "length") {
        if (this.buffered < 4) return Either.right(frames)
        const len = this.take(4)
        const n =
          ((len[0] ?? 0) * 0x1000000 + (((len[1] ?? 0) << 16) | ((len[2] ?? 0) << 8) | (len[3] ?? 0))) >>> 0
        if (n > MAX_BODY) return this.fail("body-too-large", `declared body of ${n} bytes`)
        this.bodyLength = n
        this.state = "body"
      } else {
        if (this.buffered < this.bodyLength) return Either.right(frames)
        const body = this.bodyLength === 0 ? new Uint8Array(0) : this.take(this.bodyLength)
        frames.push({ verb: this.header.verb, args: this.header.args, body })
        this.state = "header"
      }
    }
  }

  private fail(reason: WireErrorReason, detail: string): Either.Either<never, WireError> {
    this.failed = new WireError({ reason, detail })
    this.chunks = []
    this.buffered = 0
    return Either.left(this.failed)
  }

  /** Index of the first LF in the buffered bytes, searching at most MAX_HEADER bytes. */
  private findLf(): number {
    let base = 0
    for (const c of this.chunks) {
      const limit = Math.min(c.length, MAX_HEADER + 1 - base)
      if (limit <= 0) return -1
      const i = c.subarray(0, limit).indexOf(10)
      if (i !== -1) return base + i
      base += c.length
    }
    return -1
  }

  /** Remove `n` bytes from the front; a view when they lie in one chunk, a single copy otherwise. */
  private take(n: number): Buffer {
    const first = this.chunks[0]
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      this.buffered -= n
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0]
      if (c === undefined) break
      const k = Math.min(c.length, n - off)
      c.copy(out, off, 0, k)
      off += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.buffered -= n
    return out
  }
}

/** Encode one frame. Args must not contain CR/LF (callers validate topics first). */
export const encodeFrame = (
  verb: Verb,
  args: string,
  body?: Uint8Array | string
): Either.Either<Buffer, WireError> => {
  const header = (args.length > 0 ? `${verb} ${args}` : verb).trimEnd()
  if (/[\r\n]/.test(header))
    return Either.left(new WireError({ reason: "unknown-verb", detail: "args contain CR/LF" }))
  const headerBytes = Buffer.byteLength(header, "latin1") + 1
  if (headerBytes > MAX_HEADER)
    return Either.left(new WireError({ reason: "header-too-long", detail: `${headerBytes} bytes` }))
  for (let i = 0; i < header.length; i++)
    if (header.charCodeAt(i) > 127)
      return Either.left(new WireError({ reason: "non-ascii-header", detail: "non-ASCII args" }))
  const bodyLen =
    body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length
  if (bodyLen > MAX_BODY)
    return Either.left(new WireError({ reason: "body-too-large", detail: `${bodyLen} bytes` }))
  const out = Buffer.allocUnsafe(headerBytes + 4 + bodyLen)
  out.write(header, 0, "latin1")
  out[headerBytes - 1] = 10
  out.writeUInt32BE(bodyLen, headerBytes)
  if (body !== undefined) {
    if (typeof body === "string") out.write(body, headerBytes + 4, "utf8")
    else out.set(body, headerBytes + 4)
  }
  return Either.right(out)
}

// Entropy for event ids is drawn 1024 ids at a time: one getrandom per 16 KiB instead of per event.
const idPool = Buffer.allocUnsafe(16 * 1024)
let idOffset = idPool.length

/** A random uuid4 as 32 lowercase hex characters (spec/bus.md §1.4). */
export const newEventId = (): string => {
  if (idOffset >= idPool.length) {
    randomFillSync(idPool)
    idOffset = 0
  }
  const o = idOffset
  idOffset += 16
  idPool[o + 6] = ((idPool[o + 6] ?? 0) & 0x0f) | 0x40
  idPool[o + 8] = ((idPool[o + 8] ?? 0) & 0x3f) | 0x80
  return idPool.toString("hex", o, o + 16)
}

/** Serialize an envelope in wire key order `{v,id,topic,type,ts,payload}`. */
export const envelopeJson = (event: BusEvent): string =>
  JSON.stringify({
    v: event.v,
    id: event.id,
    topic: event.topic,
    type: event.type,
    ts: event.ts,
    payload: event.payload
  })

export const makeEnvelope = (
  topic: string,
  payload: Payload,
  type = "",
  ts = Date.now() / 1000
): BusEvent => ({
  v: 1,
  id: newEventId(),
  topic,
  type,
  ts,
  payload
})

/** Rebuild an event from a received EVT: the header topic wins, missing fields default (§1.7). */
export const eventFromBody = (topic: string, body: Record<string, unknown>): BusEvent => ({
  v: typeof body.v === "number" ? body.v : 1,
  id: typeof body.id === "string" ? body.id : newEventId(),
  topic,
  type: typeof body.type === "string" ? body.type : "",
  ts: typeof body.ts === "number" ? body.ts : Date.now() / 1000,
  // The parsed payload object is used as is: JSON.parse built it fresh for this frame.
  payload: isRecord(body.payload) ? body.payload : {}
})

/**
 * Encode a frame whose `header` ("VERB args") is already known to be ASCII without CR/LF and at most
 * MAX_HEADER bytes (e.g. it was decoded from the wire or validated as a topic). Undefined when the body
 * is over MAX_BODY. The hot-path twin of `encodeFrame`.
 */
export const encodeTrusted = (header: string, body: string): Buffer | undefined => {
  const bodyLen = body.length === 0 ? 0 : Buffer.byteLength(body, "utf8")
  if (bodyLen > MAX_BODY) return undefined
  const h = header.length
  const out = Buffer.allocUnsafe(h + 5 + bodyLen)
  out.write(header, 0, "latin1")
  out[h] = 10
  out.writeUInt32BE(bodyLen, h + 1)
  if (bodyLen > 0) out.write(body, h + 5, "utf8")
  return out
}

/** The broker's envelope text, in wire key order, around an already-serialized payload object. */
export const envelopeText = (
  id: string,
  quotedTopic: string,
  type: string,
  ts: number,
  payloadJson: string
): string =>
  `{"v":1,"id":"${id}","topic":${quotedTopic},"type":${JSON.stringify(type)},"ts":${ts},"payload":${payloadJson}}`

const ARENA_SIZE = 256 * 1024

/**
 * An outbound frame buffer: frames are encoded straight into pooled arenas and `take` hands out the
 * bytes written since the previous `take` as slices (no copy), so a whole tick of frames leaves in
 * one write. Flushed bytes are never overwritten: the next frame goes after them or into a new arena.
 */
export class FrameWriter {
  private arena: Buffer
  private start = 0
  private off = 0
  private sealed: Array<Buffer> = []
  private sealedBytes = 0
  private count = 0

  constructor(private readonly arenaSize: number = ARENA_SIZE) {
    this.arena = Buffer.allocUnsafe(arenaSize)
  }

  /** Bytes appended and not yet taken. */
  get pendingBytes(): number {
    return this.sealedBytes + this.off - this.start
  }

  /** Frames appended and not yet taken. */
  get pendingFrames(): number {
    return this.count
  }

  /** Append one frame (`header` is trusted ASCII "VERB args"); false when the body is over MAX_BODY. */
  append(header: string, body: string): boolean {
    if (body.length > MAX_BODY) return false
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this bound always fits the frame.
    const worst = header.length + 5 + body.length * 3
    if (this.arena.length - this.off < worst) this.rotate(worst)
    const a = this.arena
    const h = this.off + a.write(header, this.off, "latin1")
    a[h] = 10
    const n = body.length === 0 ? 0 : a.write(body, h + 5, "utf8")
    if (n > MAX_BODY) return false
    a.writeUInt32BE(n, h + 1)
    this.off = h + 5 + n
    this.count++
    return true
  }

  /** The pending bytes as a few large slices, in order; the writer is empty afterwards. */
  take(): Array<Buffer> {
    const out = this.sealed
    if (this.off > this.start) out.push(this.arena.subarray(this.start, this.off))
    this.start = this.off
    this.sealed = []
    this.sealedBytes = 0
    this.count = 0
    return out
  }

  /** Discard everything pending; returns how many frames were discarded. */
  clear(): number {
    const n = this.count
    this.take()
    return n
  }

  private rotate(worst: number) {
    if (this.off > this.start) {
      this.sealed.push(this.arena.subarray(this.start, this.off))
      this.sealedBytes += this.off - this.start
    }
    this.arena = Buffer.allocUnsafe(Math.max(this.arenaSize, worst))
    this.start = 0
    this.off = 0
  }
}
