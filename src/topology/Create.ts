/**
 * Making a new topology (spec/topology.md §10, the two create routes and `decnet topology generate`): a
 * generated one (the config's rules, where it runs, a fixed seed, the subnets of every other live topology
 * skipped, then `persistTopology`), or the blank starter the editor begins from. A duplicate name is its
 * own failure, because the API answers it 409 where other rejections are 400.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, Either, ParseResult, Schema } from "effect"
import { SERVICE_NAMES } from "../catalog/Services.js"
import { SubnetAllocator } from "./Allocators.js"
import { TopologyRejected } from "./Errors.js"
import { generate, seedConfig } from "./Generator.js"
import { TopologyConfig, type TopologyMode } from "./Model.js"
import { persistTopology } from "./Persist.js"
import { checkPlacement } from "./Placement.js"
import { TopologyRepo } from "./TopologyRepo.js"

/** Where an editor-made LAN takes its /24 when none is given (§5: `10.0.x.0/24`). */
export const EDITOR_SUBNET_BASE = "10.0"

/** Topology names are unique across every topology, torn down or not. */
export class TopologyNameTaken extends Data.TaggedError("TopologyNameTaken")<{ readonly name: string }> {
  override get message() {
    return `A topology named '${this.name}' already exists.`
  }
}

/** The repository rejects a taken name with exactly this text (its unique index, §1). */
const nameTaken =
  (name: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TopologyNameTaken, R> => {
    const taken = new TopologyNameTaken({ name })
    return Effect.mapError(self, (e) =>
      e instanceof TopologyRejected && e.message === taken.message ? taken : e
    )
  }

const validateConfig = Schema.validate(TopologyConfig)

/** A schema failure as the operator's one line: where, then what. */
export const describeParseError = (e: ParseResult.ParseError): string => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  if (first === undefined) return e.message
  const where = first.path.length === 0 ? "" : `${first.path.join(".")}: `
  return `${where}${first.message}`
}

/**
 * The config's own rules (§2: ranges, min ≤ max, some services), and explicit services a decky can run
 * (the validator would refuse the deploy later; better now).
 */
export const checkConfig = (config: TopologyConfig) =>
  Effect.gen(function* () {
    const checked = yield* validateConfig(config).pipe(
      Effect.mapError((e) => new TopologyRejected({ message: describeParseError(e) }))
    )
    const known = new Set<string>(SERVICE_NAMES)
    const unknown = (checked.services_explicit ?? []).filter((s) => !known.has(s))
    if (unknown.length > 0)
      return yield* new TopologyRejected({
        message: `unknown service(s) in services_explicit: ${unknown.join(", ")} (a decky may run: ${SERVICE_NAMES.join(", ")})`
      })
    return checked
  })

/**
 * Check the config and where it runs, fix its seed, plan around the subnets every other topology still
 * holds (§5 reserved_subnets), and store the plan. The plan comes back too, seed included, for the CLI.
 */
export const generateTopology = (config: TopologyConfig, targetHostUuid: string | null = null) =>
  Effect.gen(function* () {
    const checked = yield* checkConfig(config)
    yield* checkPlacement(checked.mode, targetHostUuid)
    const seeded = yield* seedConfig(checked)
    const repo = yield* TopologyRepo
    const reserved = yield* repo.reservedSubnets()
    const plan = yield* generate(seeded, reserved)
    const topology = yield* persistTopology(plan, { targetHostUuid }).pipe(nameTaken(plan.config.name))
    return { topology, plan }
  }).pipe(Effect.withSpan("Topology.generateTopology"))

export interface BlankTopology {
  readonly name: string
  readonly mode: TopologyMode
  readonly target_host_uuid: string | null
}

/**
 * The editor's starting point (§10 `POST /blank`): a DMZ LAN `dmz` on the next free `10.0.x.0/24` (the
 * subnets of live topologies skipped) and one gateway decky, `dmz-gateway` (ssh, the `deaddeck`
 * archetype, forwarding), bridged onto it; its address is filled in when the topology is read. One
 * transaction.
 */
export const createBlank = (input: BlankTopology) =>
  Effect.gen(function* () {
    yield* checkPlacement(input.mode, input.target_host_uuid)
    const repo = yield* TopologyRepo
    const sql = yield* SqlClient.SqlClient
    const reserved = yield* repo.reservedSubnets()
    const subnet = yield* Either.flatMap(SubnetAllocator.make(EDITOR_SUBNET_BASE, reserved), (a) =>
      a.nextFree()
    )
    const write = Effect.gen(function* () {
      const topology = yield* repo
        .createTopology({
          name: input.name,
          mode: input.mode,
          target_host_uuid: input.target_host_uuid,
          config_snapshot: { blank: true }
        })
        .pipe(nameTaken(input.name))
      const lan = yield* repo.addLan({
        topology_id: topology.id,
        name: "dmz",
        subnet,
        is_dmz: true,
        x: 40,
        y: 40
      })
      const gateway = yield* repo.addDecky({
        topology_id: topology.id,
        name: "dmz-gateway",
        services: ["ssh"],
        decky_config: { archetype: "deaddeck", forwards_l3: true },
        x: 20,
        y: 60
      })
      yield* repo.addEdge({
        topology_id: topology.id,
        decky_uuid: gateway.uuid,
        lan_id: lan.id,
        is_bridge: true,
        forwards_l3: true
      })
      return topology
    })
    return yield* sql.withTransaction(write).pipe(Effect.catchTag("SqlError", (e) => Effect.die(e)))
  }).pipe(Effect.withSpan("Topology.createBlank"))

/** The next free `/24` for a LAN added by hand (§10 `POST /{id}/lans` without a subnet). */
export const nextEditorSubnet = Effect.gen(function* () {
  const repo = yield* TopologyRepo
  const reserved = yield* repo.reservedSubnets()
  return yield* Either.flatMap(SubnetAllocator.make(EDITOR_SUBNET_BASE, reserved), (a) => a.nextFree())
})
