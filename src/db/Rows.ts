// Row shapes of the repositories in this folder. One Schema per shape: the same Schema decodes the
// row, and later serves as the API body, bus payload and CLI --json of that thing.
import { Schema } from "effect"
import { JsonText, SqlBool, UtcDateTime } from "./Columns.js"

/** A `users` row. password_hash is a bcrypt hash, never a password. */
export class User extends Schema.Class<User>("User")({
  uuid: Schema.String,
  username: Schema.String,
  password_hash: Schema.String,
  role: Schema.String,
  must_change_password: SqlBool,
  tokens_valid_from: Schema.NullOr(UtcDateTime)
}) {}

/** A `logs` row. `fields` stays JSON text: the API returns it still encoded (spec §5.3). */
export class LogRow extends Schema.Class<LogRow>("LogRow")({
  id: Schema.Number,
  timestamp: UtcDateTime,
  decky: Schema.String,
  service: Schema.String,
  event_type: Schema.String,
  attacker_ip: Schema.String,
  raw_line: Schema.String,
  fields: Schema.String,
  msg: Schema.NullOr(Schema.String),
  trace_id: Schema.NullOr(Schema.String),
  span_id: Schema.NullOr(Schema.String)
}) {}

/** What a writer hands to LogRepo.addLog: fields as an object (encoded here) or ready JSON text. */
export const NewLog = Schema.Struct({
  timestamp: Schema.optional(Schema.DateFromSelf),
  decky: Schema.String,
  service: Schema.String,
  event_type: Schema.String,
  attacker_ip: Schema.String,
  raw_line: Schema.String,
  fields: Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  msg: Schema.optional(Schema.NullOr(Schema.String)),
  trace_id: Schema.optional(Schema.NullOr(Schema.String)),
  span_id: Schema.optional(Schema.NullOr(Schema.String))
})
export type NewLog = typeof NewLog.Type

export const DeckyState = Schema.String
/** A `fleet_deckies` row: services and decky_config are JSON text columns decoded on read. */
export class FleetDecky extends Schema.Class<FleetDecky>("FleetDecky")({
  host_uuid: Schema.String,
  name: Schema.String,
  services: JsonText.pipe(Schema.compose(Schema.Array(Schema.String))),
  decky_config: Schema.NullOr(JsonText),
  decky_ip: Schema.NullOr(Schema.String),
  state: DeckyState,
  last_error: Schema.NullOr(Schema.String),
  compose_hash: Schema.NullOr(Schema.String),
  last_seen: Schema.NullOr(UtcDateTime),
  updated_at: UtcDateTime
}) {}

/** Input of FleetRepo.upsert; unset optional columns take their defaults. */
export const FleetDeckyInput = Schema.Struct({
  host_uuid: Schema.optional(Schema.String),
  name: Schema.String,
  services: Schema.optional(Schema.Array(Schema.String)),
  decky_config: Schema.optional(Schema.NullOr(Schema.Unknown)),
  decky_ip: Schema.optional(Schema.NullOr(Schema.String)),
  state: Schema.optional(DeckyState),
  last_error: Schema.optional(Schema.NullOr(Schema.String)),
  compose_hash: Schema.optional(Schema.NullOr(Schema.String)),
  last_seen: Schema.optional(Schema.NullOr(Schema.DateFromSelf))
})
export type FleetDeckyInput = typeof FleetDeckyInput.Type
