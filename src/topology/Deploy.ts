/**
 * Deploy and teardown (spec/topology.md §6, the runtime-agnostic half): hydrate, validate, then drive the
 * status machine around the `TopologyRuntime`. The database is written first and last: a topology is
 * `deploying` before the runtime is asked, and `active`, `degraded` or `failed` after, with the decky
 * states the runtime reported. Every status move is published on `topology.<id>.status` (a hint).
 */
import { Data, Effect, Option } from "effect"
import {
  TopologyNotFound,
  TopologyRejected,
  TopologyValidationError,
  type ValidationIssue
} from "./Errors.js"
import { publishStatus } from "./Events.js"
import type { TopologyDetail, TopologyStatus } from "./Model.js"
import { ownerText, thisProcess } from "./Owner.js"
import { type DeckyMaterialState, deckyNameOf, TopologyRuntime } from "./Runtime.js"
import { TopologyRepo } from "./TopologyRepo.js"
import { errors, validate } from "./Validator.js"

/** Defined with the runtime contract (Runtime.ts); the ops and the tarpit take it from here too. */
export { deckyNameOf }

export interface DeployOptions {
  /** Validate and return the plan; the status and the runtime are left alone. */
  readonly dryRun?: boolean | undefined
}

export type DeployOutcome = Data.TaggedEnum<{
  /** A dry run: the topology as it would be deployed, and the validator's warnings. */
  Planned: { readonly topology: TopologyDetail; readonly warnings: ReadonlyArray<ValidationIssue> }
  /** Deployed: `active`, or `degraded` with the post-deploy check's reason; each decky as the runtime saw it. */
  Deployed: {
    readonly status: "active" | "degraded"
    readonly reason: string | null
    readonly deckies: ReadonlyArray<DeckyMaterialState>
  }
}>
export const DeployOutcome = Data.taggedEnum<DeployOutcome>()

/** How many non-running deckies the post-deploy reason names before it counts the rest. */
export const POST_DEPLOY_NAMED = 8

/** `post-deploy check: decky-002=failed: …, … and 3 more`. */
export const postDeployReason = (bad: ReadonlyArray<DeckyMaterialState>): string => {
  const named = bad.slice(0, POST_DEPLOY_NAMED).map((d) => `${d.decky}=${d.detail}`)
  const more = bad.length > POST_DEPLOY_NAMED ? ` and ${bad.length - POST_DEPLOY_NAMED} more` : ""
  return `post-deploy check: ${named.join(", ")}${more}`
}

/** A legal status move (§3), recorded with its audit event, then published. */
export const moveStatus = (topologyId: string, next: TopologyStatus, reason: string | null = null) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    yield* repo.transitionStatus(topologyId, next, reason)
    yield* publishStatus(topologyId, next, reason)
  })

export const hydrateOrFail = (topologyId: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const detail = yield* repo.hydrate(topologyId)
    if (Option.isNone(detail)) return yield* new TopologyNotFound({ what: "topology", id: topologyId })
    return detail.value
  })

/** The agent path needs the swarm agent's client, which this build does not have. */
const agentPinned = (detail: TopologyDetail) =>
  new TopologyRejected({
    message:
      `topology '${detail.topology.name}' is pinned to swarm host '${detail.topology.target_host_uuid}': ` +
      "its agent deploys it, and agent deploys are not available in this build"
  })

/**
 * Write each decky's state as the runtime reported it (a decky it did not mention is `failed`, "absent"),
 * and return the reports in the topology's decky order.
 */
export const recordDeckyStates = (detail: TopologyDetail, seen: ReadonlyArray<DeckyMaterialState>) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const byName = new Map(seen.map((s) => [s.decky, s]))
    const states: Array<DeckyMaterialState> = []
    for (const decky of detail.deckies) {
      const name = deckyNameOf(decky)
      const state = byName.get(name) ?? { decky: name, state: "failed" as const, detail: "absent" }
      yield* repo.setDeckyState(decky.uuid, state.state, state.state === "running" ? null : state.detail)
      states.push(state)
    }
    return states
  })

/**
 * The runtime half of a deploy, on a topology already `deploying`: runtime deploy, post-deploy check, decky
 * states, → active | degraded. A runtime failure moves it to `failed` with the runtime's message and fails
 * with that error. A deploy and the resumption of an interrupted one (Recovery.ts) both end here.
 */
export const materialise = (detail: TopologyDetail) =>
  Effect.gen(function* () {
    const runtime = yield* TopologyRuntime
    const topologyId = detail.topology.id
    yield* runtime
      .deploy(detail)
      .pipe(
        Effect.tapError((e) =>
          Effect.zipRight(
            Effect.logError(`topology ${detail.topology.name}: deploy failed: ${e.message}`),
            moveStatus(topologyId, "failed", e.message)
          )
        )
      )
    const seen = yield* runtime.inspect(detail).pipe(
      Effect.catchAll((e) =>
        Effect.succeed(
          detail.deckies.map(
            (d): DeckyMaterialState => ({
              decky: deckyNameOf(d),
              state: "failed",
              detail: `not inspectable (${e.message})`
            })
          )
        )
      )
    )
    const states = yield* recordDeckyStates(detail, seen)
    const bad = states.filter((s) => s.state !== "running")
    if (bad.length === 0) {
      yield* moveStatus(topologyId, "active")
      yield* Effect.logInfo(`topology ${detail.topology.name}: active (${states.length} deckies running)`)
      return DeployOutcome.Deployed({ status: "active", reason: null, deckies: states })
    }
    const reason = postDeployReason(bad)
    yield* moveStatus(topologyId, "degraded", reason)
    yield* Effect.logWarning(`topology ${detail.topology.name}: degraded: ${reason}`)
    return DeployOutcome.Deployed({ status: "degraded", reason, deckies: states })
  })

/**
 * §6 deploy_topology. Invalid → `TopologyValidationError` (status untouched, runtime never called); dry run →
 * `Planned`; else pending → deploying (the reason names this process as its owner, Owner.ts) → runtime
 * deploy → post-deploy check → active | degraded. A runtime failure moves it to `failed` with the runtime's
 * message and fails with that error.
 */
export const deployTopology = (topologyId: string, options: DeployOptions = {}) =>
  Effect.gen(function* () {
    const runtime = yield* TopologyRuntime
    const detail = yield* hydrateOrFail(topologyId)
    const issues = validate(detail)
    if (errors(issues).length > 0) return yield* new TopologyValidationError({ issues })
    for (const warning of issues)
      yield* Effect.logWarning(`topology ${detail.topology.name}: [${warning.code}] ${warning.message}`)
    if (options.dryRun === true) return DeployOutcome.Planned({ topology: detail, warnings: issues })
    if (detail.topology.target_host_uuid !== null) return yield* agentPinned(detail)

    yield* moveStatus(topologyId, "deploying", ownerText(yield* thisProcess(runtime.kind)))
    return yield* materialise(detail)
  }).pipe(Effect.withSpan("Topology.deploy", { attributes: { topologyId } }))

/**
 * The runtime half of a teardown, on a topology already `tearing_down`: runtime teardown, every decky
 * `torn_down`, → torn_down. A runtime failure moves it to `degraded` with the runtime's message (what is left
 * can be torn down again) and fails with that error.
 */
export const dismantle = (detail: TopologyDetail) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const runtime = yield* TopologyRuntime
    const topologyId = detail.topology.id
    if (detail.topology.target_host_uuid !== null)
      yield* Effect.logWarning(
        `topology ${detail.topology.name} is pinned to swarm host '${detail.topology.target_host_uuid}': ` +
          "its agent is not told (agent teardown is not available in this build)"
      )
    else
      yield* runtime
        .teardown(detail)
        .pipe(
          Effect.tapError((e) =>
            Effect.zipRight(
              Effect.logError(`topology ${detail.topology.name}: teardown failed: ${e.message}`),
              moveStatus(topologyId, "degraded", e.message)
            )
          )
        )
    for (const decky of detail.deckies) yield* repo.setDeckyState(decky.uuid, "torn_down")
    yield* moveStatus(topologyId, "torn_down")
    yield* Effect.logInfo(`topology ${detail.topology.name}: torn down`)
  })

/**
 * §6 teardown_topology: → tearing_down (its owner in the reason), runtime teardown, → torn_down (every
 * decky `torn_down`). Legal from active, degraded, failed and deploying. A runtime failure moves it to
 * `degraded` with the runtime's message (what is left can be torn down again) and fails with that error.
 */
export const teardownTopology = (topologyId: string) =>
  Effect.gen(function* () {
    const runtime = yield* TopologyRuntime
    const detail = yield* hydrateOrFail(topologyId)
    yield* moveStatus(topologyId, "tearing_down", ownerText(yield* thisProcess(runtime.kind)))
    yield* dismantle(detail)
  }).pipe(Effect.withSpan("Topology.teardown", { attributes: { topologyId } }))

/**
 * A live topology (active or degraded) materialised again on this process's runtime, as after a restart of
 * the process that ran it (`decnet up`): deploy, check, record the decky states. A decky that does not run
 * degrades an active topology with the post-deploy reason; otherwise the status stays as it was (a degraded
 * topology stays degraded: what degraded it is the operator's to clear). A runtime failure degrades it too.
 */
export const resumeTopology = (topologyId: string) =>
  Effect.gen(function* () {
    const runtime = yield* TopologyRuntime
    const detail = yield* hydrateOrFail(topologyId)
    const degrade = (reason: string) =>
      detail.topology.status === "active"
        ? moveStatus(topologyId, "degraded", reason).pipe(
            Effect.catchAll((e) =>
              Effect.logDebug(`topology ${detail.topology.name} stays as it is: ${e.message}`)
            )
          )
        : Effect.void
    const deployed = yield* Effect.either(runtime.deploy(detail))
    if (deployed._tag === "Left") {
      yield* Effect.logWarning(`topology ${detail.topology.name}: resume failed: ${deployed.left.message}`)
      yield* degrade(deployed.left.message)
      return []
    }
    const states = yield* recordDeckyStates(
      detail,
      yield* runtime.inspect(detail).pipe(Effect.orElseSucceed((): ReadonlyArray<DeckyMaterialState> => []))
    )
    const bad = states.filter((s) => s.state !== "running")
    if (bad.length > 0) yield* degrade(postDeployReason(bad))
    return states
  }).pipe(Effect.withSpan("Topology.resume", { attributes: { topologyId } }))
