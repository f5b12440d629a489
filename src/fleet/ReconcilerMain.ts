/**
 * `decnet reconcile` as a process (loaded lazily by the command): the reconciler over the configured
 * database, the Docker runtime and the bus. `--once` runs one pass and prints what it changed; otherwise
 * the loop runs until SIGTERM or a stop intent on `system.reconciler.control`.
 */
import { Console, Data, Effect, Layer } from "effect"
import { RECONCILER_WORKER, reconcileOnce, runReconcileLoop } from "./Reconciler.js"
import { DockerDeckyRuntimeLive, FleetStoreLive, optionalBus } from "./WorkerLayers.js"

export class ReconcileCliError extends Data.TaggedError("ReconcileCliError")<{ readonly message: string }> {}

export interface ReconcileMainOptions {
  readonly intervalSeconds: number
  readonly once: boolean
}

export const runReconcileMain = (o: ReconcileMainOptions) =>
  Effect.gen(function* () {
    if (o.intervalSeconds < 1)
      return yield* new ReconcileCliError({
        message: `--interval must be at least 1 second, got ${o.intervalSeconds}`
      })
    const services = Layer.mergeAll(FleetStoreLive, DockerDeckyRuntimeLive, optionalBus(RECONCILER_WORKER))
    if (o.once) {
      const r = yield* reconcileOnce.pipe(Effect.provide(services))
      if (r.otherRuntime !== undefined) {
        yield* Console.log(
          `the deployment runs on the ${r.otherRuntime} runtime: \`decnet up\` reconciles it`
        )
        return
      }
      yield* Console.log(`${r.inserted} inserted, ${r.deleted} deleted, ${r.stateUpdated} state changes`)
      if (r.runtimeError !== undefined)
        return yield* new ReconcileCliError({ message: `cannot read the runtime's state: ${r.runtimeError}` })
      return
    }
    yield* runReconcileLoop({ intervalSeconds: o.intervalSeconds }).pipe(Effect.provide(services))
    yield* Effect.logInfo("reconciler: stopped on request")
  })
