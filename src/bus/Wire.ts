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
/**
 * Nesting levels a body may have, the body object itself being level 1 (its `payload` gets 63). Deeper
 * JSON still parses, but serializing it again can overflow the stack; a body over the cap is a violation.
 */
export const MAX_JSON_DEPTH = 64
/** Distinct SUB patterns one connection may hold; the broker closes a connection that sends one more. */
export const MAX_PATTERNS_PER_CONNECTION = 1024

export type WireErrorReason =
  | "header-too-long"
  | "empty-header"
  | "non-ascii-header"
  | "unknown-verb"
  | "body-too-large"
  | "invalid-json"
  | "body-not-object"
  | "body-too-deep"

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

interface Header {
  readonly verb: Verb
  readonly args: string
}

const asBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length)

/** Parse the header bytes `buf[start, end)` (without the LF). The hot-path form: no Either, no views. */
const headerAt = (buf: Buffer, start: number, stop: number): Header | WireError => {
  let end = stop
  while (end > start && (buf[end - 1] === 13 || buf[end - 1] === 10)) end--
  for (let i = start; i < end; i++) {
    const b = buf[i] ?? 0
    if (b > 127) return new WireError({ reason: "non-ascii-header", detail: `byte ${b} at ${i - start}` })
  }
  const text = buf.toString("latin1", start, end)
  if (text.trim().length === 0) return new WireError({ reason: "empty-header", detail: "empty header line" })
  const sp = text.indexOf(" ")
  const verb = sp === -1 ? text : text.slice(0, sp)
  if (!isVerb(verb))
    return new WireError({ reason: "unknown-verb", detail: JSON.stringify(verb.slice(0, 32)) })
  return { verb, args: sp === -1 ? "" : text.slice(sp + 1).trim() }
}

/** Parse a header line (without its LF). */
export const parseHeader = (line: Uint8Array): Either.Either<Header, WireError> => {
  const h = headerAt(asBuffer(line), 0, line.length)
  return h instanceof WireError ? Either.left(h) : Either.right(h)
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const EMPTY = Buffer.alloc(0)

/** Receives one decoded frame: verb, args and the body bytes `buf[start, end)`; false stops decoding. */
export type FrameSink = (verb: Verb, args: string, buf: Buffer, start: number, end: number) => boolean

/**
 * Whether the JSON `text` nests objects and arrays deeper than `max` levels. A scan, not a parse: it
 * skips strings (escapes included) and tracks bracket depth; a text too short or with too few opening
 * brackets to be that deep is not scanned at all. Meant for text about to be parsed; on invalid JSON
 * the answer does not matter.
 */
export const jsonTooDeep = (text: string, max: number = MAX_JSON_DEPTH): boolean => {
  const n = text.length
  // Every level takes two characters, and needs an opening bracket: count those first (a native search
  // per bracket, so a typical event with a handful of them costs almost nothing) before scanning.
  if (n <= 2 * max) return false
  let opens = 0
  for (let i = text.indexOf("{"); i !== -1 && opens <= max; i = text.indexOf("{", i + 1)) opens++
  for (let i = text.indexOf("["); i !== -1 && opens <= max; i = text.indexOf("[", i + 1)) opens++
  if (opens <= max) return false
  let depth = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      for (;;) {
        const q = text.indexOf('"', i + 1)
        if (q === -1) return false
        let b = q - 1
        while (text.charCodeAt(b) === 92 /* \ */) b--
        i = q
        if ((q - 1 - b) % 2 === 0) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/** Decode body text: exactly one JSON object, at most MAX_JSON_DEPTH levels deep. Never throws. */
const decodeText = (text: string): Record<string, unknown> | WireError => {
  if (jsonTooDeep(text))
    return new WireError({
      reason: "body-too-deep",
      detail: `JSON nested deeper than ${MAX_JSON_DEPTH} levels`
    })
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return new WireError({ reason: "invalid-json", detail: String(e).slice(0, 120) })
  }
  return isRecord(value)
    ? value
    : new WireError({ reason: "body-not-object", detail: "body is not a JSON object" })
}

/** Decode the body `buf[start, end)`: empty → `{}`, otherwise exactly one JSON object (no Either, no view). */
export const decodeBodyAt = (buf: Buffer, start: number, end: number): Record<string, unknown> | WireError =>
  start === end ? {} : decodeText(buf.toString("utf8", start, end))

/** Decode a body: empty → `{}`, otherwise exactly one JSON object. The hot-path form of `parseBody`. */
export const decodeBody = (body: Uint8Array): Record<string, unknown> | WireError =>
  body.length === 0 ? {} : decodeText(asBuffer(body).toString("utf8"))

/** Decode a body: empty → `{}`, otherwise exactly one JSON object. */
export const parseBody = (body: Uint8Array): Either.Either<Record<string, unknown>, WireError> => {
  const b = decodeBody(body)
  return b instanceof WireError ? Either.left(b) : Either.right(b)
}

/**
 * Incremental decoder. `push(chunk)` returns the frames completed by that chunk, or the first error
 * (after which the decoder is poisoned: the connection must be closed). Frames that lie wholly inside
 * a chunk are parsed in place (bodies are views into the chunk); only a frame split across chunks is
 * buffered, and only its bytes are ever joined. A header equal to the previous one is not re-parsed.
 */
export class Decoder {
  private chunks: Array<Buffer> = []
  private buffered = 0
  private state: "header" | "length" | "body" = "header"
  private header: Header = { verb: "BYE", args: "" }
  private bodyLength = 0
  private failed: WireError | undefined
  // The last header line seen and its parse: a stream of EVT/PUB on one topic repeats it byte for byte.
  private lastLine: Buffer = EMPTY
  private lastHeader: Header | undefined

  /** Decode `chunk`: the frames it completes, or the first error (earlier frames of the chunk are discarded). */
  push(chunk: Uint8Array): Either.Either<Array<Frame>, WireError> {
    const frames: Array<Frame> = []
    const err = this.feed(chunk, (verb, args, buf, start, end) => {
      frames.push({ verb, args, body: start === end ? EMPTY : buf.subarray(start, end) })
      return true
    })
    return err === undefined ? Either.right(frames) : Either.left(err)
  }

  /**
   * The allocation-free form of `push` for the broker and the client: each complete frame goes to `sink`
   * as its verb, args and body range `buf[start, end)` (valid only during the call). `sink` returns false
   * to stop decoding (the connection is closing). Returns the first error, if any.
   */
  feed(chunk: Uint8Array, sink: FrameSink): WireError | undefined {
    if (this.failed) return this.failed
    const buf = asBuffer(chunk)
    if (this.buffered === 0 && this.state === "header")
      return buf.length === 0 ? undefined : this.fast(buf, sink)
    if (buf.length > 0) {
      this.chunks.push(buf)
      this.buffered += buf.length
    }
    // Finish the frame split across chunks, then go back to the in-place path for the rest of this chunk.
    for (;;) {
      const step = this.slowStep(sink)
      if (step !== "frame") return step === "more" || step === "stop" ? undefined : step
      if (this.buffered === 0) return undefined
      const rest = this.chunks[0]
      if (this.state === "header" && this.chunks.length === 1 && rest !== undefined) {
        this.chunks = []
        this.buffered = 0
        return this.fast(rest, sink)
      }
    }
  }

  /** Parse complete frames straight from `buf` (nothing buffered, at a frame boundary); keep the tail. */
  private fast(buf: Buffer, sink: FrameSink): WireError | undefined {
    const len = buf.length
    let pos = 0
    while (pos < len) {
      const limit = Math.min(len, pos + MAX_HEADER)
      let lf = -1
      for (let i = pos; i < limit; i++)
        if (buf[i] === 10) {
          lf = i
          break
        }
      if (lf === -1) {
        if (len - pos > MAX_HEADER) return this.fail("header-too-long", `no LF within ${MAX_HEADER} bytes`)
        break
      }
      const h = this.headerFor(buf, pos, lf)
      if (h instanceof WireError) return this.fail(h.reason, h.detail)
      if (lf + 5 > len) break
      const n = buf.readUInt32BE(lf + 1)
      if (n > MAX_BODY) return this.fail("body-too-large", `declared body of ${n} bytes`)
      const end = lf + 5 + n
      if (end > len) break
      pos = end
      if (!sink(h.verb, h.args, buf, lf + 5, end)) return undefined
    }
    if (pos < len) {
      const rest = pos === 0 ? buf : buf.subarray(pos)
      this.chunks.push(rest)
      this.buffered += rest.length
    }
    return undefined
  }

  private headerFor(buf: Buffer, start: number, lf: number): Header | WireError {
    const n = lf - start
    const last = this.lastLine
    if (this.lastHeader !== undefined && last.length === n) {
      let same = true
      for (let i = 0; i < n; i++)
        if (last[i] !== buf[start + i]) {
          same = false
          break
        }
      if (same) return this.lastHeader
    }
    const h = headerAt(buf, start, lf)
    if (!(h instanceof WireError) && n <= 256) {
      this.lastLine = Buffer.from(buf.subarray(start, lf))
      this.lastHeader = h
    }
    return h
  }

  /** The general path, one frame at a time: assemble a frame split across chunks from the buffered list. */
  private slowStep(sink: FrameSink): "frame" | "more" | "stop" | WireError {
    for (;;) {
      if (this.state === "header") {
        const lf = this.findLf()
        if (lf === -1) {
          if (this.buffered > MAX_HEADER)
            return this.fail("header-too-long", `no LF within ${MAX_HEADER} bytes`)
          return "more"
        }
        if (lf + 1 > MAX_HEADER) return this.fail("header-too-long", `header of ${lf + 1} bytes`)
        const line = this.take(lf + 1)
        const parsed = this.headerFor(line, 0, lf)
        if (parsed instanceof WireError) return this.fail(parsed.reason, parsed.detail)
        this.header = parsed
        this.state = "length"
      } else if (this.state === "length") {
        if (this.buffered < 4) return "more"
        const n = this.take(4).readUInt32BE(0)
        if (n > MAX_BODY) return this.fail("body-too-large", `declared body of ${n} bytes`)
        this.bodyLength = n
        this.state = "body"
      } else {
        if (this.buffered < this.bodyLength) return "more"
        const body = this.bodyLength === 0 ? EMPTY : this.take(this.bodyLength)
        this.state = "header"
        return sink(this.header.verb, this.header.args, body, 0, body.length) ? "frame" : "stop"
      }
    }
  }

  private fail(reason: WireErrorReason, detail: string): WireError {
    const e = new WireError({ reason, detail })
    this.failed = e
    this.chunks = []
    this.buffered = 0
    return e
  }

  /** Index of the first LF in the buffered bytes, searching at most MAX_HEADER + 1 bytes. */
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
    return this.appendParts(header, body, "", "")
  }

  /**
   * Append a frame whose body is `a + b + c`, written part by part so the caller never builds (and
   * V8 never flattens) the concatenation; false when the body is over MAX_BODY.
   */
  appendParts(header: string, a: string, b: string, c: string): boolean {
    const units = a.length + b.length + c.length
    if (units > MAX_BODY) return false
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so this bound always fits the frame.
    const worst = header.length + 5 + units * 3
    if (this.arena.length - this.off < worst) this.rotate(worst)
    const buf = this.arena
    const h = this.off + buf.write(header, this.off, "latin1")
    buf[h] = 10
    let o = h + 5
    if (a.length > 0) o += buf.write(a, o, "utf8")
    if (b.length > 0) o += buf.write(b, o, "utf8")
    if (c.length > 0) o += buf.write(c, o, "utf8")
    const n = o - h - 5
    if (n > MAX_BODY) return false
    buf.writeUInt32BE(n, h + 1)
    this.off = o
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
