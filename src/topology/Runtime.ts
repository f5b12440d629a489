/**
 * `TopologyRuntime`: where a MazeNET topology is materialised (spec/topology.md §6, §8). The Docker runtime
 * makes one bridge network per LAN (internal for all but the DMZ) and one multi-homed container per decky;
 * the in-process runtime gives each LAN its own loopback range and runs each decky's services as fibers on
 * an address in every LAN it is on. The deployer, the reconciler's ops and the reaper only see this tag.
 *
 * Every call receives the topology as the database holds it (hydrated, `TopologyDetail`). Live edits are
 * called after the database write, with the state after the op; what the op removed is passed on its own.
 */
import { createHash } from "node:crypto"
import { Context, type Effect, Schema } from "effect"
import { isHoneypotSlug } from "../honeypots/Registry.js"
import { type DeckyRow, type LanRow, type TopologyDetail, TopologyDeckyState } from "./Model.js"

export class TopologyRuntimeError extends Schema.TaggedError<TopologyRuntimeError>()("TopologyRuntimeError", {
  /** The decky or LAN concerned, when there is one. */
  target: Schema.NullOr(Schema.String),
  /** One line saying what failed and, where it can, what to do. */
  message: Schema.String
}) {}

/** One decky as the runtime sees it now (the post-deploy check). */
export const DeckyMaterialState = Schema.Struct({
  decky: Schema.String,
  state: TopologyDeckyState,
  /** `running`, `exited (exit=1)`, `absent`…: what the post-deploy reason quotes. */
  detail: Schema.String
})
export type DeckyMaterialState = typeof DeckyMaterialState.Type

/** `POST /topologies/reap-orphans` (§6 "Orphan reaper"). */
export const ReapReport = Schema.Struct({
  live_prefixes: Schema.Array(Schema.String),
  orphan_prefixes: Schema.Array(Schema.String),
  containers_removed: Schema.Array(Schema.String),
  networks_removed: Schema.Array(Schema.String),
  errors: Schema.Array(Schema.String)
}).annotations({ identifier: "ReapReportResponse" })
export type ReapReport = typeof ReapReport.Type

// ---- what every runtime keeps the same way -----------------------------------------------------------

/** A topology's short id: the first eight characters (Docker names, artifact folders, the reaper's key). */
export const id8 = (topologyId: string): string => topologyId.slice(0, 8)

/** The decky's own name (`decky_config.name`, else the row's): what a runtime runs and reports it by. */
export const deckyNameOf = (decky: DeckyRow): string => decky.decky_config?.name ?? decky.name

/** The persona seed's instance id: stable for a decky of a topology, different across topologies. */
export const topologyInstanceId = (topologyId: string, decky: string): string =>
  createHash("sha256").update(`decnet-topology-instance:${topologyId}:${decky}`).digest("hex").slice(0, 16)

/**
 * A decky's services split by whether `decnet decky` can run them: the rest (fleet singletons, catalog
 * services without an emulator yet) stay in the database and are left out, as a runtime would fail on them.
 */
export const runnableServices = (
  services: ReadonlyArray<string>
): { readonly runnable: ReadonlyArray<string>; readonly skipped: ReadonlyArray<string> } => ({
  runnable: services.filter(isHoneypotSlug),
  skipped: services.filter((s) => !isHoneypotSlug(s))
})

/** A reaper's report that removed nothing: the live prefixes, and why not when it could not look. */
export const nothingReaped = (
  liveTopologyIds: ReadonlyArray<string>,
  errors: ReadonlyArray<string> = []
): ReapReport => ({
  live_prefixes: [...new Set(liveTopologyIds.map(id8))].sort(),
  orphan_prefixes: [],
  containers_removed: [],
  networks_removed: [],
  errors
})

export interface TopologyRuntimeService {
  readonly kind: "docker" | "in-process"
  /**
   * Create every LAN and start every decky. On failure it removes what this call created (rollback),
   * then fails; the deployer marks the topology failed with the message.
   */
  readonly deploy: (topology: TopologyDetail) => Effect.Effect<void, TopologyRuntimeError>
  /** Every decky of the topology as it runs now. */
  readonly inspect: (
    topology: TopologyDetail
  ) => Effect.Effect<ReadonlyArray<DeckyMaterialState>, TopologyRuntimeError>
  /** Remove every decky, then the LANs leaf-first (the DMZ last). What is already gone is skipped. */
  readonly teardown: (topology: TopologyDetail) => Effect.Effect<void, TopologyRuntimeError>

  // ---- live edits (§8 ops), on a deployed topology ----
  readonly addLan: (topology: TopologyDetail, lan: LanRow) => Effect.Effect<void, TopologyRuntimeError>
  /** `lan` is no longer in `topology`; its members were detached first. */
  readonly removeLan: (topology: TopologyDetail, lan: LanRow) => Effect.Effect<void, TopologyRuntimeError>
  readonly addDecky: (topology: TopologyDetail, decky: DeckyRow) => Effect.Effect<void, TopologyRuntimeError>
  /** `decky` is no longer in `topology`. */
  readonly removeDecky: (
    topology: TopologyDetail,
    decky: DeckyRow
  ) => Effect.Effect<void, TopologyRuntimeError>
  /** Connect a running decky to one more LAN at `ip`. Already connected is success. */
  readonly attach: (
    topology: TopologyDetail,
    decky: DeckyRow,
    lan: LanRow,
    ip: string
  ) => Effect.Effect<void, TopologyRuntimeError>
  /** Disconnect a decky from a LAN. Not connected is success. */
  readonly detach: (
    topology: TopologyDetail,
    decky: DeckyRow,
    lan: LanRow
  ) => Effect.Effect<void, TopologyRuntimeError>
  /** Start the added services and stop the removed ones, leaving the decky's other services running. */
  readonly updateServices: (
    topology: TopologyDetail,
    decky: DeckyRow,
    added: ReadonlyArray<string>,
    removed: ReadonlyArray<string>
  ) => Effect.Effect<void, TopologyRuntimeError>
  /** Recreate a decky with its current config (a forwards_l3 flip). */
  readonly recreate: (topology: TopologyDetail, decky: DeckyRow) => Effect.Effect<void, TopologyRuntimeError>
  /** Remove what belongs to no topology in `liveTopologyIds` (every topology row, any status). */
  readonly reapOrphans: (liveTopologyIds: ReadonlyArray<string>) => Effect.Effect<ReapReport>
}

export class TopologyRuntime extends Context.Tag("decnet/TopologyRuntime")<
  TopologyRuntime,
  TopologyRuntimeService
>() {}
