/**
 * RFC 5424 building blocks (spec/logging-and-config.md §1): PRI, timestamps, header tokens and the
 * escapes that keep one record on one line. HoneypotEvent.ts encodes whole event lines with them and
 * Parser.ts decodes them; DecnetLogger.ts writes the process-log layout of §1.2.
 */

/** Facility local0 (16): PRI = 16*8 + severity. */
export const FACILITY_LOCAL0 = 16
export const SD_ID = "relay@55555"

/** `attacker_ip` of an event without a peer (a service's `startup`, a foreign line with no address). */
export const UNKNOWN_IP = "Unknown"

/** The SD params that carry an event's peer; an event's `fields` never holds them. */
export const PEER_FIELDS = ["src_ip", "src_port"] as const

/**
 * A field name of a HoneypotEvent: an SD-PARAM name as parsers read it (`\w`, RFC 5424's 32 characters),
 * not a peer field, and not `__proto__` (an object key that assignment would turn into a prototype).
 */
export const isFieldName = (name: string): boolean =>
  /^[A-Za-z0-9_]{1,32}$/.test(name) &&
  name !== "__proto__" &&
  name !== PEER_FIELDS[0] &&
  name !== PEER_FIELDS[1]

export const Severity = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7
} as const
export type Severity = (typeof Severity)[keyof typeof Severity]

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** ISO-8601 UTC with six fractional digits and a `+00:00` offset, like Python's isoformat(). */
export const formatTimestamp = (date: Date): string =>
  `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${pad(date.getUTCHours())}:` +
  `${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}000+00:00`

/**
 * A header field (HOSTNAME, APP-NAME, PROCID, MSGID) is one PRINTUSASCII token: anything else becomes
 * `_`, so a value can never break the framing; empty is the NIL value `-`.
 */
export const headerToken = (value: string, max: number): string => {
  const cleaned = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max)
  return cleaned.length === 0 ? "-" : cleaned
}

const hex2 = (code: number): string => code.toString(16).padStart(2, "0")
const hex4 = (code: number): string => code.toString(16).padStart(4, "0")

/**
 * Characters that never reach a log line raw: C0 controls, DEL and C1 controls (terminal escapes for
 * anyone tailing the output; NUL truncates C syslog parsers), the Unicode line separators, and
 * unpaired surrogates (not encodable as UTF-8, so they would not survive a write).
 */
const UNSAFE =
  /[\x00-\x1f\x7f-\x9f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const escapeChar = (c: string): string => {
  switch (c) {
    case "\\":
      return "\\\\"
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\t":
      return "\\t"
    case '"':
      return '\\"'
    case "]":
      return "\\]"
    default: {
      const code = c.charCodeAt(0)
      return code <= 0xff ? `\\x${hex2(code)}` : `\\u${hex4(code)}`
    }
  }
}

const SD_ESCAPE = new RegExp(`[\\\\"\\]]|${UNSAFE.source}`, "g")
const MSG_ESCAPE = new RegExp(`\\\\|${UNSAFE.source}`, "g")

/**
 * Escape an SD-PARAM value: `\\`, `\"`, `\]` (RFC 5424 §6.3.3), plus `\n` `\r` `\t` and `\xHH` / `\uHHHH`
 * for every other control character. Backslash is always escaped, so every escape is unambiguous;
 * `unescapeValue` is the exact inverse.
 */
export const escapeSdValue = (value: string): string => value.replace(SD_ESCAPE, escapeChar)

/**
 * MSG escaping: RFC 5424 leaves MSG free-form, but a record is one line and a terminal may read it, so
 * the same escapes apply (quotes and brackets stay literal). A leading or trailing space becomes
 * `\x20`: parsers trim MSG, and the message must come back as it was written.
 */
export const escapeMsg = (value: string): string => {
  const escaped = value.replace(MSG_ESCAPE, escapeChar)
  return escaped.replace(/^ | $/g, "\\x20")
}

const SIMPLE: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', "]": "]" }

/**
 * Inverse of `escapeSdValue` and `escapeMsg`. A backslash pair that is not one of ours is kept
 * verbatim, as RFC 5424 requires for SD values.
 */
export const unescapeValue = (value: string): string =>
  value.indexOf("\\") < 0
    ? value
    : value.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[\s\S])/g, (pair, e: string) => {
        if (e.length > 1) return String.fromCharCode(Number.parseInt(e.slice(1), 16))
        return SIMPLE[e] ?? pair
      })

const UNSAFE_ALL = new RegExp(UNSAFE.source, "g")

/**
 * Process-log text (§1.2): control characters become `\xHH` / `\uHHHH`, nothing else changes. Not
 * reversible (backslashes stay as they are); it only keeps attacker bytes in a log message from driving
 * the terminal of whoever reads it. Callers split multi-line records first.
 */
export const neutralizeControls = (value: string): string =>
  value.replace(UNSAFE_ALL, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${hex2(code)}` : `\\u${hex4(code)}`
  })

/** True when `value` holds a character the escapes above exist for (tests use it to check lines). */
export const hasUnsafeCharacter = (value: string): boolean => UNSAFE.test(value)
