// The `tarpit_rules` table (spec logging-and-config §5): one rule per decky, keyed by the decky's tarpit
// key (a fleet decky's name, `t:<topology id>:<decky name>` for a MazeNET decky). The rule's shape is also
// the `rule` of `GET …/tarpit`; the key helpers live here so the repositories whose rows a rule depends on
// (fleet_deckies, topologies) drop it with them.
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { JsonText, UtcDateTime } from "./Columns.js"
import { Dialect } from "./Dialect.js"
import { upsert } from "./Upsert.js"

/** A fleet decky's rule key: its name. */
export const fleetTarpitKey = (decky: string): string => decky

/** Every rule key of a topology starts with this (spec topology §10: `t:<topology id>:<decky name>`). */
export const topologyTarpitPrefix = (topologyId: string): string => `t:${topologyId}:`

export const topologyTarpitKey = (topologyId: string, decky: string): string =>
  `${topologyTarpitPrefix(topologyId)}${decky}`

/** A tarpit rule: the `tarpit_rules` row, and the `rule` of `GET …/tarpit`. */
export class TarpitRule extends Schema.Class<TarpitRule>("TarpitRule")({
  id: Schema.String,
  /** The rule key (fleet: the decky's name; MazeNET: `t:<topology id>:<decky name>`). */
  decky_name: Schema.String,
  /** The decky's TCP ports whose replies are delayed. */
  ports: Schema.Array(Schema.Int.pipe(Schema.between(1, 65535))),
  delay_ms: Schema.Int,
  created_at: UtcDateTime,
  created_by: Schema.String
}) {}

/** The row as stored: `ports` as JSON text. */
const RuleRow = Schema.Struct({
  ...TarpitRule.fields,
  ports: JsonText.pipe(Schema.compose(TarpitRule.fields.ports))
})
const decodeRows = Schema.decodeUnknown(Schema.Array(RuleRow))
const encodeRow = Schema.encode(RuleRow)
const decodeUuids = Schema.decodeUnknown(Schema.Array(Schema.Struct({ uuid: Schema.String })))

export class TarpitRepo extends Effect.Service<TarpitRepo>()("decnet/TarpitRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect

    /** Insert or replace the rule of `rule.decky_name` (one rule per decky). */
    const set = Effect.fn("TarpitRepo.set")(function* (rule: TarpitRule) {
      const row = yield* encodeRow(rule).pipe(Effect.orDie)
      yield* upsert(sql, dialect, "tarpit_rules", row, ["decky_name"]).pipe(Effect.orDie)
    })

    const get = Effect.fn("TarpitRepo.get")(function* (key: string) {
      const rows = yield* sql`SELECT * FROM ${sql("tarpit_rules")} WHERE ${sql("decky_name")} = ${key}`.pipe(
        Effect.flatMap(decodeRows),
        Effect.orDie
      )
      return Option.map(Option.fromNullable(rows[0]), (r) => new TarpitRule(r))
    })

    /** true when a rule was deleted. */
    const remove = Effect.fn("TarpitRepo.delete")(function* (key: string) {
      const found = yield* get(key)
      if (Option.isNone(found)) return false
      yield* sql`DELETE FROM ${sql("tarpit_rules")} WHERE ${sql("decky_name")} = ${key}`.pipe(Effect.orDie)
      return true
    })

    /** Every rule, oldest first. */
    const list = Effect.fn("TarpitRepo.list")(function* () {
      const rows = yield* sql`SELECT * FROM ${sql("tarpit_rules")} ORDER BY ${sql("created_at")}, ${sql(
        "decky_name"
      )}`.pipe(Effect.flatMap(decodeRows), Effect.orDie)
      return rows.map((r) => new TarpitRule(r))
    })

    /** The profiled attacker with this address, if the profiler knows one (the watcher's `attacker_uuid`). */
    const attackerUuid = Effect.fn("TarpitRepo.attackerUuid")(function* (ip: string) {
      const rows =
        yield* sql`SELECT ${sql("uuid")} FROM ${sql("attackers")} WHERE ${sql("ip")} = ${ip} ORDER BY ${sql(
          "last_seen"
        )} DESC LIMIT 1`.pipe(Effect.flatMap(decodeUuids), Effect.orDie)
      return Option.map(Option.fromNullable(rows[0]), (r) => r.uuid)
    })

    return { set, get, delete: remove, list, attackerUuid } as const
  })
}) {}
