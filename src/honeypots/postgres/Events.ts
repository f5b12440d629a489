/** The postgres honeypot's events (spec/honeypots.md §16). */
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const postgresEvents = defineEvents("postgres", {
  connect: {},
  /**
   * The client's StartupMessage (the spec's `startup`, renamed: `startup` is the runtime's "service
   * came up" event). `database` defaults to the user, as the server does.
   */
  startup_message: { username: Sd.Text, database: Sd.Text, application_name: Sd.Text },
  /**
   * The PasswordMessage. An `md5…` answer carries `pw_hash` and `salt` (hex) and `secret_b64` holds
   * the 16 hash bytes; anything else is a cleartext password.
   */
  auth: {
    username: Sd.Text,
    database: Sd.Text,
    pw_hash: Sd.optional(Sd.Text),
    principal: Sd.NullableText,
    secret_printable: Sd.Text,
    secret_b64: Sd.Text,
    secret_kind: Sd.Literal("postgres_md5_challenge", "plaintext"),
    salt: Sd.optional(Sd.Text)
  },
  /** WARNING: a startup packet that does not parse (unsupported protocol, unterminated parameter). */
  error: {},
  disconnect: {}
})

export type PostgresEvent = EventsOf<typeof postgresEvents>
