/**
 * RFC 5424 line → ParsedEvent (spec logging-and-config §1.4, fleet §7). Attacker text flows through
 * here, so every path is total: a line that is not RFC 5424 gives `null`, never an exception.
 */
import { Schema } from "effect"
import { SD_ID } from "./Rfc5424.js"

/** One parsed evidence line. The same shape is the `logs` row, the API item and the bus payload. */
export class ParsedEvent extends Schema.Class<ParsedEvent>("ParsedEvent")({
  /** `YYYY-MM-DD HH:MM:SS` (wall time of the line's own offset), or the raw token when unparsable. */
  timestamp: Schema.String,
  decky: Schema.String,
  service: Schema.String,
  event_type: Schema.String,
  /** `"Unknown"` when no address could be found. */
  attacker_ip: Schema.String,
  fields: Schema.Record({ key: Schema.String, value: Schema.String }),
  msg: Schema.String,
  raw_line: Schema.String
}) {}

export const UNKNOWN_IP = "Unknown"

/** SD params that may carry the attacker address, in priority order. */
export const IP_FIELD_NAMES = [
  "src_ip",
  "src",
  "client_ip",
  "remote_ip",
  "remote_addr",
  "target_ip",
  "ip"
] as const

const HEADER = /^<\d{1,5}>1 (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)$/s
const INNER_HEADER = /^(\d{4}-\d{2}-\d{2}T\S*) (\S+) (\S+) (\S+) (\S+) ?(.*)$/s
const SD_PARAM = /(\w+)="((?:[^"\\]|\\.)*)"/gs
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i

const ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", "\\": "\\", '"': '"', "]": "]" }

/**
 * Inverse of `escapeSdValue`: `\"` `\\` `\]` (RFC 5424 §6.3.3) plus DECNET's `\n` `\r`.
 * Any other backslash pair is kept verbatim, as RFC 5424 requires.
 */
export const unescapeSdValue = (value: string): string =>
  value.replace(/\\([\s\S])/g, (pair, c: string) => ESCAPES[c] ?? pair)

/** Inverse of `escapeMsg`: `\\` `\n` `\r`; other backslash pairs verbatim. */
export const unescapeMsg = (value: string): string =>
  value.replace(/\\([\\nr])/g, (_pair, c: string) => ESCAPES[c] ?? c)

/** `2026-04-21T12:00:00.123456+00:00` → `2026-04-21 12:00:00`; the raw token when it is not ISO-8601. */
export const normalizeTimestamp = (raw: string): string => {
  const m = ISO.exec(raw)
  if (m === null) return raw
  const [, y, mo, d, h, mi, s = "00"] = m
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)))
  const valid =
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(mo) - 1 &&
    date.getUTCDate() === Number(d) &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(s) < 60
  return valid ? `${y}-${mo}-${d} ${h}:${mi}:${s}` : raw
}

/** End index (exclusive) of the SD element starting at `start` (a `[`), or -1 when unterminated. */
const elementEnd = (text: string, start: number): number => {
  let inQuotes = false
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]
    if (inQuotes) {
      if (c === "\\") i++
      else if (c === '"') inQuotes = false
    } else if (c === '"') inQuotes = true
    else if (c === "]") return i + 1
  }
  return -1
}

const extractParams = (element: string): Record<string, string> => {
  const params = new Map<string, string>()
  for (const m of element.matchAll(SD_PARAM)) {
    const [, name = "", value = ""] = m
    if (!params.has(name)) params.set(name, unescapeSdValue(value))
  }
  // fromEntries defines own properties, so an attacker's `__proto__="…"` stays a plain field.
  return Object.fromEntries(params)
}

/** Split SD from MSG. Only the first `relay@55555` element contributes fields; other SD-IDs are skipped. */
const splitStructuredData = (rest: string): { fields: Record<string, string>; msg: string } => {
  if (rest.startsWith("-")) return { fields: {}, msg: rest.slice(1).trim() }
  if (!rest.startsWith("[")) return { fields: {}, msg: rest.trim() }
  let fields: Record<string, string> | undefined
  let pos = 0
  while (rest[pos] === "[") {
    const end = elementEnd(rest, pos)
    if (end < 0) break
    const element = rest.slice(pos, end)
    if (fields === undefined && (element.startsWith(`[${SD_ID} `) || element === `[${SD_ID}]`)) {
      fields = extractParams(element.slice(SD_ID.length + 1, -1))
    }
    pos = end
  }
  return { fields: fields ?? {}, msg: rest.slice(pos).trim() }
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** `1.2.3.4:5555` / `[::1]:5555` → host + port; bare IPv6 (several colons) is not split. */
const splitHostPort = (value: string): { host: string; port?: string } => {
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(value)
  if (bracketed !== null) return { host: bracketed[1] ?? "", port: bracketed[2] ?? "" }
  const plain = /^([^:]*):(\d+)$/.exec(value)
  if (plain !== null) return { host: plain[1] ?? "", port: plain[2] ?? "" }
  return { host: value.replace(/^\[(.*)\]$/, "$1") }
}

const KV_IN_MSG = new RegExp(`(?:^|[\\s,;])(${IP_FIELD_NAMES.join("|")})=["']?([^\\s"',;]+)`, "g")
const ANCHORED =
  /\b(?:from|rhost[:=]|client[:=]|src[:=])\s*\[?([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})/gi
const BARE_IPV4 = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g

const looksLikeIp = (s: string): boolean => IPV4.test(s) || (s.includes(":") && /^[0-9a-f:.]+$/i.test(s))

/** Attacker address per §1.4 rule 4; may add `remote_port` to `fields`. */
const findAttackerIp = (fields: Record<string, string>, msg: string): string => {
  for (const name of IP_FIELD_NAMES) {
    const value = Object.hasOwn(fields, name) ? fields[name] : undefined
    if (value === undefined || value.trim() === "") continue
    const { host, port } = splitHostPort(value.trim())
    if (port !== undefined && !Object.hasOwn(fields, "remote_port")) {
      Object.defineProperty(fields, "remote_port", {
        value: port,
        enumerable: true,
        writable: true,
        configurable: true
      })
    }
    return host
  }
  // Fallback A: `src_ip=…` style tokens inside free text, in the same priority order.
  const kv = new Map<string, string>()
  for (const m of msg.matchAll(KV_IN_MSG)) {
    const [, name = "", value = ""] = m
    if (!kv.has(name)) kv.set(name, value)
  }
  for (const name of IP_FIELD_NAMES) {
    const value = kv.get(name)
    if (value !== undefined) return splitHostPort(value).host
  }
  // Fallback B: an address anchored by prose ("from 1.2.3.4", "rhost=…").
  for (const m of msg.matchAll(ANCHORED)) {
    const ip = m[1] ?? ""
    if (looksLikeIp(ip)) return ip
  }
  // Fallback C: the first bare dotted quad.
  for (const m of msg.matchAll(BARE_IPV4)) {
    const ip = m[1] ?? ""
    if (IPV4.test(ip)) return ip
  }
  return UNKNOWN_IP
}

/** Parse one line. `null` when the RFC 5424 header does not match. */
export const parseRfc5424 = (line: string): ParsedEvent | null => {
  const header = HEADER.exec(line)
  if (header === null) return null
  const [, ts = "", outerHost = "", outerApp = "", , outerMsgId = "", outerRest = ""] = header
  let host = outerHost
  let app = outerApp
  let msgId = outerMsgId
  let rest = outerRest
  // Double-wrapped: rsyslog re-framed a line whose body is itself `TS HOST APP PROCID MSGID …`.
  if (msgId === "-" && rest.startsWith("-")) {
    const inner = INNER_HEADER.exec(rest.slice(1).trimStart())
    if (inner !== null) {
      host = inner[2] ?? host
      app = inner[3] ?? app
      msgId = inner[5] ?? msgId
      rest = inner[6] ?? ""
    }
  }
  const split = splitStructuredData(rest)
  const msg = unescapeMsg(split.msg)
  const fields = split.fields
  const attackerIp = findAttackerIp(fields, msg)
  const eventType = msgId === "-" && msg.startsWith("CMD ") ? "command" : msgId
  return new ParsedEvent(
    {
      timestamp: normalizeTimestamp(ts),
      decky: host,
      service: app,
      event_type: eventType,
      attacker_ip: attackerIp,
      fields,
      msg,
      raw_line: line
    },
    { disableValidation: true }
  )
}
