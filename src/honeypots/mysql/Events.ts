/** The mysql honeypot's events (spec/honeypots.md §15). */
import { Schema } from "effect"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const mysqlEvents = defineEvents("mysql", {
  /** `connection_id`: the id the Handshake V10 announces (per instance, from a seeded base). */
  connect: { connection_id: Sd.Int },
  /**
   * WARNING: the HandshakeResponse41 did not parse (SSLRequest, pre-4.1 client, truncated); msg says
   * which. The connection closes.
   */
  error: { connection_id: Sd.Int },
  /**
   * The HandshakeResponse41. The secret fields are there only when the client sent an auth response
   * (hex of the 20-byte scramble response, `secret_b64` its raw bytes); `scramble` is the salt.
   */
  auth: {
    username: Sd.Text,
    connection_id: Sd.Int,
    principal: Sd.NullableText,
    secret_printable: Sd.optional(Sd.Text),
    secret_b64: Sd.optional(Sd.Text),
    secret_kind: Schema.optional(Sd.Literal("mysql_native_password")),
    scramble: Sd.Text,
    database: Sd.Text,
    client_plugin: Sd.Text,
    client_attrs: Sd.Json(Schema.Record({ key: Schema.String, value: Schema.String }))
  },
  disconnect: {}
})

export type MysqlEvent = EventsOf<typeof mysqlEvents>
