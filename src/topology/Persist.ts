/**
 * `persist` (spec/topology.md §2): a generated plan becomes a pending topology at version 1, with its LANs,
 * deckies and edges, in one transaction (a plan of 341 LANs is one commit, and a failure leaves nothing
 * half-written). Callers: the API's create route, `decnet topology generate`, `decnet up --topology`.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { TopologyRejected } from "./Errors.js"
import { type GeneratedTopology, homeLanOf } from "./Generator.js"
import { TopologyConfig, type TopologySummary } from "./Model.js"
import { TopologyRepo } from "./TopologyRepo.js"

export interface PersistOptions {
  /** The swarm host an agent-mode topology is pinned to. */
  readonly targetHostUuid?: string | null | undefined
}

const encodeConfig = Schema.encode(TopologyConfig)

/** Writes the plan; the topology's summary back. A duplicate name fails with the repo's message. */
export const persistTopology = (plan: GeneratedTopology, options: PersistOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* TopologyRepo
    const snapshot = yield* encodeConfig(plan.config).pipe(Effect.orDie)
    return yield* sql
      .withTransaction(
        Effect.gen(function* () {
          const topology: TopologySummary = yield* repo.createTopology({
            name: plan.config.name,
            mode: plan.config.mode,
            target_host_uuid: options.targetHostUuid ?? null,
            config_snapshot: snapshot
          })
          const lanIds = new Map<string, string>()
          for (const lan of plan.lans) {
            const row = yield* repo.addLan({
              topology_id: topology.id,
              name: lan.name,
              subnet: lan.subnet,
              is_dmz: lan.is_dmz
            })
            lanIds.set(lan.name, row.id)
          }
          const deckyIds = new Map<string, string>()
          for (const decky of plan.deckies) {
            const home = homeLanOf(decky)
            const row = yield* repo.addDecky({
              topology_id: topology.id,
              name: decky.name,
              services: decky.services,
              decky_config: {
                name: decky.name,
                services: decky.services,
                ips_by_lan: decky.ips_by_lan,
                forwards_l3: decky.forwards_l3,
                service_config: decky.service_config
              },
              ip: home === undefined ? null : (decky.ips_by_lan[home] ?? null)
            })
            deckyIds.set(decky.name, row.uuid)
          }
          for (const edge of plan.edges) {
            const decky = deckyIds.get(edge.decky_name)
            const lan = lanIds.get(edge.lan_name)
            if (decky === undefined || lan === undefined)
              return yield* new TopologyRejected({
                message: `the plan's edge ${edge.decky_name} → ${edge.lan_name} names no planned decky or LAN`
              })
            yield* repo.addEdge({
              topology_id: topology.id,
              decky_uuid: decky,
              lan_id: lan,
              is_bridge: edge.is_bridge,
              forwards_l3: edge.forwards_l3
            })
          }
          return topology
        })
      )
      .pipe(Effect.catchTag("SqlError", (e) => Effect.die(e)))
  }).pipe(Effect.withSpan("Topology.persist"))
