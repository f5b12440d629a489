// Host role gating (spec/swarm.md §1 "Role gating"): with DECNET_MODE=agent and DECNET_DISALLOW_MASTER
// true (its default), master-only commands are removed from the CLI and refused with exit 1. Both come
// from DecnetConfig, so the gate and every other reader agree on what a value means.
import { Data, Effect } from "effect"
import { DecnetConfig, type Mode } from "../config/DecnetConfig.js"

export type HostMode = Mode
export type CommandRole = "master-only" | "agent-only" | "both"

export interface Gating {
  readonly mode: HostMode
  readonly disallowMaster: boolean
}

export class ModeRefused extends Data.TaggedError("ModeRefused")<{ readonly message: string }> {}

export const readGating: Effect.Effect<Gating, never, DecnetConfig> = Effect.map(
  DecnetConfig,
  ({ mode, disallowMaster }): Gating => ({ mode, disallowMaster })
)

/** Master-only top-level commands and groups, from the spec's list (later issues add the rest). */
export const MASTER_ONLY: ReadonlySet<string> = new Set([
  "api",
  "swarmctl",
  "deploy",
  "redeploy",
  "teardown",
  "mutate",
  "listener",
  "profiler",
  "services",
  "distros",
  "correlate",
  "archetypes",
  "web",
  "db-reset",
  "init",
  "webhook",
  "clusterer",
  "campaign-clusterer",
  "ttp-backfill",
  "swarm",
  "topology",
  "geoip",
  "realism"
])

export const roleOf = (command: string): CommandRole => (MASTER_ONLY.has(command) ? "master-only" : "both")

/** True when master-only commands must be hidden and refused on this host. */
export const masterBlocked = (g: Gating): boolean => g.mode === "agent" && g.disallowMaster

/** Whether `command` may run (and is listed in --help) on a host with this gating. */
export const allowed = (g: Gating, command: string): boolean =>
  !(masterBlocked(g) && roleOf(command) === "master-only")

export const refusalMessage = (command: string): string =>
  `\`decnet ${command}\` is a master-only command; this host is configured as an agent (DECNET_MODE=agent). ` +
  "Set DECNET_DISALLOW_MASTER=false for a dual-role host."

/** Guard run at the start of a master-only command body (defence in depth behind the hidden command). */
export const requireMaster = (command: string) =>
  Effect.gen(function* () {
    const g = yield* readGating
    if (!allowed(g, command)) return yield* new ModeRefused({ message: refusalMessage(command) })
  })
