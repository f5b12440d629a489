/**
 * The topology reconciler (spec/topology.md §8 `reconcile_topologies`): drain each live topology's queue,
 * oldest first, one claimed row at a time. The bus hears `applying`, then `applied` or `failed`; a failed op
 * marks its row failed with `"<Tag>: <message>"`, degrades the topology and stops that topology's drain (the
 * rows behind it wait for an operator). The mutator's watch loop runs it when the queue has live work, and
 * `recoverStaleMutations` now and then: a row whose claimer died mid-op goes back to the queue after its lease.
 */
import { Cause, Duration, Effect, Exit, Option, Ref } from "effect"
import { moveStatus } from "./Deploy.js"
import { publishMutation } from "./Events.js"
import { dispatch } from "./Ops.js"
import { TopologyRepo } from "./TopologyRepo.js"

/** A failure as the row's reason: the error's tag and message, or the defect. */
export const failureReason = <E extends { readonly _tag: string; readonly message: string }>(
  cause: Cause.Cause<E>
): string =>
  Option.match(Cause.failureOption(cause), {
    onSome: (e) => `${e._tag}: ${e.message}`,
    onNone: () => {
      const defect = Cause.squash(cause)
      return `Defect: ${defect instanceof Error ? defect.message : String(defect)}`
    }
  })

/**
 * While an op runs, its claim is renewed every quarter lease (`renewClaim` moves the claim time), so a long
 * op on a live claimer is never taken for an orphan and applied twice; it stops when the op ends, or when
 * the row is no longer this claim's.
 */
const holdClaim = (id: string, claimedAt: Date) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const last = yield* Ref.make(claimedAt)
    for (;;) {
      yield* Effect.sleep(Duration.unsafeDivide(MUTATION_LEASE, 4))
      const renewed = yield* repo.renewClaim(id, yield* Ref.get(last))
      if (Option.isNone(renewed))
        return yield* Effect.logWarning(`mutation ${id} is no longer this claim's; its lease is not renewed`)
      yield* Ref.set(last, renewed.value)
    }
  })

/** Apply the queue of one topology until it is empty or an op fails; how many were applied. */
export const drainTopology = (topologyId: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    let drained = 0
    for (;;) {
      const claimed = yield* repo.claimNextMutation(topologyId)
      if (Option.isNone(claimed)) return drained
      const m = claimed.value
      yield* publishMutation(topologyId, "applying", {
        mutation_id: m.id,
        op: m.op,
        payload: JSON.stringify(m.payload)
      })
      const outcome = yield* Effect.exit(
        Effect.scoped(
          Effect.zipRight(
            Effect.forkScoped(holdClaim(m.id, m.applied_at ?? new Date(0))),
            dispatch(topologyId, m.op, m.payload)
          )
        )
      )
      if (Exit.isSuccess(outcome)) {
        yield* repo.markApplied(m.id)
        drained++
        yield* publishMutation(topologyId, "applied", { mutation_id: m.id, op: m.op })
        yield* Effect.logInfo(`topology ${topologyId}: ${m.op} applied (${m.id})`)
        continue
      }
      // An interrupted op (shutdown) is not a failed one: its row stays `applying`.
      if (Cause.isInterruptedOnly(outcome.cause)) return yield* Effect.interrupt
      const reason = failureReason(outcome.cause)
      yield* repo.markFailed(m.id, reason)
      yield* publishMutation(topologyId, "failed", { mutation_id: m.id, op: m.op, reason })
      yield* Effect.logWarning(`topology ${topologyId}: ${m.op} failed (${m.id}): ${reason}`)
      // Already degraded (or gone): the move is illegal and skipped without a status event.
      yield* moveStatus(topologyId, "degraded", reason).pipe(
        Effect.catchAll((e) => Effect.logDebug(`topology ${topologyId} stays as it is: ${e.message}`))
      )
      return drained
    }
  }).pipe(Effect.withSpan("Topology.drain", { attributes: { topologyId } }))

/** §8: every live topology's queue that holds pending work, found in one query; the number of ops applied. */
export const reconcileTopologies = Effect.gen(function* () {
  const repo = yield* TopologyRepo
  let drained = 0
  for (const id of yield* repo.listPendingLiveTopologyIds()) drained += yield* drainTopology(id)
  return drained
}).pipe(Effect.withSpan("Topology.reconcile"))

/**
 * How long a claimed row may stay `applying` before it is presumed orphaned (its claimer died): longer than
 * any op takes on Docker (a `recreate` pulls nothing and takes seconds; a stuck daemon call times out well
 * before this).
 */
export const MUTATION_LEASE: Duration.Duration = Duration.minutes(10)

/**
 * Requeue the rows `applying` for longer than `lease` (back to `pending`, so the next drain applies them),
 * with a warning each; how many. Nothing is published: the row is the truth and the next drain announces
 * `applying` again.
 */
export const recoverStaleMutations = (lease: Duration.Duration = MUTATION_LEASE) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const requeued = yield* repo.requeueStaleMutations(lease)
    for (const m of requeued)
      yield* Effect.logWarning(
        `topology ${m.topology_id}: ${m.op} (${m.id}) was applying since ${
          m.applied_at === null ? "an unknown time" : m.applied_at.toISOString()
        }, past the ${Duration.format(lease)} lease (its claimer died?); requeued`
      )
    return requeued.length
  }).pipe(Effect.withSpan("Topology.recoverStale"))
