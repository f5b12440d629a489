/**
 * One evidence record of the `.json` stream the ingester reads: a HoneypotEvent, its raw RFC 5424 line,
 * and where it came from (the container and the engine's timestamp of the line, so a restarted
 * collector resumes exactly after the last line it wrote). The `.log` file beside it holds raw lines.
 */
import { Schema } from "effect"
import { HoneypotEvent } from "../logging/HoneypotEvent.js"
import { isFieldName } from "../logging/Rfc5424.js"

export const EvidenceSource = Schema.Struct({
  /** Container id (docker runtime), or `inprocess`. */
  container: Schema.String,
  /** The engine's RFC 3339 timestamp of the line (nanoseconds), when it came from container logs. */
  ts: Schema.optional(Schema.String)
})
export type EvidenceSource = typeof EvidenceSource.Type

export const EvidenceRecord = Schema.Struct({
  ...HoneypotEvent.fields,
  raw_line: Schema.String,
  source: Schema.optional(EvidenceSource)
}).annotations({ identifier: "EvidenceRecord" })
export type EvidenceRecord = typeof EvidenceRecord.Type

/** The JSON text of a record, one line. */
export const EvidenceRecordJson = Schema.parseJson(EvidenceRecord)

/** `decnet.log` → `{ log: decnet.log, json: decnet.json }` (spec logging §1.3: the suffix replaced). */
export const evidencePaths = (base: string): { readonly log: string; readonly json: string } => {
  const slash = base.lastIndexOf("/")
  const dot = base.lastIndexOf(".")
  const stem = dot > slash ? base.slice(0, dot) : base
  return { log: base, json: `${stem}.json` }
}

const MIN_TIME = Date.UTC(1970, 0, 1)
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
// HoneypotEvent's header tokens: printable ASCII without space, bounded.
const TOKEN = /^[\x21-\x7e]+$/
const token = (v: unknown, max: number): v is string =>
  typeof v === "string" && v.length >= 1 && v.length <= max && TOKEN.test(v)

export const isPlainObject = (v: unknown): v is Readonly<Record<string, unknown>> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** EventFields' check: an object whose every own key is a field name holding a string. */
export const isFields = (v: unknown): v is Readonly<Record<string, string>> => {
  if (!isPlainObject(v)) return false
  for (const key of Object.keys(v)) if (!isFieldName(key) || typeof v[key] !== "string") return false
  return true
}

/**
 * HoneypotEvent's checks on everything but `timestamp` (given as its epoch ms) and `fields`: what the
 * collector's `isHoneypotEvent` and the ingester's direct decode (ingester/Rows.ts) both need.
 */
export const isEventHeader = (e: Readonly<Record<string, unknown>>, ms: number): boolean => {
  const { attacker_port: port, severity, attacker_ip } = e
  return (
    ms >= MIN_TIME &&
    ms <= MAX_TIME &&
    token(e.decky, 255) &&
    token(e.service, 48) &&
    token(e.event_type, 32) &&
    typeof attacker_ip === "string" &&
    attacker_ip !== "" &&
    (port === null || (typeof port === "number" && Number.isInteger(port) && port >= 0 && port <= 65535)) &&
    typeof e.msg === "string" &&
    typeof severity === "number" &&
    Number.isInteger(severity) &&
    severity >= 0 &&
    severity <= 7
  )
}

/**
 * `Schema.is(HoneypotEvent)` without the Schema: the collector's check of every parsed line, ~20× cheaper.
 * test/collector/record.test.ts holds it to the Schema, hostile values included.
 */
export const isHoneypotEvent = (e: unknown): e is HoneypotEvent =>
  isPlainObject(e) &&
  isEventHeader(e, e.timestamp instanceof Date ? e.timestamp.getTime() : Number.NaN) &&
  isFields(e.fields)

const encodeRecordJson = Schema.encodeSync(EvidenceRecordJson)

const sourceJson = (s: EvidenceSource) =>
  s.ts === undefined ? { container: s.container } : { container: s.container, ts: s.ts }

/**
 * A record's `.json` line (without the newline): exactly `EvidenceRecordJson`'s encoding, built directly
 * when the record is valid (a Schema encode costs ~12 µs a record, the collector's largest cost); anything
 * else goes through the Schema, which throws saying why. test/collector/record.test.ts holds the two equal.
 */
export const recordJson = (r: EvidenceRecord): string => {
  const source: unknown = r.source
  if (
    !isHoneypotEvent(r) ||
    typeof r.raw_line !== "string" ||
    (source !== undefined &&
      (!isPlainObject(source) ||
        typeof source.container !== "string" ||
        (source.ts !== undefined && typeof source.ts !== "string")))
  )
    return encodeRecordJson(r)
  // A copy of the fields' own entries, as the Schema's Record encoding makes one.
  const fields: Record<string, string> = {}
  for (const [key, value] of Object.entries(r.fields)) fields[key] = value
  return JSON.stringify({
    timestamp: r.timestamp.toISOString(),
    decky: r.decky,
    service: r.service,
    event_type: r.event_type,
    attacker_ip: r.attacker_ip,
    attacker_port: r.attacker_port,
    fields,
    msg: r.msg,
    severity: r.severity,
    raw_line: r.raw_line,
    source: r.source === undefined ? undefined : sourceJson(r.source)
  })
}
