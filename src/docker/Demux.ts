/**
 * Pure decoders for the engine's byte streams. Container logs of a non-TTY container arrive multiplexed:
 * each frame is an 8-byte header `[stream, 0, 0, 0, size (uint32 big-endian)]` followed by `size` payload
 * bytes, where stream is 0 stdin, 1 stdout, 2 stderr, 3 engine error. Progress (build, import, events) is
 * newline-delimited JSON. Container output is attacker-influenced in a honeypot, so nothing here buffers
 * more than one bounded line per stream, whatever the frame sizes say.
 */
import { Schema } from "effect"

export const LogStream = Schema.Literal("stdin", "stdout", "stderr")
export type LogStream = typeof LogStream.Type

/** One line of container output, without its trailing newline. */
export const LogLine = Schema.Struct({ stream: LogStream, line: Schema.String })
export type LogLine = typeof LogLine.Type

/** Longest log line kept whole (bytes); a longer line is cut into pieces of at most this size. */
export const MAX_LOG_LINE_BYTES = 64 * 1024
export const HEADER_BYTES = 8
const NEWLINE = 0x0a
/** Engine error frames (stream 3) are short texts; keep at most this much of one. */
const MAX_SYSTEM_ERROR_BYTES = 4096

const utf8 = new TextDecoder("utf-8", { fatal: false })

/**
 * Splits bytes on `\n`, keeping one bounded partial line between pushes. In `split` mode an over-long
 * line is emitted in pieces of `maxBytes`; in `fail` mode it sets `overflowed` and drops the rest.
 */
export class LineSplitter {
  private buf: Uint8Array
  private len = 0
  overflowed = false

  constructor(
    readonly maxBytes: number,
    readonly onOverflow: "split" | "fail" = "split"
  ) {
    this.buf = new Uint8Array(Math.min(maxBytes, 4096))
  }

  push(bytes: Uint8Array, out: Array<Uint8Array>): void {
    let start = 0
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === NEWLINE) {
        this.append(bytes.subarray(start, i), out)
        out.push(this.take())
        start = i + 1
      }
    }
    this.append(bytes.subarray(start), out)
  }

  /** The unterminated last line, if any (end of stream). */
  end(): Uint8Array | undefined {
    return this.len > 0 ? this.take() : undefined
  }

  private append(bytes: Uint8Array, out: Array<Uint8Array>): void {
    let offset = 0
    while (offset < bytes.length) {
      const room = this.maxBytes - this.len
      if (room === 0) {
        if (this.onOverflow === "fail") {
          this.overflowed = true
          return
        }
        out.push(this.take())
        continue
      }
      const n = Math.min(room, bytes.length - offset)
      this.reserve(this.len + n)
      this.buf.set(bytes.subarray(offset, offset + n), this.len)
      this.len += n
      offset += n
    }
  }

  private reserve(size: number): void {
    if (size <= this.buf.length) return
    const next = new Uint8Array(Math.min(this.maxBytes, Math.max(size, this.buf.length * 2)))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  private take(): Uint8Array {
    const line = this.buf.slice(0, this.len)
    this.len = 0
    return line
  }
}

export interface DecodeResult {
  readonly lines: ReadonlyArray<LogLine>
  /** Set once the stream is found malformed (or the engine sent an error frame); later input is ignored. */
  readonly error?: string
}

const STREAMS: ReadonlyArray<LogStream> = ["stdin", "stdout", "stderr"]

/** Incremental decoder of a multiplexed log stream. Feed it chunks as they come, then `end()`. */
export class LogDemuxer {
  private readonly header = new Uint8Array(HEADER_BYTES)
  private headerLen = 0
  /** Payload bytes still to come for the current frame. */
  private remaining = 0
  private kind = 0
  private readonly splitters: Array<LineSplitter>
  private systemError: Array<Uint8Array> = []
  private systemErrorLen = 0
  private failed: string | undefined

  constructor(readonly maxLineBytes: number = MAX_LOG_LINE_BYTES) {
    this.splitters = STREAMS.map(() => new LineSplitter(maxLineBytes))
  }

  push(chunk: Uint8Array): DecodeResult {
    const lines: Array<LogLine> = []
    let i = 0
    while (i < chunk.length && this.failed === undefined) {
      if (this.remaining === 0 && this.headerLen < HEADER_BYTES) {
        const n = Math.min(HEADER_BYTES - this.headerLen, chunk.length - i)
        this.header.set(chunk.subarray(i, i + n), this.headerLen)
        this.headerLen += n
        i += n
        if (this.headerLen === HEADER_BYTES) this.startFrame()
        continue
      }
      const n = Math.min(this.remaining, chunk.length - i)
      this.payload(chunk.subarray(i, i + n), lines)
      this.remaining -= n
      i += n
      if (this.remaining === 0) this.endFrame()
    }
    return this.failed === undefined ? { lines } : { lines, error: this.failed }
  }

  /** End of input: flush unterminated lines; a frame cut short is an error. */
  end(): DecodeResult {
    const lines: Array<LogLine> = []
    if (
      this.failed === undefined &&
      (this.remaining > 0 || (this.headerLen > 0 && this.headerLen < HEADER_BYTES))
    ) {
      this.failed = "log stream ended inside a frame"
    }
    this.splitters.forEach((s, k) => {
      const rest = s.end()
      if (rest !== undefined) lines.push({ stream: STREAMS[k] ?? "stdout", line: utf8.decode(rest) })
    })
    return this.failed === undefined ? { lines } : { lines, error: this.failed }
  }

  private startFrame(): void {
    const h = this.header
    const kind = h[0] ?? 0
    if (kind > 3 || h[1] !== 0 || h[2] !== 0 || h[3] !== 0) {
      this.failed = "not a multiplexed log stream (bad frame header)"
      return
    }
    this.kind = kind
    this.remaining = (h[4] ?? 0) * 0x1000000 + ((h[5] ?? 0) << 16) + ((h[6] ?? 0) << 8) + (h[7] ?? 0)
    if (this.remaining === 0) this.endFrame()
  }

  private payload(bytes: Uint8Array, lines: Array<LogLine>): void {
    if (this.kind === 3) {
      const room = MAX_SYSTEM_ERROR_BYTES - this.systemErrorLen
      if (room > 0) {
        const part = bytes.subarray(0, room)
        this.systemError.push(part.slice())
        this.systemErrorLen += part.length
      }
      return
    }
    const stream = STREAMS[this.kind] ?? "stdout"
    const out: Array<Uint8Array> = []
    this.splitters[this.kind]?.push(bytes, out)
    for (const line of out) lines.push({ stream, line: utf8.decode(line) })
  }

  private endFrame(): void {
    this.headerLen = 0
    if (this.kind === 3) {
      const text = utf8.decode(Buffer.concat(this.systemError)).trim()
      this.failed = `engine error in log stream: ${text === "" ? "(no detail)" : text}`
      this.systemError = []
      this.systemErrorLen = 0
    }
  }
}

/** Decoder for a TTY container's logs: no frames, everything is stdout. */
export class RawLogDecoder {
  private readonly splitter: LineSplitter
  constructor(maxLineBytes: number = MAX_LOG_LINE_BYTES) {
    this.splitter = new LineSplitter(maxLineBytes)
  }
  push(chunk: Uint8Array): DecodeResult {
    const out: Array<Uint8Array> = []
    this.splitter.push(chunk, out)
    return { lines: out.map((b) => ({ stream: "stdout", line: utf8.decode(b) })) }
  }
  end(): DecodeResult {
    const rest = this.splitter.end()
    return { lines: rest === undefined ? [] : [{ stream: "stdout", line: utf8.decode(rest) }] }
  }
}

/** Decode a whole multiplexed stream given as chunks (tests and small fixed outputs). */
export const demuxAll = (chunks: Iterable<Uint8Array>, maxLineBytes?: number): DecodeResult => {
  const d = new LogDemuxer(maxLineBytes)
  const lines: Array<LogLine> = []
  for (const chunk of chunks) {
    const r = d.push(chunk)
    lines.push(...r.lines)
    if (r.error !== undefined) return { lines, error: r.error }
  }
  const r = d.end()
  lines.push(...r.lines)
  return r.error === undefined ? { lines } : { lines, error: r.error }
}

/** One multiplexed frame (the engine's encoding); used by the fake engine and tests. */
export const encodeFrame = (stream: LogStream | "system", payload: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(HEADER_BYTES + payload.length)
  frame[0] = stream === "system" ? 3 : STREAMS.indexOf(stream)
  new DataView(frame.buffer).setUint32(4, payload.length, false)
  frame.set(payload, HEADER_BYTES)
  return frame
}

/** Longest progress message accepted (bytes); engines send far shorter ones. */
export const MAX_JSON_LINE_BYTES = 1024 * 1024

/** Incremental splitter of newline-delimited JSON; blank lines are skipped, bad JSON is an error. */
export class JsonLines {
  private readonly splitter = new LineSplitter(MAX_JSON_LINE_BYTES, "fail")

  push(chunk: Uint8Array): { readonly values: ReadonlyArray<unknown>; readonly error?: string } {
    const out: Array<Uint8Array> = []
    this.splitter.push(chunk, out)
    return this.parse(out)
  }

  end(): { readonly values: ReadonlyArray<unknown>; readonly error?: string } {
    const rest = this.splitter.end()
    return this.parse(rest === undefined ? [] : [rest])
  }

  private parse(lines: ReadonlyArray<Uint8Array>): { values: Array<unknown>; error?: string } {
    const values: Array<unknown> = []
    if (this.splitter.overflowed)
      return { values, error: `progress message over ${MAX_JSON_LINE_BYTES} bytes` }
    for (const bytes of lines) {
      const text = utf8.decode(bytes).trim()
      if (text === "") continue
      try {
        values.push(JSON.parse(text))
      } catch {
        return { values, error: `malformed progress message: ${text.slice(0, 200)}` }
      }
    }
    return { values }
  }
}
