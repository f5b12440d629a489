/**
 * Who runs a topology's deploy or teardown. The move to `deploying` or `tearing_down` records its owner as
 * the status event's reason, `by decnet api on host-a (pid 4242, started 2026-12-03T15:23:00.000Z, docker
 * runtime)`, so a topology found stuck there later says whose it is, and a restarted owner can tell that
 * the operation it finds is one its previous run left: same host and runtime, and that process is gone.
 */
import * as os from "node:os"
import { Context, Effect, Option, ParseResult, Schema } from "effect"
import type { TopologyRuntimeService } from "./Runtime.js"

/** The name the process goes by in an owner record: `decnet api`, `decnet up`, `decnet topology`. */
export class OperationOwnerName extends Context.Reference<OperationOwnerName>()("decnet/OperationOwnerName", {
  defaultValue: () => "decnet"
}) {}

export const OperationOwner = Schema.Struct({
  process: Schema.String,
  host: Schema.String,
  pid: Schema.Int,
  /** When that process started (ISO-8601): a pid reused by a later run of the same program is another owner. */
  started: Schema.String,
  runtime: Schema.Literal("docker", "in-process")
})
export type OperationOwner = typeof OperationOwner.Type

const OWNER_TEXT = /^by (.+?) on (\S+) \(pid (\d+), started (\S+), (docker|in-process) runtime\)/

/** The owner as a status reason, and back; a reason may go on after it (`…; resuming …`). */
export const OwnerText = Schema.transformOrFail(Schema.String, OperationOwner, {
  strict: true,
  decode: (text, _, ast) => {
    const m = OWNER_TEXT.exec(text)
    const [, process, host, pid, started, runtime] = m ?? []
    return process === undefined ||
      host === undefined ||
      pid === undefined ||
      started === undefined ||
      (runtime !== "docker" && runtime !== "in-process")
      ? ParseResult.fail(new ParseResult.Type(ast, text, "not an operation owner"))
      : ParseResult.succeed({ process, host, pid: Number(pid), started, runtime })
  },
  encode: (o) =>
    ParseResult.succeed(
      `by ${o.process} on ${o.host} (pid ${o.pid}, started ${o.started}, ${o.runtime} runtime)`
    )
})

export const ownerText: (owner: OperationOwner) => string = Schema.encodeSync(OwnerText)

/** The owner a status reason names; none for a reason written by anything else (or before owners were). */
export const ownerOf = (reason: string | null): Option.Option<OperationOwner> =>
  reason === null ? Option.none() : Schema.decodeUnknownOption(OwnerText)(reason)

/** This process's start, from the time origin Node records at start: what tells two runs of one pid apart. */
const STARTED = new Date(Math.round(performance.timeOrigin)).toISOString()

/** This process as the owner of an operation on `runtime`. */
export const thisProcess = (runtime: TopologyRuntimeService["kind"]) =>
  Effect.map(
    OperationOwnerName,
    (name): OperationOwner => ({
      process: name,
      host: os.hostname(),
      pid: process.pid,
      started: STARTED,
      runtime
    })
  )

/** Whether a process with this pid exists on this host (EPERM: it does, and is someone else's). */
const pidExists = (pid: number) =>
  Effect.sync(() => {
    try {
      process.kill(pid, 0)
      return true
    } catch (e) {
      return e instanceof Error && "code" in e && e.code === "EPERM"
    }
  })

/** What `me` may do with an operation a status reason says `owner` runs. */
export type Verdict =
  | { readonly _tag: "Adopt"; readonly owner: OperationOwner }
  | { readonly _tag: "Leave"; readonly why: string }

/**
 * `Adopt` when the owner is gone: it ran on this host and this runtime, and its process has ended (or its
 * pid now belongs to this process, a later run). Otherwise `Leave`, saying whose it is: nothing here can
 * finish an operation another host, another runtime or a running process owns.
 */
export const judgeOwner = (
  owner: Option.Option<OperationOwner>,
  me: OperationOwner
): Effect.Effect<Verdict> =>
  Effect.gen(function* () {
    if (Option.isNone(owner))
      return {
        _tag: "Leave",
        why: "with no owner recorded (it started before owners were): tear it down to recover it"
      } as const
    const o = owner.value
    const leave = (why: string): Verdict => ({ _tag: "Leave", why: `${ownerText(o)}: ${why}` })
    if (o.runtime !== me.runtime)
      return leave(`the ${me.runtime} runtime here cannot take over a ${o.runtime} operation`)
    if (o.host !== me.host) return leave("it runs on another host, whose process resumes it when it restarts")
    if (o.pid === me.pid)
      return o.started === me.started ? leave("this process runs it") : { _tag: "Adopt", owner: o }
    return (yield* pidExists(o.pid)) ? leave("it is still running") : { _tag: "Adopt", owner: o }
  })
