// `decnet mutate [--watch|-w] [--decky NAME] [--all]` (spec/topology.md §9, workers §4.9): rotate deckies'
// services, now or on their schedule. Master-only. The database and dockerode load inside the handler.
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Logger } from "effect"
import { DecnetLogger } from "../logging/DecnetLogger.js"
import { requireMaster } from "./mode.js"

const watch = Options.boolean("watch").pipe(
  Options.withAlias("w"),
  Options.withDescription("run the schedule: mutate each decky when its interval has passed, until stopped")
)
const decky = Options.text("decky").pipe(Options.optional, Options.withDescription("mutate this decky now"))
const all = Options.boolean("all").pipe(Options.withDescription("mutate every decky now"))
const poll = Options.integer("poll").pipe(
  Options.withDefault(10),
  Options.withDescription("with --watch: the longest sleep between passes, in seconds")
)

export const mutate = Command.make("mutate", { watch, decky, all, poll }, ({ watch, decky, all, poll }) =>
  Effect.gen(function* () {
    yield* requireMaster("mutate")
    const { runMutateMain } = yield* Effect.promise(() => import("../mutator/Main.js"))
    yield* runMutateMain({ watch, decky, all, pollSeconds: poll })
  }).pipe(
    Effect.provide(Layer.merge(DecnetLogger.named("mutator"), Logger.remove(Logger.prettyLoggerDefault)))
  )
).pipe(
  Command.withDescription(
    "rotate deckies' services: the due ones (no flag), one (--decky), all (--all), or on schedule (--watch)"
  )
)
