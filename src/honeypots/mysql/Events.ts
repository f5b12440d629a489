/** The mysql honeypot's events (spec/honeypots.md §15). */
import { Schema } from "effect"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const mysqlEvents = defineEvents("mysql", {
  /** `connection_id`: the id the Handshake V10 announces (per instance, from a seeded base). */
  connect: { connection_id: Sd.Int },
  /**
   * WARNING: the HandshakeResponse41 did not parse (pre-4.1 client, truncated, no user); msg says
   * which. The client gets ER_HANDSHAKE_ERROR (Bad handshake) and the connection closes.
   */
  error: { connection_id: Sd.Int },
  /**
   * The login, logged once when it ends (refused, or the client left). The secret is the best the
   * client gave: `plaintext` (caching_sha2_password full authentication: in TLS, or RSA-encrypted to the
   * decky's key), else `mysql_native_password` (hex of the 20-byte scramble response, crackable with
   * `scramble`), else `hash` (the 32-byte caching_sha2_password scramble). `native_response` keeps the
   * native response when a plaintext was also captured. `tls`: the login went through TLS.
   */
  auth: {
    username: Sd.Text,
    connection_id: Sd.Int,
    principal: Sd.NullableText,
    secret_printable: Sd.optional(Sd.Text),
    secret_b64: Sd.optional(Sd.Text),
    secret_kind: Schema.optional(Sd.Literal("plaintext", "mysql_native_password", "hash")),
    native_response: Sd.optional(Sd.Text),
    tls: Sd.Bool,
    scramble: Sd.Text,
    database: Sd.Text,
    client_plugin: Sd.Text,
    client_attrs: Sd.Json(Schema.Record({ key: Schema.String, value: Schema.String }))
  },
  disconnect: {}
})

export type MysqlEvent = EventsOf<typeof mysqlEvents>
