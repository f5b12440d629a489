// `decnet up`: the embedded default in one process (SQLite under ~/.decnet, the bus broker, three
// in-process deckies on 127.77.0.x, the collector, the ingester, the mutator and the reconciler).
// The body is in UpRun.ts, imported when the command runs, so `decnet --help` stays light.
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"

const once = Options.boolean("once").pipe(
  Options.withDescription("start the fleet, print where it listens, stop it and exit")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print the ready line as JSON (db, bus, evidence log, deckies and their addresses)")
)

export const up = Command.make("up", { once, json }, (o) =>
  Effect.gen(function* () {
    const run = yield* Effect.promise(() => import("./UpRun.js"))
    yield* run.runUp(o)
  })
).pipe(
  Command.withDescription(
    "run the embedded default: SQLite, the bus, three deckies on loopback and every fleet worker, in one process"
  )
)
