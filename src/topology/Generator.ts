/**
 * The MazeNET generator (spec/topology.md §2): a seeded plan of LANs as a tree under one DMZ, home deckies
 * on every LAN, one bridge decky per LAN multi-homed to its parent, and optional cross edges that turn the
 * tree into a DAG. Pure: names and addresses only, no ids; persisting and deploying are elsewhere.
 */
import { Array as Arr, Effect, Either, Random, Schema } from "effect"
import { SERVICE_NAMES } from "../catalog/Services.js"
import { canRun } from "../mutator/Rotation.js"
import { IpAllocator, SubnetAllocator } from "./Allocators.js"
import type { AllocatorExhausted, TopologyRejected } from "./Errors.js"
import {
  type DeckyRow,
  type EdgeRow,
  type LanRow,
  TopologyConfig,
  type TopologyDetail,
  type TopologySummary
} from "./Model.js"
import { byName } from "./Order.js"
import { SeededRandom } from "./Random.js"

// ---- the plan -------------------------------------------------------------------------------------------

export const PlannedLan = Schema.Struct({
  name: Schema.String,
  subnet: Schema.String,
  is_dmz: Schema.Boolean,
  /** The LAN it hangs under; null for the DMZ. */
  parent: Schema.NullOr(Schema.String)
}).annotations({ identifier: "PlannedLan" })
export type PlannedLan = typeof PlannedLan.Type

export const PlannedDecky = Schema.Struct({
  name: Schema.String,
  services: Schema.Array(Schema.String),
  /** LAN name → address, in the order joined: the first entry is the home LAN. */
  ips_by_lan: Schema.Record({ key: Schema.String, value: Schema.String }),
  forwards_l3: Schema.Boolean,
  service_config: Schema.Record({
    key: Schema.String,
    value: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  })
}).annotations({ identifier: "PlannedDecky" })
export type PlannedDecky = typeof PlannedDecky.Type

export const PlannedEdge = Schema.Struct({
  decky_name: Schema.String,
  lan_name: Schema.String,
  is_bridge: Schema.Boolean,
  forwards_l3: Schema.Boolean
}).annotations({ identifier: "PlannedEdge" })
export type PlannedEdge = typeof PlannedEdge.Type

/** What `generate` returns: names are unique; LANs in BFS order, deckies by number, edges as added. */
export const GeneratedTopology = Schema.Struct({
  config: TopologyConfig,
  lans: Schema.Array(PlannedLan),
  deckies: Schema.Array(PlannedDecky),
  edges: Schema.Array(PlannedEdge)
}).annotations({ identifier: "GeneratedTopology" })
export type GeneratedTopology = typeof GeneratedTopology.Type

/** A config whose seed is fixed: what `generate` takes. */
export type SeededTopologyConfig = TopologyConfig & { readonly seed: number }

/** Seeds are drawn from [0, 2^31) so that they print and travel as plain integers. */
const SEED_BOUND = 2 ** 31

/** Fixes a null seed with one drawn from Effect's `Random` (recorded in the config snapshot). */
export const seedConfig = (config: TopologyConfig): Effect.Effect<SeededTopologyConfig> => {
  const seed = config.seed
  return seed !== null
    ? Effect.succeed({ ...config, seed })
    : Effect.map(Random.nextIntBetween(0, SEED_BOUND), (drawn) => ({ ...config, seed: drawn }))
}

/** The home LAN of a decky: the first entry of its `ips_by_lan`. */
export const homeLanOf = (decky: {
  readonly ips_by_lan: Readonly<Record<string, string>>
}): string | undefined => Object.keys(decky.ips_by_lan)[0]

// ---- drafts: the mutable working set of one run ---------------------------------------------------------

interface LanDraft {
  readonly name: string
  readonly subnet: string
  readonly isDmz: boolean
  readonly parent: LanDraft | null
  readonly ips: IpAllocator
  /** Deckies whose home this LAN is, in creation order. */
  readonly home: Array<DeckyDraft>
}

interface DeckyDraft {
  readonly name: string
  readonly services: ReadonlyArray<string>
  readonly ipsByLan: Map<string, string>
  forwardsL3: boolean
  readonly edges: Array<EdgeDraft>
}

interface EdgeDraft {
  readonly decky: DeckyDraft
  readonly lan: string
  isBridge: boolean
  forwardsL3: boolean
}

/**
 * What random services are drawn from: the catalog's non-singleton services that have an emulator. A
 * catalog service without one (snmp, sip…) would keep its decky from starting on either runtime, so it is
 * never drawn (the flat fleet's rotation draws from the same set); services_explicit may still name it.
 */
export const RANDOM_SERVICE_POOL: ReadonlyArray<string> = SERVICE_NAMES.filter(canRun)

/** Services per randomly served decky, as the flat fleet draws them. */
const SERVICES_MIN = 1
const SERVICES_MAX = 3
/** Draws before a repeated service set is accepted. */
const DISTINCT_ATTEMPTS = 20

/**
 * Plans a topology. One PRNG drives every draw, in this order: child counts per parent (BFS), each LAN's
 * home-decky count and each decky's services, each bridge's pick and forwarding roll, then the cross-edge
 * rolls. The same config (seed included) and reservations give the same plan.
 *
 * Fails with `TopologyRejected` for a subnet base that is not one (§5), `AllocatorExhausted` when the base
 * runs out of /24s or a LAN out of addresses.
 */
export const generate = (
  config: SeededTopologyConfig,
  reservedSubnets: Iterable<string> = []
): Either.Either<GeneratedTopology, AllocatorExhausted | TopologyRejected> =>
  Either.gen(function* () {
    const rng = SeededRandom.fromSeed(config.seed)
    const pool: ReadonlyArray<string> = config.randomize_services ? RANDOM_SERVICE_POOL : []
    const explicit = config.services_explicit ?? []
    const seenSets = new Set<string>()
    const subnets = yield* SubnetAllocator.make(config.subnet_base_prefix, reservedSubnets)

    // 1. The LAN tree, breadth first: LAN-00 is the DMZ, then 1..branching children per parent per level.
    const lans: Array<LanDraft> = []
    const newLan = function* (parent: LanDraft | null) {
      const subnet = yield* subnets.nextFree()
      const lan: LanDraft = {
        name: `LAN-${String(lans.length).padStart(2, "0")}`,
        subnet,
        isDmz: parent === null,
        parent,
        ips: yield* IpAllocator.make(subnet),
        home: []
      }
      lans.push(lan)
      return lan
    }
    let frontier: ReadonlyArray<LanDraft> = [yield* newLan(null)]
    for (let level = 1; level <= config.depth; level++) {
      const next: Array<LanDraft> = []
      for (const parent of frontier) {
        const children = rng.randint(1, config.branching_factor)
        for (let i = 0; i < children; i++) next.push(yield* newLan(parent))
      }
      frontier = next
    }

    // 2. Home deckies: one on the DMZ, min..max (at least one, to host the bridge) elsewhere.
    const pickServices = (): ReadonlyArray<string> => {
      if (explicit.length > 0) return [...explicit]
      if (pool.length === 0) return []
      let chosen: Array<string> = []
      for (let attempt = 1; ; attempt++) {
        chosen = rng.sample(pool, rng.randint(SERVICES_MIN, Math.min(SERVICES_MAX, pool.length))).sort()
        if (!seenSets.has(chosen.join(",")) || attempt > DISTINCT_ATTEMPTS) break
      }
      seenSets.add(chosen.join(","))
      return chosen
    }
    const deckies: Array<DeckyDraft> = []
    const edges: Array<EdgeDraft> = []
    const addEdge = (decky: DeckyDraft, lan: string, isBridge: boolean) => {
      const edge: EdgeDraft = { decky, lan, isBridge, forwardsL3: decky.forwardsL3 }
      decky.edges.push(edge)
      edges.push(edge)
    }
    for (const lan of lans) {
      const count = lan.isDmz
        ? 1
        : Math.max(1, rng.randint(config.deckies_per_lan_min, config.deckies_per_lan_max))
      for (let i = 0; i < count; i++) {
        const name = `decky-${String(deckies.length + 1).padStart(3, "0")}`
        const services = pickServices()
        const decky: DeckyDraft = {
          name,
          services,
          ipsByLan: new Map([[lan.name, yield* lan.ips.nextFree()]]),
          forwardsL3: false,
          edges: []
        }
        deckies.push(decky)
        lan.home.push(decky)
        addEdge(decky, lan.name, false)
      }
    }

    // Joining another LAN makes a decky a bridge on all its edges; its forwarding flag only ever turns on.
    const join = function* (decky: DeckyDraft, lan: LanDraft) {
      decky.ipsByLan.set(lan.name, yield* lan.ips.nextFree())
      decky.forwardsL3 = rng.random() < config.bridge_forward_probability || decky.forwardsL3
      for (const edge of decky.edges) {
        edge.isBridge = true
        edge.forwardsL3 = decky.forwardsL3
      }
      addEdge(decky, lan.name, true)
    }

    // 3. Bridges: one home decky of every non-DMZ LAN also joins the parent LAN.
    for (const lan of lans) {
      if (lan.parent === null || !Arr.isNonEmptyReadonlyArray(lan.home)) continue
      yield* join(rng.choice(lan.home), lan.parent)
    }

    // 4. Cross edges: with the given probability, a home decky of a non-DMZ LAN also joins a LAN that is
    //    neither that LAN, its parent nor one of its children (the DMZ may be picked).
    if (config.cross_edge_probability > 0) {
      for (const lan of lans) {
        if (lan.isDmz) continue
        if (rng.random() >= config.cross_edge_probability) continue
        const peers = lans.filter((p) => p !== lan && p !== lan.parent && p.parent !== lan)
        if (!Arr.isNonEmptyReadonlyArray(peers) || !Arr.isNonEmptyReadonlyArray(lan.home)) continue
        const peer = rng.choice(peers)
        const decky = rng.choice(lan.home)
        if (decky.ipsByLan.has(peer.name)) continue
        yield* join(decky, peer)
      }
    }

    return {
      config,
      lans: lans.map((lan) => ({
        name: lan.name,
        subnet: lan.subnet,
        is_dmz: lan.isDmz,
        parent: lan.parent === null ? null : lan.parent.name
      })),
      deckies: deckies.map((decky) => ({
        name: decky.name,
        services: decky.services,
        ips_by_lan: Object.fromEntries(decky.ipsByLan),
        forwards_l3: decky.forwardsL3,
        service_config: {}
      })),
      edges: edges.map((edge) => ({
        decky_name: edge.decky.name,
        lan_name: edge.lan,
        is_bridge: edge.isBridge,
        forwards_l3: edge.forwardsL3
      }))
    }
  })

// ---- the plan as a hydrated topology ----------------------------------------------------------------------

export interface DetailOptions {
  readonly topologyId?: string
  /** created_at and status_changed_at (volatile: they never reach the canonical hash). */
  readonly now?: Date
}

/**
 * The plan as `hydrate` would return it after `persist` (§1, §2): a pending topology at version 1, LANs and
 * deckies by name, edges in plan order, each decky's config as persist writes it. Ids are made up from the
 * names (`lan:LAN-00`, `decky:decky-001`, `edge:0`), so the validator and the hash can run without a
 * database.
 */
export const toDetail = (plan: GeneratedTopology, options: DetailOptions = {}): TopologyDetail => {
  const topologyId = options.topologyId ?? "generated"
  const now = options.now ?? new Date(0)
  const lanId = (name: string) => `lan:${name}`
  const deckyId = (name: string) => `decky:${name}`
  const topology: TopologySummary = {
    id: topologyId,
    name: plan.config.name,
    mode: plan.config.mode,
    target_host_uuid: null,
    status: "pending",
    version: 1,
    needs_resync: false,
    created_at: now,
    status_changed_at: now,
    email_personas: "[]",
    language_default: "en"
  }
  const lans: Array<LanRow> = plan.lans.map((lan) => ({
    id: lanId(lan.name),
    topology_id: topologyId,
    name: lan.name,
    subnet: lan.subnet,
    is_dmz: lan.is_dmz,
    docker_network_id: null,
    x: null,
    y: null
  }))
  const deckies: Array<DeckyRow> = plan.deckies.map((decky) => {
    const home = homeLanOf(decky)
    return {
      uuid: deckyId(decky.name),
      topology_id: topologyId,
      name: decky.name,
      services: decky.services,
      decky_config: {
        name: decky.name,
        services: decky.services,
        ips_by_lan: decky.ips_by_lan,
        forwards_l3: decky.forwards_l3,
        service_config: decky.service_config
      },
      ip: home === undefined ? null : (decky.ips_by_lan[home] ?? null),
      state: "pending",
      last_error: null,
      x: null,
      y: null
    }
  })
  const edges: Array<EdgeRow> = plan.edges.map((edge, i) => ({
    id: `edge:${i}`,
    topology_id: topologyId,
    decky_uuid: deckyId(edge.decky_name),
    lan_id: lanId(edge.lan_name),
    is_bridge: edge.is_bridge,
    forwards_l3: edge.forwards_l3
  }))
  return { topology, lans: lans.sort(byName), deckies: deckies.sort(byName), edges }
}
