/**
 * Deploys and teardowns that a stopped process left half done. `deploying` and `tearing_down` end only with
 * the runtime's answer (spec/topology.md §3), so a process that stops mid-way (SIGTERM, a crash, a reboot)
 * leaves its topology there for good unless someone finishes it. Every such move records its owner
 * (Owner.ts); a process that runs the same runtime on the same host finishes the ones whose owner is gone:
 * an interrupted deploy is run again, to active (or degraded, or failed with the runtime's reason), and an
 * interrupted teardown to torn_down. docs/topology.md "Interrupted deploys and teardowns" says who does it.
 */
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { AppBus } from "../bus/AppBus.js"
import { Bus } from "../bus/Bus.js"
import { type DeployOutcome, dismantle, hydrateOrFail, materialise } from "./Deploy.js"
import { TopologyStatusError } from "./Errors.js"
import { publishStatus } from "./Events.js"
import type { TopologyDetail, TopologySummary } from "./Model.js"
import {
  judgeOwner,
  type OperationOwner,
  OperationOwnerName,
  ownerOf,
  ownerText,
  thisProcess,
  type Verdict
} from "./Owner.js"
import { TopologyRuntime } from "./Runtime.js"
import { TopologyRepo } from "./TopologyRepo.js"

/** The statuses of an operation under way. */
export const INTERRUPTIBLE_STATUSES = ["deploying", "tearing_down"] as const

/** A resumed deploy's outcome, or a resumed teardown's end. */
export type Resumed = Extract<DeployOutcome, { readonly _tag: "Deployed" }> | { readonly _tag: "TornDown" }

/** What this process may do with the operation under way on `topology` (whose owner its last event names). */
const verdictOn = (topologyId: string, me: OperationOwner) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const [last] = yield* repo.listStatusEvents(topologyId, 1)
    return { verdict: yield* judgeOwner(ownerOf(last?.reason ?? null), me), lastEventId: last?.id ?? null }
  })

/**
 * Take over the operation `gone` left on `detail` (deploying or tearing_down): record this process as its
 * owner (an audit event with the same status, saying whose it was), then run the runtime's half again.
 * The runtime's deploy and teardown are idempotent, so what the first attempt made is reused or replaced.
 */
const takeOver = (
  detail: TopologyDetail,
  status: "deploying" | "tearing_down",
  gone: OperationOwner,
  lastEventId: string | null
) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const topologyId = detail.topology.id
    const what = status === "deploying" ? "deploy" : "teardown"
    const reason = `${ownerText(yield* thisProcess(runtime.kind))}; resuming the ${what} left unfinished ${ownerText(gone)}`
    // Only if nobody took it (or moved it) since its owner was judged: of two processes, one resumes it.
    const taken = yield* repo.takeOverOperation(topologyId, status, reason, lastEventId)
    if (Option.isNone(taken))
      return yield* new TopologyStatusError({
        message: `Topology's unfinished ${what} was taken over by another process a moment ago; see its status events.`
      })
    yield* publishStatus(topologyId, status, reason)
    yield* Effect.logWarning(`topology ${detail.topology.name}: ${reason}`)
    if (status === "deploying") return yield* materialise(detail)
    yield* dismantle(detail)
    return { _tag: "TornDown" } satisfies Resumed
  }).pipe(Effect.withSpan("Topology.resumeInterrupted", { attributes: { topologyId: detail.topology.id } }))

const interrupted = (t: TopologySummary) =>
  t.status === "deploying" || t.status === "tearing_down" ? t.status : undefined

/**
 * Finish the operation a stopped process left on one topology (`decnet topology deploy|teardown` run again
 * on it). Refused with a `TopologyStatusError` when nothing is under way, or when its owner may still finish
 * it (running, on another host or runtime, or unknown); the message says whose it is.
 */
export const resumeInterrupted = (topologyId: string) =>
  Effect.gen(function* () {
    const runtime = yield* TopologyRuntime
    const detail = yield* hydrateOrFail(topologyId)
    const status = interrupted(detail.topology)
    if (status === undefined)
      return yield* new TopologyStatusError({
        message: `Topology is '${detail.topology.status}'; only an unfinished deploy or teardown (deploying, tearing_down) can be resumed.`
      })
    const judged = yield* verdictOn(topologyId, yield* thisProcess(runtime.kind))
    const verdict: Verdict = judged.verdict
    if (verdict._tag === "Leave")
      return yield* new TopologyStatusError({ message: `Topology is '${status}' ${verdict.why}.` })
    return yield* takeOver(detail, status, verdict.owner, judged.lastEventId)
  })

/** Every topology in `status`, oldest first. */
const allIn = (status: (typeof INTERRUPTIBLE_STATUSES)[number]) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const out: Array<TopologySummary> = []
    for (let offset = 0; ; offset += 500) {
      const page = yield* repo.listTopologies({ status, limit: 500, offset })
      out.push(...page.data)
      if (page.data.length < 500) return out.reverse()
    }
  })

/**
 * Finish every operation this process can take over (its owner gone from this host, on this runtime): what a
 * deploy-owning process runs when it starts (`decnet api` also once a minute, for one-shot commands that
 * stopped). One the runtime fails is logged (its topology then says why) and the others go on. Returns the
 * ids it took over.
 */
export const recoverInterrupted = Effect.gen(function* () {
  const runtime = yield* TopologyRuntime
  const me = yield* thisProcess(runtime.kind)
  const resolved: Array<string> = []
  for (const status of INTERRUPTIBLE_STATUSES)
    for (const t of yield* allIn(status)) {
      const { verdict, lastEventId } = yield* verdictOn(t.id, me)
      if (verdict._tag === "Leave") {
        yield* Effect.logDebug(`topology ${t.name} stays ${status}: ${verdict.why}`)
        continue
      }
      const detail = yield* hydrateOrFail(t.id).pipe(Effect.option)
      if (detail._tag === "None") continue
      // A resumed operation the runtime fails still ends: failed (a deploy) or degraded (a teardown), with why.
      yield* takeOver(detail.value, status, verdict.owner, lastEventId).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(
            `topology ${t.name}: the resumed ${status === "deploying" ? "deploy" : "teardown"} failed: ${e.message}`
          )
        )
      )
      resolved.push(t.id)
    }
  return resolved
}).pipe(Effect.withSpan("Topology.recoverInterrupted"))

/** How often `decnet api` looks again for operations a stopped one-shot command left (`decnet topology`). */
export const INTERRUPTED_SWEEP = Duration.minutes(1)

/**
 * `decnet api`'s recovery: at start, then every `INTERRUPTED_SWEEP`, in the layer's scope, under the owner
 * name `ownerName`; status hints on the app bus when it is up. A failing sweep is logged and tried again.
 */
export const InterruptedSweepLive = (ownerName: string) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const appBus = yield* AppBus
      const sweep = Effect.flatMap(appBus.get, (bus) =>
        Option.match(bus, {
          onNone: () => recoverInterrupted,
          onSome: (b) => Effect.provideService(recoverInterrupted, Bus, b)
        })
      ).pipe(
        Effect.tap((ids) =>
          ids.length > 0
            ? Effect.logInfo(`resumed ${ids.length} unfinished deploy(s)/teardown(s)`)
            : Effect.void
        ),
        Effect.catchAllCause((cause) => Effect.logError("the interrupted-operations sweep failed", cause)),
        Effect.provideService(OperationOwnerName, ownerName)
      )
      yield* sweep.pipe(Effect.repeat(Schedule.spaced(INTERRUPTED_SWEEP)), Effect.forkScoped)
    })
  )
