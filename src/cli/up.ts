// `decnet up`: the embedded default in one process (SQLite under ~/.decnet, the bus broker, three
// in-process deckies on 127.77.0.x, the collector, the ingester, the mutator and the reconciler).
// The body is in UpRun.ts, imported when the command runs, so `decnet --help` stays light.
import { Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"

const once = Options.boolean("once").pipe(
  Options.withDescription("start the fleet, print where it listens, stop it and exit")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print the ready line as JSON (db, bus, evidence log, deckies and their addresses)")
)

const topology = Options.text("topology").pipe(
  Options.optional,
  Options.withDescription(
    "also run a generated MazeNET topology on loopback, e.g. depth=2,branching=2 " +
      "(keys: depth, branching, seed, name, deckies=MIN-MAX, cross, forward, services=ssh+redis); " +
      "the same spec next time resumes it, another replaces it"
  )
)

export const up = Command.make("up", { once, json, topology }, (o) =>
  Effect.gen(function* () {
    const [run, spec] = yield* Effect.promise(() =>
      Promise.all([import("./UpRun.js"), import("./UpTopology.js")])
    )
    const parsed = Option.map(o.topology, spec.parseTopologySpec)
    if (Option.isSome(parsed) && Either.isLeft(parsed.value))
      return yield* new run.UpError({ message: parsed.value.left })
    yield* run.runUp({
      once: o.once,
      json: o.json,
      topology: Option.flatMap(parsed, Either.getRight)
    })
  })
).pipe(
  Command.withDescription(
    "run the embedded default: SQLite, the bus, three deckies on loopback and every fleet worker, in one process"
  )
)
