/** The mssql honeypot's events (spec/honeypots.md §17). */
import { Schema } from "effect"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const mssqlEvents = defineEvents("mssql", {
  connect: {},
  /**
   * A decoded LOGIN7. The secret fields are there only when a password was sent (it is de-obfuscated:
   * plaintext); the other LOGIN7 strings come as the client sent them.
   */
  auth: {
    username: Sd.Text,
    principal: Sd.NullableText,
    secret_printable: Sd.optional(Sd.Text),
    secret_b64: Sd.optional(Sd.Text),
    secret_kind: Schema.optional(Sd.Literal("plaintext")),
    hostname: Sd.Text,
    app_name: Sd.Text,
    server_name: Sd.Text,
    database: Sd.Text,
    library: Sd.Text,
    /** `0x…`, the TDS version the client asked for. */
    tds_version: Sd.Text
  },
  /** A TDS message that is neither PRELOGIN nor LOGIN7 (`pkt_type` `0x..`); the connection closes. */
  unknown_packet: { pkt_type: Sd.Text },
  /** WARNING: a LOGIN7 shorter than its fixed part; the connection closes. */
  error: {},
  disconnect: {}
})

export type MssqlEvent = EventsOf<typeof mssqlEvents>
