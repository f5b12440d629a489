/**
 * MazeNET's data (spec/topology.md §1–§2). One Schema per shape: each decodes its database row (0/1
 * booleans, JSON text columns, naive-UTC datetimes) and a JSON body alike, and encodes to the JSON the
 * API, the bus and the CLI's `--json` carry. The database writer turns values into columns itself.
 */
import { ParseResult, Schema } from "effect"
import { UtcDateTime } from "../db/Columns.js"

// ---- column-or-JSON encodings ---------------------------------------------------------------------------

/** A boolean: `true`/`false` from JSON, 0/1 from either database engine; encodes to a boolean. */
export const Flag = Schema.transform(Schema.Union(Schema.Boolean, Schema.Number), Schema.Boolean, {
  strict: true,
  decode: (v) => (typeof v === "boolean" ? v : v !== 0),
  encode: (b) => b
})

/**
 * A JSON value: already parsed (a JSON body) or held as text (a database column); encodes to the value.
 * Text that is not JSON fails with the parser's message.
 */
export const JsonValue = <A, I, R>(schema: Schema.Schema<A, I, R>) =>
  Schema.transformOrFail(Schema.Unknown, schema, {
    strict: true,
    decode: (v, _, ast) => {
      if (typeof v !== "string") return ParseResult.succeed(v)
      try {
        return ParseResult.succeed(JSON.parse(v.length === 0 ? "{}" : v))
      } catch (e) {
        return ParseResult.fail(new ParseResult.Type(ast, v, `not JSON: ${String(e)}`))
      }
    },
    encode: (v) => ParseResult.succeed(v)
  })

// ---- enumerations -------------------------------------------------------------------------------------

export const TOPOLOGY_STATUSES = [
  "pending",
  "deploying",
  "active",
  "degraded",
  "failed",
  "tearing_down",
  "torn_down"
] as const
export const TopologyStatus = Schema.Literal(...TOPOLOGY_STATUSES)
export type TopologyStatus = typeof TopologyStatus.Type

/** Topologies whose LANs hold their subnets (torn_down releases them). */
export const SUBNET_HOLDING_STATUSES: ReadonlyArray<TopologyStatus> = [
  "pending",
  "deploying",
  "active",
  "degraded",
  "failed",
  "tearing_down"
]
/** Topologies the reconciler drains and the mutation route accepts. */
export const LIVE_STATUSES: ReadonlyArray<TopologyStatus> = ["active", "degraded"]

export const TopologyMode = Schema.Literal("unihost", "agent")
export type TopologyMode = typeof TopologyMode.Type

export const TOPOLOGY_DECKY_STATES = [
  "pending",
  "running",
  "failed",
  "torn_down",
  "degraded",
  "tearing_down",
  "teardown_failed"
] as const
export const TopologyDeckyState = Schema.Literal(...TOPOLOGY_DECKY_STATES)
export type TopologyDeckyState = typeof TopologyDeckyState.Type

export const MUTATION_OPS = [
  "add_lan",
  "remove_lan",
  "add_decky",
  "attach_decky",
  "detach_decky",
  "remove_decky",
  "update_decky",
  "update_lan"
] as const
export const MutationOp = Schema.Literal(...MUTATION_OPS)
export type MutationOp = typeof MutationOp.Type

export const MUTATION_ROW_STATES = ["pending", "applying", "applied", "failed"] as const
export const MutationRowState = Schema.Literal(...MUTATION_ROW_STATES)
export type MutationRowState = typeof MutationRowState.Type

// ---- the generator's input (§2) -------------------------------------------------------------------------

/** `172.16.0.0/12`, the legacy two-octet `172.20` (a /16), or four octets without a prefix (a /24). */
export const SubnetBase = Schema.String.pipe(
  Schema.pattern(/^\d{1,3}\.\d{1,3}(\.\d{1,3}\.\d{1,3}\/\d{1,2})?$/, {
    message: () => "a subnet base: a CIDR such as 172.16.0.0/12, or two octets such as 172.20"
  })
)

export const TopologyName = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))

const TopologyConfigFields = Schema.Struct({
  name: TopologyName,
  mode: Schema.optionalWith(TopologyMode, { default: () => "unihost" as const }),
  /** Levels below the DMZ. */
  depth: Schema.Int.pipe(Schema.between(1, 16)),
  branching_factor: Schema.Int.pipe(Schema.between(1, 8)),
  deckies_per_lan_min: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 32)), { default: () => 1 }),
  deckies_per_lan_max: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 32)), { default: () => 3 }),
  bridge_forward_probability: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), {
    default: () => 1
  }),
  cross_edge_probability: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0 }),
  subnet_base_prefix: Schema.optionalWith(SubnetBase, { default: () => "172.16.0.0/12" }),
  randomize_services: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  services_explicit: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  /** The generator's seed; null: one is drawn and recorded in the config snapshot. */
  seed: Schema.optionalWith(Schema.NullOr(Schema.Int.pipe(Schema.greaterThanOrEqualTo(0))), {
    default: () => null
  })
})

/** What `generate` takes (the CLI flags, the API body, the snapshot stored with the topology). */
export const TopologyConfig = TopologyConfigFields.pipe(
  Schema.filter((c) =>
    c.deckies_per_lan_min > c.deckies_per_lan_max
      ? "deckies_per_lan_min must be <= deckies_per_lan_max"
      : !c.randomize_services && (c.services_explicit === null || c.services_explicit.length === 0)
        ? "either randomize_services=True or services_explicit must be set"
        : undefined
  )
).annotations({ identifier: "TopologyConfig" })
export type TopologyConfig = typeof TopologyConfig.Type

// ---- rows (§1) --------------------------------------------------------------------------------------------

const Coord = Schema.NullOr(Schema.Number)

/** `decky_config`: the decky's name, its address per LAN (the first key is its home LAN), and its knobs. */
export const DeckyConfig = Schema.Struct(
  {
    name: Schema.optional(Schema.String),
    services: Schema.optional(Schema.Array(Schema.String)),
    /** LAN name → IPv4, in insertion order: the first entry is the home LAN. */
    ips_by_lan: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
    forwards_l3: Schema.optional(Schema.Boolean),
    service_config: Schema.optional(
      Schema.Record({
        key: Schema.String,
        value: Schema.Record({ key: Schema.String, value: Schema.Unknown })
      })
    ),
    archetype: Schema.optional(Schema.NullOr(Schema.String))
  },
  // Unknown keys are kept as they are (an operator's patch may carry them).
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ identifier: "DeckyConfig" })
export type DeckyConfig = typeof DeckyConfig.Type

/** TopologySummary: a `topologies` row as the API lists it (the config snapshot stays inside). */
export const TopologySummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  mode: TopologyMode,
  target_host_uuid: Schema.NullOr(Schema.String),
  status: TopologyStatus,
  version: Schema.Int,
  needs_resync: Flag,
  created_at: UtcDateTime,
  status_changed_at: UtcDateTime,
  email_personas: Schema.String,
  language_default: Schema.String
}).annotations({ identifier: "TopologySummary" })
export type TopologySummary = typeof TopologySummary.Type

/** The whole `topologies` row: the summary plus the generator's config snapshot (JSON text). */
export const TopologyRecord = Schema.Struct({
  ...TopologySummary.fields,
  config_snapshot: Schema.String
})
export type TopologyRecord = typeof TopologyRecord.Type

export const LanRow = Schema.Struct({
  id: Schema.String,
  topology_id: Schema.String,
  name: Schema.String,
  subnet: Schema.String,
  is_dmz: Flag,
  docker_network_id: Schema.NullOr(Schema.String),
  x: Coord,
  y: Coord
}).annotations({ identifier: "LanRow" })
export type LanRow = typeof LanRow.Type

export const DeckyRow = Schema.Struct({
  uuid: Schema.String,
  topology_id: Schema.String,
  name: Schema.String,
  services: JsonValue(Schema.Array(Schema.String)),
  decky_config: Schema.NullOr(JsonValue(DeckyConfig)),
  /** The home-LAN address. */
  ip: Schema.NullOr(Schema.String),
  state: TopologyDeckyState,
  last_error: Schema.NullOr(Schema.String),
  x: Coord,
  y: Coord
}).annotations({ identifier: "DeckyRow" })
export type DeckyRow = typeof DeckyRow.Type

/** Decky ↔ LAN membership; a decky with two or more is multi-homed (a bridge). */
export const EdgeRow = Schema.Struct({
  id: Schema.String,
  topology_id: Schema.String,
  decky_uuid: Schema.String,
  lan_id: Schema.String,
  is_bridge: Flag,
  forwards_l3: Flag
}).annotations({ identifier: "EdgeRow" })
export type EdgeRow = typeof EdgeRow.Type

export const StatusEventRow = Schema.Struct({
  id: Schema.String,
  topology_id: Schema.String,
  from_status: Schema.String,
  to_status: Schema.String,
  at: UtcDateTime,
  reason: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TopologyStatusEventRow" })
export type StatusEventRow = typeof StatusEventRow.Type

/** A queued live edit. `op` is not checked here: the queue stores what it was given. */
export const MutationRow = Schema.Struct({
  id: Schema.String,
  topology_id: Schema.String,
  op: Schema.String,
  payload: JsonValue(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  state: MutationRowState,
  requested_at: UtcDateTime,
  applied_at: Schema.NullOr(UtcDateTime),
  reason: Schema.NullOr(Schema.String)
}).annotations({ identifier: "MutationRow" })
export type MutationRow = typeof MutationRow.Type

/**
 * A topology with everything in it (`GET /topologies/{id}`, `hydrate`): LANs and deckies by name, edges
 * in insertion order, every decky_config backfilled with its name and an address on each of its LANs.
 */
export const TopologyDetail = Schema.Struct({
  topology: TopologySummary,
  lans: Schema.Array(LanRow),
  deckies: Schema.Array(DeckyRow),
  edges: Schema.Array(EdgeRow)
}).annotations({ identifier: "TopologyDetail" })
export type TopologyDetail = typeof TopologyDetail.Type
