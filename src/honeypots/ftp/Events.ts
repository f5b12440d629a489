/** The ftp honeypot's events (spec/honeypots.md §5, plus the upload quarantine and bounce detection). */
import { Schema } from "effect"
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

/** The commands that upload (RFC 959 §4.1.3). */
const UploadCommand = Sd.Literal("STOR", "STOU", "APPE")

export const ftpEvents = defineEvents("ftp", {
  connection: {},
  /** USER (before the password; the name as sent). */
  user: { username: Sd.Text },
  /** WARNING. PASS after USER, with the persona's verdict (`login_mode` / `login_success_rate`). */
  auth_attempt: {
    username: Sd.Text,
    ...CredentialEventFields,
    secret_kind: Sd.Literal("plaintext"),
    outcome: Sd.Literal("success", "failure")
  },
  /** RETR after login: the resolved path, and whether it is a bait file (own uploads are not readable). */
  download_attempt: { path: Sd.Text, found: Sd.Bool },
  /** STOR/STOU/APPE after login, before any transfer: the resolved target. */
  upload_attempt: { path: Sd.Text, command: UploadCommand },
  /** An upload kept in the quarantine as `stored_as`; `complete` is false when the transfer broke. */
  file_captured: {
    stored_as: Sd.Text,
    sha256: Sd.Text,
    size: Sd.Int,
    orig_path: Sd.Text,
    ftp_user: Sd.Text,
    command: UploadCommand,
    complete: Sd.Bool
  },
  /**
   * An upload refused (552) or cut and discarded. `size` is what arrived first (0 when refused up
   * front). By reason: `too_large` → `max_bytes`; `quota` → `quota`, `limit`; `disk_full` →
   * `free_bytes`, `floor_bytes`.
   */
  file_skipped: {
    orig_path: Sd.Text,
    size: Sd.Int,
    reason: Sd.Literal("too_large", "quota", "disk_full"),
    max_bytes: Sd.optional(Sd.Int),
    quota: Schema.optional(Sd.Literal("session_bytes", "session_files", "instance_bytes", "instance_files")),
    limit: Sd.optional(Sd.Int),
    free_bytes: Sd.optional(Sd.Int),
    floor_bytes: Sd.optional(Sd.Int),
    ftp_user: Sd.Text,
    command: UploadCommand
  },
  /**
   * PORT/EPRT naming a host other than the client's own (FTP bounce, RFC 2577 §3): refused, never
   * connected to. `target_ip`/`target_port` are the third party the client asked for, not the peer.
   */
  bounce_attempt: { command: Sd.Literal("PORT", "EPRT"), target_ip: Sd.Text, target_port: Sd.Int },
  /** `unknown_commands`: commands the persona did not recognise. */
  disconnect: { unknown_commands: Sd.Int }
})

export type FtpEvent = EventsOf<typeof ftpEvents>
