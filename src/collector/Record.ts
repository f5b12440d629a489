/**
 * One evidence record of the `.json` stream the ingester reads: a HoneypotEvent, its raw RFC 5424 line,
 * and where it came from (the container and the engine's timestamp of the line, so a restarted
 * collector resumes exactly after the last line it wrote). The `.log` file beside it holds raw lines.
 */
import { Schema } from "effect"
import { HoneypotEvent } from "../logging/HoneypotEvent.js"

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
