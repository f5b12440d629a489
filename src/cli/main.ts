// Root `decnet` command. Only this module (via bin/decnet) runs effects; heavy modules (dockerode,
// ssh2, nats, sql) stay out of the startup path so `decnet --version` is fast.
import { readFileSync } from "node:fs"
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { readGating } from "./mode.js"

// Read at startup from package.json beside dist/ or src/ (both are one level under the package root).
const version = Option.getOrElse(
  Option.liftThrowable(() => {
    const raw: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    return typeof raw === "object" && raw !== null && "version" in raw && typeof raw.version === "string"
      ? raw.version
      : "0.0.0"
  })(),
  () => "0.0.0"
)

const once = Options.boolean("once").pipe(Options.withDescription("print the status and exit"))

const up = Command.make("up", { once }, ({ once }) =>
  Effect.gen(function* () {
    const g = yield* readGating
    yield* Console.log(`mode: ${g.mode}\nbus: disabled\ndeckies: none yet`)
    if (!once) yield* Effect.never
  })
).pipe(Command.withDescription("run the embedded default (bus-less skeleton for now)"))

// Plug-in point: the lead adds `bus` (src/cli/bus.ts) and `honeypot`/`decky` (src/cli/honeypot.ts) here.
export const subcommands = [up] as const

export const decnet = Command.make("decnet").pipe(
  Command.withDescription("DECNET honeypot deception network"),
  Command.withSubcommands(subcommands)
)

export const cli = Command.run(decnet, { name: "decnet", version })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
