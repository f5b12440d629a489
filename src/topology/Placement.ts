/**
 * Where a new topology runs (spec/topology.md §10, the create routes' mode/host matrix): a unihost topology
 * runs on the master and names no host; an agent topology names an enrolled or active swarm host. The
 * swarm hosts are the `swarm_hosts` rows the swarm issue fills; until then every agent topology is refused
 * here as naming an unknown host.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { TopologyRejected } from "./Errors.js"
import type { TopologyMode } from "./Model.js"

/** Host statuses a topology may be pinned to. */
export const PLACEABLE_HOST_STATUSES: ReadonlyArray<string> = ["enrolled", "active"]

const decodeHosts = Schema.decodeUnknown(Schema.Array(Schema.Struct({ status: Schema.String })))

/** Succeeds when `mode` and `targetHostUuid` go together and the host can take a topology. */
export const checkPlacement = (mode: TopologyMode, targetHostUuid: string | null) =>
  Effect.gen(function* () {
    if (mode === "unihost") {
      if (targetHostUuid !== null)
        return yield* new TopologyRejected({
          message: "mode='unihost' must not set target_host_uuid (use mode='agent' to pin a swarm host)"
        })
      return
    }
    if (targetHostUuid === null)
      return yield* new TopologyRejected({ message: "mode='agent' requires target_host_uuid" })
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT status FROM swarm_hosts WHERE uuid = ${targetHostUuid}`.pipe(
      Effect.flatMap(decodeHosts),
      Effect.orDie
    )
    const host = rows[0]
    if (host === undefined)
      return yield* new TopologyRejected({ message: `unknown swarm host '${targetHostUuid}'` })
    if (!PLACEABLE_HOST_STATUSES.includes(host.status))
      return yield* new TopologyRejected({
        message: `swarm host '${targetHostUuid}' is ${host.status}; a topology needs an enrolled or active host`
      })
  }).pipe(Effect.withSpan("Topology.checkPlacement"))
