// `decnet reconcile [--interval 30] [--once]` (spec/workers.md §4.10): keep `fleet_deckies` in step with
// the stored deployment and what the runtime runs. The database and dockerode load inside the handler.
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Logger } from "effect"
import { DecnetLogger } from "../logging/DecnetLogger.js"

const interval = Options.integer("interval").pipe(
  Options.withDefault(30),
  Options.withDescription("seconds between passes")
)
const once = Options.boolean("once").pipe(
  Options.withDescription("run one pass, print what changed and exit")
)

export const reconcile = Command.make("reconcile", { interval, once }, ({ interval, once }) =>
  Effect.gen(function* () {
    const { runReconcileMain } = yield* Effect.promise(() => import("../fleet/ReconcilerMain.js"))
    yield* runReconcileMain({ intervalSeconds: interval, once })
  }).pipe(
    Effect.provide(Layer.merge(DecnetLogger.named("reconciler"), Logger.remove(Logger.prettyLoggerDefault)))
  )
).pipe(Command.withDescription("converge fleet_deckies with the deployment and the running deckies"))
