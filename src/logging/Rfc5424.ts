/**
 * RFC 5424 event lines (spec/fleet.md §7, spec/logging-and-config.md §1.1).
 * The formatter is the single place every honeypot/prober/sniffer event becomes a syslog line.
 */

/** Facility local0 (16): PRI = 16*8 + severity. */
export const FACILITY_LOCAL0 = 16
export const SD_ID = "relay@55555"

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

/** A structured-data param value. None/booleans/lists are rendered cleanly (no Python repr). */
export type SdValue = string | number | bigint | boolean | null | undefined | ReadonlyArray<unknown> | object

export interface EventLine {
  readonly hostname: string
  readonly appName: string
  readonly msgId: string
  readonly fields?: Readonly<Record<string, SdValue>> | undefined
  readonly msg?: string | undefined
  readonly severity?: Severity | undefined
  readonly procId?: string | undefined
  readonly timestamp?: Date | undefined
}

/**
 * Escape an SD-PARAM value per RFC 5424 §6.3.3 (`\\`, `\"`, `\]`), plus `\n`/`\r` for line breaks so a
 * value can never split the one-line record. Backslash is always escaped, so `\n` is unambiguous;
 * `unescapeSdValue` in Parser.ts is the exact inverse.
 */
export const escapeSdValue = (value: string): string =>
  value.replace(/[\\"\]\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\${c}`))

/**
 * MSG escaping: RFC 5424 leaves MSG free-form, but a record is one line, so `\` → `\\`, LF → `\n`,
 * CR → `\r`. `unescapeMsg` in Parser.ts reverses it.
 */
export const escapeMsg = (value: string): string =>
  value.replace(/[\\\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\\\"))

/** Render a field value: null/undefined → "", booleans → true/false, objects/arrays → compact JSON. */
export const renderSdValue = (value: SdValue): string => {
  if (value === null || value === undefined) return ""
  switch (typeof value) {
    case "string":
      return value
    case "number":
    case "bigint":
      return String(value)
    case "boolean":
      return value ? "true" : "false"
    default:
      return JSON.stringify(value) ?? ""
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** ISO-8601 UTC with six fractional digits and a `+00:00` offset, like Python's isoformat(). */
export const formatTimestamp = (date: Date): string =>
  `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${pad(date.getUTCHours())}:` +
  `${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}000+00:00`

const headerToken = (value: string, max: number): string => {
  // Header fields are space-separated PRINTUSASCII tokens; never let a value break the framing.
  const cleaned = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max)
  return cleaned.length === 0 ? "-" : cleaned
}

/** Format one event line: `<PRI>1 TS HOST APP PROCID MSGID SD [MSG]`. */
export const formatEventLine = (event: EventLine): string => {
  const pri = FACILITY_LOCAL0 * 8 + (event.severity ?? Severity.info)
  const ts = formatTimestamp(event.timestamp ?? new Date())
  const host = headerToken(event.hostname, 255)
  const app = headerToken(event.appName, 48)
  const procId = headerToken(event.procId ?? "-", 128)
  const msgId = headerToken(event.msgId, 32)
  const entries = event.fields === undefined ? [] : Object.entries(event.fields)
  const sd =
    entries.length === 0
      ? "-"
      : `[${SD_ID} ${entries.map(([k, v]) => `${k}="${escapeSdValue(renderSdValue(v))}"`).join(" ")}]`
  const msg = event.msg === undefined || event.msg === "" ? "" : ` ${escapeMsg(event.msg)}`
  return `<${pri}>1 ${ts} ${host} ${app} ${procId} ${msgId} ${sd}${msg}`
}
