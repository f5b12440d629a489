// `decnet up`: the embedded default in one process. For now it reports what runs; later issues fill in
// the bus, the in-process deckies and the API.
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { readGating } from "./mode.js"

const once = Options.boolean("once").pipe(Options.withDescription("print the status and exit"))

export const up = Command.make("up", { once }, ({ once }) =>
  Effect.gen(function* () {
    const g = yield* readGating
    yield* Console.log(`mode: ${g.mode}\nbus: disabled\ndeckies: none yet`)
    if (!once) yield* Effect.never
  })
).pipe(Command.withDescription("run the embedded default (bus-less skeleton for now)"))
