/**
 * The events both shell transports (ssh, telnet) emit with the same fields: one `command` per line the
 * attacker entered, and one `session_recorded` per saved asciicast. Each service spreads these fields
 * into its own `defineEvents`, so the helpers below accept either service's emitter.
 */
import { ParseResult, Schema } from "effect"
import { type Emitter, Sd } from "../runtime/index.js"
import type { RecordingSummary } from "./Recorder.js"
import type { ShellCommand } from "./Shell.js"

/** Seconds with millisecond precision, always three decimals (`%.3f`, as the original wrote them). */
const Seconds3 = Sd.custom(
  Schema.transformOrFail(Schema.String, Schema.Finite, {
    strict: true,
    decode: (text, _, ast) => {
      const n = /^-?\d+(?:\.\d+)?$/.test(text) ? Number(text) : Number.NaN
      return Number.isFinite(n)
        ? ParseResult.succeed(n)
        : ParseResult.fail(new ParseResult.Type(ast, text, `expected seconds as "%.3f", got "${text}"`))
    },
    encode: (n) => ParseResult.succeed(n.toFixed(3))
  }),
  (v) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(3) : undefined)
)

/** `command`: the line, who ran it (uid, user) and where (pwd). */
export const CommandEventFields = {
  cmd: Sd.Text,
  uid: Sd.Int,
  user: Sd.Text,
  pwd: Sd.Text
} as const

export type CommandEvent = { readonly _tag: "command" } & Schema.Struct.Type<typeof CommandEventFields>

/** `session_recorded`: the cast file of one shell session (`path` empty when it could not be written). */
export const SessionRecordedFields = {
  sid: Sd.Text,
  /** The transport (`ssh` / `telnet`), as the original's sessrec wrote it. */
  service: Sd.Text,
  duration_s: Seconds3,
  /** Terminal bytes the session carried (input and output), counted past the recording cap too. */
  bytes: Sd.Int,
  truncated: Sd.Bool,
  path: Sd.Text
} as const

export type SessionRecordedEvent = { readonly _tag: "session_recorded" } & Schema.Struct.Type<
  typeof SessionRecordedFields
>

/**
 * One `command` event. MSG keeps the original's bash PROMPT_COMMAND line (`src=` is the peer the
 * emitter already carries), the structured fields say the same.
 */
export const emitCommand = (
  events: Emitter<CommandEvent>,
  c: ShellCommand,
  who: { readonly uid: number; readonly user: string }
) =>
  events.emit(
    { _tag: "command", cmd: c.cmd, uid: who.uid, user: who.user, pwd: c.pwd },
    { msg: `CMD uid=${who.uid} user=${who.user} src=${events.peer?.ip ?? ""} pwd=${c.pwd} cmd=${c.cmd}` }
  )

/** One `session_recorded` event for a saved recording. */
export const emitSessionRecorded = (
  events: Emitter<SessionRecordedEvent>,
  service: string,
  sid: string,
  s: RecordingSummary
) =>
  events.emit({
    _tag: "session_recorded",
    sid,
    service,
    duration_s: s.durationS,
    bytes: s.bytes,
    truncated: s.truncated,
    path: s.path
  })
