/** The smb honeypot's events (spec/honeypots.md §7). */
import { NtlmAuthFields } from "../ntlm/index.js"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const smbEvents = defineEvents("smb", {
  /** A client connected to 445 or 139, before its first frame. */
  connection: {},
  /**
   * An NTLMSSP AUTHENTICATE in SESSION_SETUP with a crackable response (always answered
   * STATUS_LOGON_FAILURE). `dialect`: the SMB2 dialect negotiated, e.g. `3.11`.
   */
  auth_attempt: { ...NtlmAuthFields, dialect: Sd.Text },
  /**
   * WARNING, msg only: what ended the exchange (bad NBSS frame, SMB1-only NEGOTIATE, no common
   * dialect, short SESSION_SETUP, anonymous or malformed AUTHENTICATE). At most one per connection.
   */
  error: {},
  /** The connection ended, however it ended. */
  disconnect: {}
})

export type SmbEvent = EventsOf<typeof smbEvents>
