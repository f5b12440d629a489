/** The ssh honeypot's config (the catalog's ssh form offers exactly these keys). */
import { ParseResult, Schema } from "effect"
import { MAX_BUFFERED_UPLOAD_BYTES } from "./Capture.js"
import { PERSONA_VERSIONS, UBUNTU_22_04 } from "./Persona.js"

const Millis = Schema.Int.pipe(Schema.between(0, 60_000))
const DelayTuple = Schema.Tuple(Millis, Millis)

/** `[min, max]`, or the catalog form's text `"min,max"`. */
const DelayRange = Schema.Union(
  DelayTuple,
  Schema.transformOrFail(Schema.String, DelayTuple, {
    strict: true,
    decode: (text, _, ast) => {
      const m = /^\s*(\d+)\s*[,-]\s*(\d+)\s*$/.exec(text)
      return m === null
        ? ParseResult.fail(
            new ParseResult.Type(ast, text, `expected "min,max" in milliseconds, got "${text}"`)
          )
        : ParseResult.succeed([Number(m[1]), Number(m[2])] as const)
    },
    encode: ([min, max]) => ParseResult.succeed(`${min},${max}`)
  })
)

export const SshConfig = Schema.Struct({
  /** Root password (`SSH_ROOT_PASSWORD`). */
  password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  /** The extra sudo user (`SSH_USER`) and its password. */
  user: Schema.optionalWith(Schema.String, { default: () => "ubuntu" }),
  user_password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  hostname: Schema.optional(Schema.String),
  /**
   * Software version after `SSH-2.0-`: one of the OpenSSH releases in Persona.ts, whose KEXINIT and
   * EXT_INFO the decky then sends (a version whose lists we do not know would give the decky away).
   */
  version: Schema.optionalWith(Schema.Literal(...PERSONA_VERSIONS), { default: () => UBUNTU_22_04.version }),
  /** Pre-auth banner text (sshd `Banner`); none by default, like a stock Ubuntu. */
  banner: Schema.optional(Schema.String),
  /** Offer keyboard-interactive (sshd KbdInteractiveAuthentication); more clients then reveal a password. */
  keyboard_interactive: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /**
   * Milliseconds a failed password or keyboard-interactive try is held before the refusal, drawn per
   * try from [min, max] by the decky's seeded Random: pam_unix's 2 s failure delay as sshd with PAM
   * shows it (~2-3 s). A sleep on the connection's fiber, no CPU.
   */
  auth_failure_delay_ms: Schema.optionalWith(DelayRange, { default: () => [2000, 3000] as const }),
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
