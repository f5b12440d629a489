/** The ssh honeypot's config (the catalog's ssh form offers exactly these keys). */
import { Schema } from "effect"
import { MAX_BUFFERED_UPLOAD_BYTES } from "./Capture.js"

export const SshConfig = Schema.Struct({
  /** Root password (`SSH_ROOT_PASSWORD`). */
  password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  /** The extra sudo user (`SSH_USER`) and its password. */
  user: Schema.optionalWith(Schema.String, { default: () => "ubuntu" }),
  user_password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  hostname: Schema.optional(Schema.String),
  /** Software version after `SSH-2.0-`. */
  version: Schema.optionalWith(Schema.String, { default: () => "OpenSSH_8.9p1 Ubuntu-3ubuntu0.4" }),
  /** Pre-auth banner text (sshd `Banner`); none by default, like a stock Ubuntu. */
  banner: Schema.optional(Schema.String),
  /** Offer keyboard-interactive (sshd KbdInteractiveAuthentication); more clients then reveal a password. */
  keyboard_interactive: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Accept any password on the Nth try of a connection (0 = never; only the configured ones work). */
  accept_any_after: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /**
   * MiB of upload write-behind (bytes received and not yet on disk) this instance may hold at once,
   * over all sessions (see Capture.ts).
   */
  upload_buffer_mb: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 4096)), {
    default: () => MAX_BUFFERED_UPLOAD_BYTES / (1024 * 1024)
  })
})
export type SshConfig = typeof SshConfig.Type
