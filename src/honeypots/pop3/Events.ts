/** The pop3 honeypot's events (spec/honeypots.md §12). */
import { mailAuthFields } from "../mail/index.js"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const pop3Events = defineEvents("pop3", {
  /** A client connected (on 995, once TLS is up). */
  connect: {},
  /**
   * One per command line, at most 500 per connection (the rest are counted on `disconnect`). PASS's
   * argument is blanked: the secret appears only in `auth`. `state`: RFC 1939's session state.
   */
  command: { cmd: Sd.Text, args: Sd.Text, state: Sd.Literal("authorization", "transaction") },
  /** USER/PASS or AUTH PLAIN/LOGIN checked against `users` (WARNING when it fails). */
  auth: mailAuthFields("USER", "PLAIN", "LOGIN"),
  /** RETR of a message. */
  retr: { message_num: Sd.Int },
  /** A message marked by DELE, logged at QUIT (when POP3 commits deletions). */
  delete: { message_num: Sd.Int },
  /** The connection ended, however it ended. */
  disconnect: { commands_suppressed: Sd.Int }
})

export type Pop3Event = EventsOf<typeof pop3Events>
