/**
 * The honeypot event: the one record every emulator emits and every consumer reads (collector,
 * ingester, bounty extraction, API, dashboard, intel). Its wire form is the RFC 5424 line of
 * spec/logging-and-config.md §1.1 (`HoneypotEventLine`); the `logs` row (db/Rows.ts) and the bus
 * `system.log` payload (`SystemLogPayload`) are derived from this Schema.
 */
import { ParseResult, Schema } from "effect"
import { decodeEventLine } from "./Parser.js"
import {
  escapeMsg,
  escapeSdValue,
  FACILITY_LOCAL0,
  formatTimestamp,
  isFieldName,
  PEER_FIELDS,
  SD_ID,
  UNKNOWN_IP
} from "./Rfc5424.js"

const token = (name: string, max: number) =>
  Schema.String.pipe(
    Schema.pattern(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`), {
      message: () => `${name} must be 1-${max} printable ASCII characters without spaces`
    })
  ).annotations({ identifier: name })

/** HOSTNAME: the decky name. */
export const DeckyName = token("DeckyName", 255)
/** APP-NAME: the service slug (`ssh`, `smtp_relay`, `prober`…). */
export const ServiceName = token("ServiceName", 48)
/** MSGID: the event type. */
export const EventType = token("EventType", 32)

/** An SD-PARAM name as parsers read it (`isFieldName`): 1-32 of `[A-Za-z0-9_]`, not a peer field. */
export const FieldName = Schema.String.pipe(
  Schema.filter(
    (name) =>
      isFieldName(name) ||
      `"${name}" is not a field name (1-32 of [A-Za-z0-9_], not ${PEER_FIELDS.join("/")}, not __proto__)`
  )
).annotations({ identifier: "FieldName" })

/**
 * The event's own fields, as the SD element carries them: name → text. A key that is not a FieldName
 * is an error, not silently dropped (a Record's default for keys its key Schema refuses).
 */
export const EventFields = Schema.Record({ key: FieldName, value: Schema.String }).annotations({
  parseOptions: { onExcessProperty: "error" }
})
export type EventFields = typeof EventFields.Type

export const PortNumber = Schema.Int.pipe(Schema.between(0, 65535))

export const EventSeverity = Schema.Literal(0, 1, 2, 3, 4, 5, 6, 7)

const MIN_TIME = Date.UTC(1970, 0, 1)
const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** The event time: millisecond precision, 1970–9999 (what every DATETIME column can hold). */
export const EventTime = Schema.Date.pipe(
  Schema.filter(
    (d) => (d.getTime() >= MIN_TIME && d.getTime() <= MAX_TIME) || "the event time must be in 1970-9999"
  )
)

export const HoneypotEvent = Schema.Struct({
  timestamp: EventTime,
  decky: DeckyName,
  service: ServiceName,
  event_type: EventType,
  /** The peer's address (`src_ip`), or `Unknown`. */
  attacker_ip: Schema.NonEmptyString,
  /** The peer's port (`src_port`), or null (no peer, or an aggregate over many connections). */
  attacker_port: Schema.NullOr(PortNumber),
  fields: EventFields,
  /** Free text after the SD element; empty when there is none. */
  msg: Schema.String,
  severity: EventSeverity
}).annotations({ identifier: "HoneypotEvent" })
export type HoneypotEvent = typeof HoneypotEvent.Type

/**
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [relay@55555 src_ip=".." src_port=".." k="v"…] MSG`.
 * The SD element is always present, empty for an event with neither peer nor fields: that is how a
 * parser tells a DECNET line from a foreign one (whose peer it has to guess). A valid HoneypotEvent's
 * header fields are already tokens, so nothing here truncates or replaces.
 */
export const encodeEventLine = (event: HoneypotEvent): string => {
  let sd = `[${SD_ID}`
  if (event.attacker_ip !== UNKNOWN_IP) sd += ` src_ip="${escapeSdValue(event.attacker_ip)}"`
  if (event.attacker_port !== null) sd += ` src_port="${event.attacker_port}"`
  for (const key in event.fields) sd += ` ${key}="${escapeSdValue(event.fields[key] ?? "")}"`
  sd += "]"
  const msg = event.msg === "" ? "" : ` ${escapeMsg(event.msg)}`
  return `<${FACILITY_LOCAL0 * 8 + event.severity}>1 ${formatTimestamp(event.timestamp)} ${event.decky} ${
    event.service
  } - ${event.event_type} ${sd}${msg}`
}

const EventType_ = Schema.typeSchema(HoneypotEvent)

/**
 * The RFC 5424 line ⇄ HoneypotEvent. Decoding is the parser (Parser.ts): the peer comes from
 * `src_ip`/`src_port`, and only a foreign line (no `relay@55555` element) has its address guessed.
 * A line that is not RFC 5424, or whose timestamp is not ISO-8601, does not decode.
 */
export const HoneypotEventLine = Schema.transformOrFail(Schema.String, EventType_, {
  strict: true,
  decode: (line, _, ast) => {
    const event = decodeEventLine(line)
    return event === undefined
      ? ParseResult.fail(
          new ParseResult.Type(ast, line, "not an RFC 5424 event line with an ISO-8601 timestamp")
        )
      : ParseResult.succeed(event)
  },
  encode: (event) => ParseResult.succeed(encodeEventLine(event))
}).annotations({ identifier: "HoneypotEventLine" })

/** The bus `system.log` payload the collector publishes per event (spec/bus.md, workers §4.5). */
export const SystemLogPayload = HoneypotEvent.pipe(
  Schema.pick("decky", "service", "event_type", "attacker_ip", "timestamp")
).annotations({ identifier: "SystemLogPayload" })
export type SystemLogPayload = typeof SystemLogPayload.Type
