/** The telnet honeypot's events (spec/honeypots.md §2). */
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"
import { CommandEventFields, SessionRecordedFields } from "../shell/Events.js"

export const telnetEvents = defineEvents("telnet", {
  /**
   * A client connected. Not in the original (where only PAM logged, so a scanner that never finished a
   * login left no trace); every touch is an event here.
   */
  connect: {},
  /** One per `login:`/`Password:` pair (/bin/login's try), whether it succeeds or not. */
  auth_attempt: { username: Sd.Text, ...CredentialEventFields },
  /** One per line entered in the shell after login, up to a bound per connection. */
  command: CommandEventFields,
  /** The session's asciicast was saved (on logout, disconnect or when the runtime cut it). */
  session_recorded: SessionRecordedFields
})

export type TelnetEvent = EventsOf<typeof telnetEvents>
