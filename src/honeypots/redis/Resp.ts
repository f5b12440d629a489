/**
 * RESP2 request reader and reply encoders (https://redis.io/docs/reference/protocol-spec/).
 * Requests are multibulk arrays (`*n\r\n$len\r\n…`) or inline lines; every size is bounded and a
 * malformed request becomes a typed `RespError` carrying Redis's own error text.
 */
import { Data, Effect } from "effect"
import type { Connection, ConnectionError } from "../runtime/index.js"

export class RespError extends Data.TaggedError("RespError")<{ readonly reply: string }> {}

export interface RespLimits {
  /** Largest `$len` bulk string (Redis: proto-max-bulk-len, 512 MB; ours is far smaller). */
  readonly maxBulkBytes: number
  /** Largest `*n` element count (Redis caps at 1024*1024; ours is far smaller). */
  readonly maxArrayElements: number
  /** Longest inline command or header line (Redis: 64 KiB). */
  readonly maxInlineBytes: number
}

export const defaultRespLimits: RespLimits = {
  maxBulkBytes: 512 * 1024,
  maxArrayElements: 1024,
  maxInlineBytes: 64 * 1024
}

const protocolError = (what: string) => new RespError({ reply: `-ERR Protocol error: ${what}` })

const ESCAPES: ReadonlyMap<string, string> = new Map([
  ["n", "\n"],
  ["r", "\r"],
  ["t", "\t"],
  ["b", "\b"],
  ["a", "\x07"]
])

/** Redis's inline splitter (sdssplitargs): whitespace-separated, with "double" and 'single' quotes. */
export const splitInline = (line: string): Array<string> | undefined => {
  const out: Array<string> = []
  let i = 0
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++
    if (i >= line.length) break
    let cur = ""
    const q = line[i]
    if (q === '"' || q === "'") {
      i++
      let closed = false
      while (i < line.length) {
        const c = line[i]!
        if (q === '"' && c === "\\" && i + 1 < line.length) {
          const n = line[i + 1]!
          const hex = /^x[0-9a-fA-F]{2}$/.test(line.slice(i + 1, i + 4))
          if (hex) {
            cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16))
            i += 4
            continue
          }
          cur += ESCAPES.get(n) ?? n
          i += 2
          continue
        }
        if (q === "'" && c === "\\" && line[i + 1] === "'") {
          cur += "'"
          i += 2
          continue
        }
        if (c === q) {
          closed = true
          i++
          break
        }
        cur += c
        i++
      }
      // A closing quote must be followed by a space or the end (Redis rejects `"a"b`).
      if (!closed || (i < line.length && !/\s/.test(line[i]!))) return undefined
    } else {
      while (i < line.length && !/\s/.test(line[i]!)) cur += line[i++]
    }
    out.push(cur)
  }
  return out
}

/** Read one request: an array of argument buffers (possibly empty for a blank inline line). */
export const readRequest = (
  conn: Connection,
  limits: RespLimits = defaultRespLimits
): Effect.Effect<Array<Buffer>, ConnectionError | RespError> =>
  Effect.gen(function* () {
    const first = yield* conn.readBytes(1)
    if (first[0] === 0x0a) return []
    if (first[0] !== 0x2a) {
      // Inline command: the byte we consumed is the start of the line.
      const rest = yield* conn.readLine(limits.maxInlineBytes)
      const line = String.fromCharCode(first[0]!) + rest
      const args = splitInline(line.replace(/\r$/, ""))
      if (args === undefined) return yield* protocolError("unbalanced quotes in request")
      return args.map((a) => Buffer.from(a, "latin1"))
    }
    const header = yield* conn.readLine(32)
    if (!/^-?\d+$/.test(header)) return yield* protocolError("invalid multibulk length")
    const count = Number(header)
    if (count > limits.maxArrayElements) return yield* protocolError("invalid multibulk length")
    const args: Array<Buffer> = []
    for (let i = 0; i < count; i++) {
      const dollar = yield* conn.readBytes(1)
      if (dollar[0] !== 0x24)
        return yield* protocolError(`expected '$', got '${String.fromCharCode(dollar[0]!)}'`)
      const lenLine = yield* conn.readLine(32)
      if (!/^\d+$/.test(lenLine)) return yield* protocolError("invalid bulk length")
      const len = Number(lenLine)
      if (len > limits.maxBulkBytes) return yield* protocolError("invalid bulk length")
      const data = yield* conn.readBytes(len + 2)
      args.push(data.subarray(0, len))
    }
    return args
  })

export const simple = (s: string): string => `+${s}\r\n`
export const error = (s: string): string => `-${s}\r\n`
export const integer = (n: number): string => `:${n}\r\n`
export const bulk = (s: string | Buffer | null): Buffer =>
  s === null
    ? Buffer.from("$-1\r\n")
    : Buffer.concat([
        Buffer.from(`$${Buffer.byteLength(s)}\r\n`),
        Buffer.isBuffer(s) ? s : Buffer.from(s),
        Buffer.from("\r\n")
      ])
export const array = (items: ReadonlyArray<Buffer | string>): Buffer =>
  Buffer.concat([
    Buffer.from(`*${items.length}\r\n`),
    ...items.map((i) => (typeof i === "string" ? bulk(i) : i))
  ])

/** Redis glob (stringmatchlen): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`. */
export const globToRegExp = (pattern: string): RegExp => {
  let re = "^"
  for (let i = 0; i < pattern.length && i < 256; i++) {
    const c = pattern[i]!
    if (c === "*") re += ".*"
    else if (c === "?") re += "."
    else if (c === "\\" && i + 1 < pattern.length)
      re += `\\${pattern[++i]}`.replace(/^\\([A-Za-z0-9])$/, "$1")
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1)
      if (end < 0) re += "\\["
      else {
        const body = pattern
          .slice(i + 1, end)
          .replace(/\\/g, "\\\\")
          .replace(/^\^/, "^")
        re += body === "" ? "\\[\\]" : `[${body.startsWith("^") ? `^${body.slice(1)}` : body}]`
        i = end
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
  }
  try {
    return new RegExp(`${re}$`, "s")
  } catch {
    return /^$/
  }
}
