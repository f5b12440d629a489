/**
 * The ingester's hot path, one record per line: JSON line → EvidenceRecord → `logs` row. Both directions
 * have a direct form beside the Schema, because a Schema decode and encode cost ~30 µs a row, several
 * times the insert itself. Each direct form accepts only what its Schema accepts and produces exactly what
 * its Schema produces (test/ingester/rows.test.ts holds them to it, hostile input included); anything
 * the direct decode does not accept goes through the Schema, which says why.
 */
import { Either, type ParseResult, Schema } from "effect"
import {
  type EvidenceRecord,
  EvidenceRecordJson,
  isEventHeader,
  isFields,
  isPlainObject
} from "../collector/Record.js"
import { formatUtc } from "../db/Columns.js"
import type { SqlValue } from "../db/Upsert.js"
import type { HoneypotEvent } from "../logging/HoneypotEvent.js"

const isSeverity = (v: unknown): v is HoneypotEvent["severity"] =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 7

const sourceOf = (v: unknown): EvidenceRecord["source"] | null => {
  if (!isPlainObject(v) || typeof v.container !== "string") return null
  if (v.ts === undefined)
    return "ts" in v ? { container: v.container, ts: undefined } : { container: v.container }
  return typeof v.ts === "string" ? { container: v.container, ts: v.ts } : null
}

/** The record in a parsed JSON value, when it is one without doubt; undefined leaves it to the Schema. */
export const directRecord = (v: unknown): EvidenceRecord | undefined => {
  if (!isPlainObject(v)) return undefined
  const { timestamp, attacker_port: port, severity } = v
  if (typeof timestamp !== "string") return undefined
  const time = new Date(timestamp)
  // The header as HoneypotEvent checks it (shared with the collector's isHoneypotEvent).
  if (!isEventHeader(v, time.getTime())) return undefined
  if (typeof v.raw_line !== "string") return undefined
  const { decky, service, event_type, attacker_ip, msg } = v
  if (
    typeof decky !== "string" ||
    typeof service !== "string" ||
    typeof event_type !== "string" ||
    typeof attacker_ip !== "string" ||
    typeof msg !== "string" ||
    (port !== null && typeof port !== "number") ||
    !isSeverity(severity)
  )
    return undefined
  // EventFields as the Schema decodes them. The parsed object is used as it is, not copied (JSON.parse
  // made it and nothing else holds it); an own `__proto__` key, which JSON.parse can make, is not a field
  // name, so such a line goes to the Schema.
  const fields = v.fields
  if (!isFields(fields)) return undefined
  if (!("source" in v))
    return {
      timestamp: time,
      decky,
      service,
      event_type,
      attacker_ip,
      attacker_port: port,
      fields,
      msg,
      severity,
      raw_line: v.raw_line
    }
  const source = sourceOf(v.source)
  if (source === null) return undefined
  return {
    timestamp: time,
    decky,
    service,
    event_type,
    attacker_ip,
    attacker_port: port,
    fields,
    msg,
    severity,
    raw_line: v.raw_line,
    source
  }
}

const decodeJson = Schema.decodeUnknownEither(EvidenceRecordJson)

/** One line of the `.json` file as a record; the Schema's error when it is not one. */
export const decodeRecordLine = (line: string): Either.Either<EvidenceRecord, ParseResult.ParseError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return decodeJson(line)
  }
  const direct = directRecord(parsed)
  return direct === undefined ? decodeJson(line) : Either.right(direct)
}

/** The `logs` columns `logRow` fills, in its order (LogEntry's). */
export const LOG_ROW_COLUMNS = [
  "timestamp",
  "decky",
  "service",
  "event_type",
  "attacker_ip",
  "attacker_port",
  "fields",
  "msg",
  "severity",
  "raw_line",
  "trace_id",
  "span_id"
] as const

/**
 * A record as its `logs` row, in LogEntry's column order and encodings (db/Rows.ts): naive-UTC time,
 * fields as JSON text, NULL for no message, no trace ids.
 */
export const logRow = (r: EvidenceRecord): Readonly<Record<string, SqlValue>> => ({
  timestamp: formatUtc(r.timestamp),
  decky: r.decky,
  service: r.service,
  event_type: r.event_type,
  attacker_ip: r.attacker_ip,
  attacker_port: r.attacker_port,
  fields: JSON.stringify(r.fields),
  msg: r.msg === "" ? null : r.msg,
  severity: r.severity,
  raw_line: r.raw_line,
  trace_id: null,
  span_id: null
})

/**
 * `logRow(r)`'s values in LOG_ROW_COLUMNS order, appended to `out`: the ingester's INSERT binds them as
 * they are, without a row object per record (test/ingester/rows.test.ts holds the two equal).
 */
export const pushLogRowValues = (r: EvidenceRecord, out: Array<SqlValue>): void => {
  out.push(
    formatUtc(r.timestamp),
    r.decky,
    r.service,
    r.event_type,
    r.attacker_ip,
    r.attacker_port,
    JSON.stringify(r.fields),
    r.msg === "" ? null : r.msg,
    r.severity,
    r.raw_line,
    null,
    null
  )
}
