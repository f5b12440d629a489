// Host role gating (spec swarm.md §role gating): DECNET_MODE=agent with DECNET_DISALLOW_MASTER
// not "false" hides and refuses master-only commands. Read through effect Config, never process.env.
import { Config, Data, Effect } from "effect"

export type HostMode = "master" | "agent"
export type CommandRole = "master-only" | "agent-only" | "both"

export class ModeRefused extends Data.TaggedError("ModeRefused")<{ readonly message: string }> {}

export const readGating = Config.all({
  mode: Config.literal("master", "agent")("DECNET_MODE").pipe(Config.withDefault<HostMode>("master")),
  disallowMaster: Config.boolean("DECNET_DISALLOW_MASTER").pipe(Config.withDefault(true))
})

/** True when master-only commands must be hidden and refused on this host. */
export const masterBlocked = (g: { readonly mode: HostMode; readonly disallowMaster: boolean }): boolean =>
  g.mode === "agent" && g.disallowMaster

export const refusalMessage = (command: string): string =>
  `decnet ${command} is a master-only command; this host runs in agent mode (DECNET_MODE=agent). ` +
  "Set DECNET_DISALLOW_MASTER=false for a dual-role host."

/** Guard run at the start of a master-only command body. */
export const requireMaster = (command: string) =>
  Effect.gen(function* () {
    const g = yield* readGating
    if (masterBlocked(g)) return yield* new ModeRefused({ message: refusalMessage(command) })
  })
