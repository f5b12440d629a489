/** The imap honeypot's events (spec/honeypots.md §11). */
import { mailAuthFields } from "../mail/index.js"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const imapEvents = defineEvents("imap", {
  /** A client connected (on 993, once TLS is up). */
  connect: {},
  /**
   * One per command line, at most 500 per connection (the rest are counted on `disconnect`). `args`
   * is at most 256 characters; LOGIN keeps only the user name and AUTHENTICATE only the mechanism, so
   * secrets appear only in `auth`. `state`: the RFC 3501 §3 state the command arrived in.
   */
  command: {
    cmd: Sd.Text,
    args: Sd.Text,
    state: Sd.Literal("not_authenticated", "authenticated", "selected")
  },
  /** LOGIN or AUTHENTICATE PLAIN/LOGIN checked against `users` (WARNING when it fails). */
  auth: mailAuthFields("LOGIN", "PLAIN"),
  /** The connection ended, however it ended. */
  disconnect: { commands_suppressed: Sd.Int }
})

export type ImapEvent = EventsOf<typeof imapEvents>
