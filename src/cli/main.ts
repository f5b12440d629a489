// The root `decnet` command. Command modules keep their heavy imports (dockerode, ssh2, nats, sql) inside
// their handlers, so building this tree, `--help` and `--version` stay fast. Nothing here runs an effect:
// src/cli/bin.ts does.
import { readFileSync } from "node:fs"
import { Command } from "@effect/cli"
import { Effect, Option } from "effect"
import { api } from "./api.js"
import { bus } from "./bus.js"
import { archetypes, distros, services } from "./catalog.js"
import { collect } from "./collect.js"
import { deploy, redeploy, status, teardown } from "./fleet.js"
import { decky, honeypot } from "./honeypot.js"
import { images } from "./images.js"
import { ingest } from "./ingest.js"
import { logs } from "./logs.js"
import { allowed, type Gating, ModeRefused, readGating, refusalMessage } from "./mode.js"
import { mutate } from "./mutate.js"
import { reconcile } from "./reconcile.js"
import { topology } from "./topology.js"
import { up } from "./up.js"

// Read at startup from package.json beside dist/ or src/ (both are one level under the package root).
export const version = Option.getOrElse(
  Option.liftThrowable(() => {
    const raw: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    return typeof raw === "object" && raw !== null && "version" in raw && typeof raw.version === "string"
      ? raw.version
      : "0.0.0"
  })(),
  () => "0.0.0"
)

/** A command with its names, taken while its type is precise (getNames cannot infer from a union of commands). */
const entry = <N extends string, R, E, A>(command: Command.Command<N, R, E, A>) => ({
  command,
  names: [...Command.getNames(command)]
})

// Register a command group here: import it and append `entry(<command>)` to `optional`. Role gating filters by name.
const optional = [
  entry(honeypot),
  entry(decky),
  entry(services),
  entry(distros),
  entry(archetypes),
  entry(bus),
  entry(api),
  entry(collect),
  entry(ingest),
  entry(logs),
  entry(images),
  entry(mutate),
  entry(reconcile),
  entry(deploy),
  entry(teardown),
  entry(status),
  entry(redeploy),
  entry(topology)
] as const

/** The root command with only the subcommands this host's role allows. */
export const makeRoot = (g: Gating) => {
  const visible = optional.filter((e) => e.names.every((n) => allowed(g, n))).map((e) => e.command)
  return Command.make("decnet").pipe(
    Command.withDescription("DECNET honeypot deception network"),
    Command.withSubcommands([up, ...visible])
  )
}

/** Parse and run `argv` (process.argv shape). A master-only command on an agent host exits 1. */
export const runCli = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const g = yield* readGating
    const first = argv[2]
    if (first !== undefined && !first.startsWith("-") && !allowed(g, first)) {
      return yield* new ModeRefused({ message: refusalMessage(first) })
    }
    return yield* Command.run(makeRoot(g), { name: "decnet", version })(argv)
  })
