/**
 * What may be done to a topology in which status (spec/topology.md §10), shared by the API and the
 * `decnet topology` commands so both refuse with the same words: deploy from pending only, teardown from a
 * deployed or failed status, delete only when nothing of it runs, live mutations only on an active or
 * degraded topology (enqueued, then hinted on the bus). A refusal is a `TopologyStatusError` (409).
 */
import { Effect, Option } from "effect"
import { TopologyNotFound, TopologyStatusError } from "./Errors.js"
import { publishMutation } from "./Events.js"
import { LIVE_STATUSES, type MutationOp, type TopologyStatus, type TopologySummary } from "./Model.js"
import { TopologyRepo } from "./TopologyRepo.js"

/** Nothing of the topology runs (§10 DELETE). */
export const DELETABLE_STATUSES: ReadonlyArray<TopologyStatus> = ["pending", "torn_down", "failed"]
/** Teardown's legal starting points (§3). */
export const TEARABLE_STATUSES: ReadonlyArray<TopologyStatus> = ["active", "degraded", "failed", "deploying"]

export const requireTopology = (topologyId: string) =>
  Effect.flatMap(TopologyRepo, (repo) => repo.getTopology(topologyId)).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new TopologyNotFound({ what: "topology", id: topologyId })),
        onSome: Effect.succeed
      })
    )
  )

const refuse = (message: string): Effect.Effect<never, TopologyStatusError> =>
  Effect.fail(new TopologyStatusError({ message }))

export const checkDeployable = (t: TopologySummary): Effect.Effect<void, TopologyStatusError> =>
  t.status === "pending"
    ? Effect.void
    : refuse(`Topology is '${t.status}'; only a pending topology can be deployed.`)

export const checkTearable = (t: TopologySummary): Effect.Effect<void, TopologyStatusError> =>
  TEARABLE_STATUSES.includes(t.status)
    ? Effect.void
    : refuse(
        `Topology is '${t.status}'; only an active, degraded, failed or deploying topology can be torn down.`
      )

export const checkDeletable = (t: TopologySummary): Effect.Effect<void, TopologyStatusError> =>
  DELETABLE_STATUSES.includes(t.status)
    ? Effect.void
    : refuse(`Topology is '${t.status}'; teardown to 'torn_down' before delete.`)

/** Deletes a topology and everything in it, when nothing of it runs. */
export const deleteTopology = (topologyId: string) =>
  Effect.gen(function* () {
    const t = yield* requireTopology(topologyId)
    yield* checkDeletable(t)
    const repo = yield* TopologyRepo
    if (!(yield* repo.deleteTopologyCascade(t.id)))
      return yield* new TopologyNotFound({ what: "topology", id: t.id })
    return t
  }).pipe(Effect.withSpan("Topology.delete"))

/**
 * Queues a live edit (§8): the topology must be active or degraded; `expectedVersion` is checked and bumped
 * with the insert. Then `topology.<id>.mutation.enqueued` {mutation_id, op, payload} wakes the reconciler
 * (a `Bus` in the context; it polls anyway).
 */
export const enqueueMutation = (
  topologyId: string,
  op: MutationOp,
  payload: Readonly<Record<string, unknown>>,
  expectedVersion?: number
) =>
  Effect.gen(function* () {
    const t = yield* requireTopology(topologyId)
    if (!LIVE_STATUSES.includes(t.status))
      return yield* refuse(
        `Topology is '${t.status}'; mutations apply to an active or degraded topology (deploy it first, or edit it directly while it is pending).`
      )
    const repo = yield* TopologyRepo
    const id = yield* repo.enqueueMutation(t.id, op, payload, expectedVersion)
    yield* publishMutation(t.id, "enqueued", { mutation_id: id, op, payload })
    return { mutation_id: id, state: "pending" as const }
  }).pipe(Effect.withSpan("Topology.enqueueMutation"))
