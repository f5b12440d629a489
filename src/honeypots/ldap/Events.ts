/** The ldap honeypot's events (spec/honeypots.md §13). */
import { Schema } from "effect"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const ldapEvents = defineEvents("ldap", {
  /** `tls`: the LDAPS listener (636); a StartTLS upgrade on 389 comes later and is not re-logged. */
  connect: { tls: Sd.Bool },
  /**
   * A BindRequest. `principal` is the DN; the secret fields are there only when a simple-bind
   * password was sent (SASL and anonymous binds carry none).
   */
  bind: {
    dn: Sd.Text,
    version: Sd.Int,
    auth: Sd.Literal("simple", "sasl"),
    sasl_mechanism: Sd.Text,
    principal: Sd.NullableText,
    secret_printable: Sd.optional(Sd.Text),
    secret_b64: Sd.optional(Sd.Text),
    secret_kind: Schema.optional(Sd.Literal("plaintext"))
  },
  /** A SearchRequest: `filter` in RFC 4515 string form, `attributes` the requested list (JSON). */
  search: {
    base: Sd.Text,
    scope: Sd.Int,
    filter: Sd.Text,
    attributes: Sd.Json(Schema.Array(Schema.String))
  },
  /** WARNING: not a BER LDAPMessage, or one that does not decode (msg says which); the connection closes. */
  error: {},
  disconnect: {}
})

export type LdapEvent = EventsOf<typeof ldapEvents>
