// The root `decnet` command. Command modules keep their heavy imports (dockerode, ssh2, nats, sql) inside
// their handlers, so building this tree, `--help` and `--version` stay fast. Nothing here runs an effect:
// src/cli/bin.ts does.
import { readFileSync } from "node:fs"
import { Command } from "@effect/cli"
import { Effect, Option } from "effect"
import { allowed, type Gating, ModeRefused, readGating, refusalMessage } from "./mode.js"
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

// Register a command group here: import it and append it to `optional`. Role gating filters by name.
const optional = [] as const

const named = <N extends string, R, E, A>(c: Command.Command<N, R, E, A>) => Command.getNames(c)

/** The root command with only the subcommands this host's role allows. */
export const makeRoot = (g: Gating) => {
  const visible = optional.filter((c) => [...named(c)].every((n) => allowed(g, n)))
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
