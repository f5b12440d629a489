/**
 * The topology reconciler (spec/topology.md §8 `reconcile_topologies`): drain each live topology's queue,
 * oldest first, one claimed row at a time. The bus hears `applying`, then `applied` or `failed`; a failed op
 * marks its row failed with `"<Tag>: <message>"`, degrades the topology and stops that topology's drain (the
 * rows behind it wait for an operator). The mutator's watch loop runs it when the queue has live work.
 */
import { Cause, Effect, Exit, Option } from "effect"
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
      const outcome = yield* Effect.exit(dispatch(topologyId, m.op, m.payload))
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

/** §8: every live topology's queue; the number of ops applied. */
export const reconcileTopologies = Effect.gen(function* () {
  const repo = yield* TopologyRepo
  let drained = 0
  for (const id of yield* repo.listLiveTopologyIds()) drained += yield* drainTopology(id)
  return drained
}).pipe(Effect.withSpan("Topology.reconcile"))
