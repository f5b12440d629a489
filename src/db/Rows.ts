// Row shapes of the repositories in this folder. One Schema per shape: the same Schema decodes the
// row, and later serves as the API body, bus payload and CLI --json of that thing.
import { Schema } from "effect"
import { EventFields, HoneypotEvent } from "../logging/HoneypotEvent.js"
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

/** `msg` sits in a nullable column; the event's "no message" is the empty string. */
const MsgColumn = Schema.transform(Schema.NullOr(Schema.String), Schema.String, {
  strict: true,
  decode: (m) => m ?? "",
  encode: (m) => (m === "" ? null : m)
})

/**
 * A HoneypotEvent as the `logs` table holds it: the event's own fields with their column encodings
 * (naive-UTC DATETIME, `fields` as JSON text, NULL for no message), plus the raw line and trace ids.
 * Its Type is a HoneypotEvent plus those columns; nothing else describes a log row.
 */
export const LogEntry = Schema.Struct({
  ...HoneypotEvent.fields,
  timestamp: UtcDateTime,
  fields: Schema.parseJson(EventFields),
  msg: MsgColumn,
  raw_line: Schema.String,
  trace_id: Schema.NullOr(Schema.String),
  span_id: Schema.NullOr(Schema.String)
})

/** A stored `logs` row: a LogEntry with its id. The API item and the CLI `--json` row (spec §5.3). */
export class LogRow extends Schema.Class<LogRow>("LogRow")({ id: Schema.Number, ...LogEntry.fields }) {}

/** What a writer hands to LogRepo.addLogs: a parsed event, its raw line, and optional trace ids. */
export type NewLog = HoneypotEvent & {
  readonly raw_line: string
  readonly trace_id?: string | null | undefined
  readonly span_id?: string | null | undefined
}

// A LogRow is a HoneypotEvent: this fails to compile the day the two drift apart.
const _logRowIsEvent = (row: LogRow): HoneypotEvent => row
void _logRowIsEvent

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
