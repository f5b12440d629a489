/**
 * RFC 5424 line → HoneypotEvent (spec/logging-and-config.md §1.4, fleet §7). Attacker text flows
 * through here, so every path is total: a line that is not RFC 5424 gives `undefined`, never an
 * exception. A DECNET line (it carries the `relay@55555` element) names its peer in `src_ip` and
 * `src_port`; only a foreign line (a real sshd through rsyslog, say) has its address guessed.
 */
import type { HoneypotEvent } from "./HoneypotEvent.js"
import { isFieldName, PEER_FIELDS, SD_ID, type Severity, UNKNOWN_IP, unescapeValue } from "./Rfc5424.js"

/** Names that carry an address in a foreign line's `key=value` prose, in priority order (§1.4 rule 4). */
export const IP_FIELD_NAMES = [
  "src_ip",
  "src",
  "client_ip",
  "remote_ip",
  "remote_addr",
  "target_ip",
  "ip"
] as const

const HEADER = /^<(\d{1,5})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)$/s
const INNER_HEADER = /^(\d{4}-\d{2}-\d{2}T\S*) (\S+) (\S+) (\S+) (\S+) ?(.*)$/s
const SD_PARAM = /(\w+)="((?:[^"\\]|\\.)*)"/gs
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|([+-])(\d{2}):?(\d{2})?)?$/i

/**
 * An ISO-8601 timestamp (`2026-04-21T12:00:00.123456+00:00`, `…Z`, no zone = UTC) → Date, to the
 * millisecond; `undefined` when it is not ISO-8601 or names a day that does not exist.
 */
export const parseTimestamp = (raw: string): Date | undefined => {
  const m = ISO.exec(raw)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s = "00", frac = "", zone, sign, oh = "00", om = "00"] = m
  const ms = Number(frac.slice(0, 3).padEnd(3, "0"))
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms)
  const check = new Date(local)
  const valid =
    check.getUTCFullYear() === Number(y) &&
    check.getUTCMonth() === Number(mo) - 1 &&
    check.getUTCDate() === Number(d) &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(s) < 60 &&
    Number(oh) < 24 &&
    Number(om) < 60
  if (!valid) return undefined
  const offsetMs =
    zone === undefined || sign === undefined
      ? 0
      : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  return new Date(local - offsetMs)
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

const extractParams = (element: string): Map<string, string> => {
  const params = new Map<string, string>()
  for (const m of element.matchAll(SD_PARAM)) {
    const [, name = "", value = ""] = m
    if (!params.has(name)) params.set(name, unescapeValue(value))
  }
  return params
}

interface Body {
  /** The first `relay@55555` element's params; undefined when the line has none (a foreign line). */
  readonly params: Map<string, string> | undefined
  readonly msg: string
}

const trimMsg = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, "")

/** Split SD from MSG. Only the first `relay@55555` element contributes; other SD-IDs are skipped. */
const splitStructuredData = (rest: string): Body => {
  if (rest.startsWith("-")) return { params: undefined, msg: trimMsg(rest.slice(1)) }
  if (!rest.startsWith("[")) return { params: undefined, msg: trimMsg(rest) }
  let params: Map<string, string> | undefined
  let pos = 0
  while (rest[pos] === "[") {
    const end = elementEnd(rest, pos)
    if (end < 0) break
    const element = rest.slice(pos, end)
    if (params === undefined && (element.startsWith(`[${SD_ID} `) || element === `[${SD_ID}]`)) {
      params = extractParams(element.slice(SD_ID.length + 1, -1))
    }
    pos = end
  }
  return { params, msg: trimMsg(rest.slice(pos)) }
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** `1.2.3.4:5555` / `[::1]:5555` → host; bare IPv6 (several colons) is not split. */
const hostOf = (value: string): string => {
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(value)
  if (bracketed !== null) return bracketed[1] ?? ""
  const plain = /^([^:]*):(\d+)$/.exec(value)
  if (plain !== null) return plain[1] ?? ""
  return value.replace(/^\[(.*)\]$/, "$1")
}

const KV_IN_MSG = new RegExp(`(?:^|[\\s,;])(${IP_FIELD_NAMES.join("|")})=["']?([^\\s"',;]+)`, "g")
const ANCHORED =
  /\b(?:from|rhost[:=]|client[:=]|src[:=])\s*\[?([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})/gi
const BARE_IPV4 = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g

const looksLikeIp = (s: string): boolean => IPV4.test(s) || (s.includes(":") && /^[0-9a-f:.]+$/i.test(s))

/** A foreign line's attacker address, guessed from its prose (§1.4 rule 4, fallbacks A–C). */
export const guessAttackerIp = (msg: string): string => {
  // A: `src_ip=…` style tokens inside free text, in priority order.
  const kv = new Map<string, string>()
  for (const m of msg.matchAll(KV_IN_MSG)) {
    const [, name = "", value = ""] = m
    if (!kv.has(name)) kv.set(name, value)
  }
  for (const name of IP_FIELD_NAMES) {
    const value = kv.get(name)
    if (value !== undefined) {
      const host = hostOf(value)
      if (host !== "") return host
    }
  }
  // B: an address anchored by prose ("from 1.2.3.4", "rhost=…").
  for (const m of msg.matchAll(ANCHORED)) {
    const ip = m[1] ?? ""
    if (looksLikeIp(ip)) return ip
  }
  // C: the first bare dotted quad.
  for (const m of msg.matchAll(BARE_IPV4)) {
    const ip = m[1] ?? ""
    if (IPV4.test(ip)) return ip
  }
  return UNKNOWN_IP
}

const PORT = /^\d{1,5}$/

const toSeverity = (pri: string): Severity => {
  const sev = Number(pri) % 8
  return sev === 0 || sev === 1 || sev === 2 || sev === 3 || sev === 4 || sev === 5 || sev === 6 ? sev : 7
}

/**
 * Parse one line into a candidate event. `fallbackTime` stands in for a timestamp that is not ISO-8601
 * (the collector passes the time it read the line); without it such a line gives `undefined`. The
 * result still has to satisfy the HoneypotEvent Schema (the line codec checks it).
 */
export const parseEventLine = (line: string, fallbackTime?: Date): HoneypotEvent | undefined => {
  const header = HEADER.exec(line)
  if (header === null) return undefined
  const [, pri = "", ts = "", outerHost = "", outerApp = "", , outerMsgId = "", outerRest = ""] = header
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
  const timestamp = parseTimestamp(ts) ?? fallbackTime
  if (timestamp === undefined) return undefined
  const body = splitStructuredData(rest)
  const severity = toSeverity(pri)
  if (body.params === undefined) {
    // Foreign: no fields, the address guessed from the prose, `CMD …` under a NIL MSGID is a command.
    return {
      timestamp,
      decky: host,
      service: app,
      event_type: msgId === "-" && body.msg.startsWith("CMD ") ? "command" : msgId,
      attacker_ip: guessAttackerIp(body.msg),
      attacker_port: null,
      fields: {},
      msg: body.msg,
      severity
    }
  }
  const params = body.params
  const ip = params.get(PEER_FIELDS[0])
  const port = params.get(PEER_FIELDS[1])
  const portNumber = port !== undefined && PORT.test(port) ? Number(port) : Number.NaN
  const fields: Record<string, string> = {}
  // A param that cannot be an event field (a forged `__proto__`, an over-long name) stays in raw_line only.
  for (const [name, value] of params) if (isFieldName(name)) fields[name] = value
  return {
    timestamp,
    decky: host,
    service: app,
    event_type: msgId,
    attacker_ip: ip === undefined || ip === "" ? UNKNOWN_IP : ip,
    attacker_port: portNumber <= 65535 ? portNumber : null,
    fields,
    msg: unescapeValue(body.msg),
    severity
  }
}

/** The strict decode behind `HoneypotEventLine`: no stand-in time. */
export const decodeEventLine = (line: string): HoneypotEvent | undefined => parseEventLine(line)
