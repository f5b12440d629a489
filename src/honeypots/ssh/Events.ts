/** The ssh honeypot's events (spec/honeypots.md §1). */
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"
import { CommandEventFields, SessionRecordedFields } from "../shell/Events.js"

export const sshEvents = defineEvents("ssh", {
  /**
   * Every password, keyboard-interactive and public-key try, accepted or not. A public key carries its
   * algorithm and SHA256 fingerprint (also its `secret_printable`; `secret_b64` is the key blob).
   */
  auth_attempt: {
    username: Sd.Text,
    ...CredentialEventFields,
    key_algo: Sd.optional(Sd.Text),
    fingerprint: Sd.optional(Sd.Text),
    method: Sd.Literal("password", "keyboard-interactive", "publickey")
  },
  /** One per shell line or exec command (scp/SFTP transfers too), up to a bound per connection. */
  command: CommandEventFields,
  /** A pty shell session ended (logout, disconnect or a runtime cut) and its asciicast was saved. */
  session_recorded: SessionRecordedFields,
  /** An scp/SFTP upload completed and was quarantined as `stored_as`. */
  file_captured: {
    stored_as: Sd.Text,
    sha256: Sd.Text,
    size: Sd.Int,
    orig_path: Sd.Text,
    ssh_user: Sd.Text
  },
  /**
   * An upload was not stored: over the per-file cap (`too_large`) or past the instance's in-memory
   * budget (`buffer_full`). `size` is what had arrived.
   */
  file_skipped: {
    orig_path: Sd.Text,
    ssh_user: Sd.Text,
    size: Sd.Int,
    reason: Sd.Literal("too_large", "buffer_full")
  }
})

export type SshEvent = EventsOf<typeof sshEvents>
