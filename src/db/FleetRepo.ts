// The fleet inventory (`fleet_deckies`, keyed by host_uuid + name): what is deployed where and in
// which state. The deployer upserts rows; status and the API read them.
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { formatUtc } from "./Columns.js"
import { Dialect } from "./Dialect.js"
import { FleetDecky, type FleetDeckyInput } from "./Rows.js"
import { fleetTarpitKey } from "./TarpitRepo.js"
import { upsert } from "./Upsert.js"

export const LOCAL_HOST = "local"
const decodeRows = Schema.decodeUnknown(Schema.Array(FleetDecky))

export class FleetRepo extends Effect.Service<FleetRepo>()("decnet/FleetRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect

    const upsertDecky = Effect.fn("FleetRepo.upsert")(function* (input: FleetDeckyInput) {
      const row = {
        host_uuid: input.host_uuid ?? LOCAL_HOST,
        name: input.name,
        services: JSON.stringify(input.services ?? []),
        decky_config:
          input.decky_config === undefined || input.decky_config === null
            ? null
            : JSON.stringify(input.decky_config),
        decky_ip: input.decky_ip ?? null,
        state: input.state ?? "pending",
        last_error: input.last_error ?? null,
        compose_hash: input.compose_hash ?? null,
        last_seen:
          input.last_seen === undefined || input.last_seen === null ? null : formatUtc(input.last_seen),
        updated_at: formatUtc(new Date())
      }
      yield* upsert(sql, dialect, "fleet_deckies", row, ["host_uuid", "name"]).pipe(Effect.orDie)
    })

    const list = Effect.fn("FleetRepo.list")(function* (hostUuid?: string) {
      const filter = hostUuid === undefined ? sql.literal("") : sql`WHERE ${sql("host_uuid")} = ${hostUuid}`
      return yield* sql`SELECT * FROM ${sql("fleet_deckies")} ${filter} ORDER BY ${sql("host_uuid")}, ${sql(
        "name"
      )}`.pipe(Effect.flatMap(decodeRows), Effect.orDie)
    })

    const get = Effect.fn("FleetRepo.get")(function* (name: string, hostUuid: string = LOCAL_HOST) {
      const rows =
        yield* sql`SELECT * FROM ${sql("fleet_deckies")} WHERE ${sql("host_uuid")} = ${hostUuid} AND ${sql(
          "name"
        )} = ${name}`.pipe(Effect.flatMap(decodeRows), Effect.orDie)
      return Option.fromNullable(rows[0])
    })

    // No read-then-write transaction here: on SQLite (WAL) a deferred transaction that has read cannot
    // take the write lock while another connection writes; it fails at once, without the busy wait. A
    // single statement waits (busy_timeout), and a lost race (the row went in between) is harmless.

    /** true when a row was deleted. */
    const remove = Effect.fn("FleetRepo.delete")(function* (name: string, hostUuid: string = LOCAL_HOST) {
      const found = yield* get(name, hostUuid)
      if (Option.isNone(found)) return false
      yield* sql`DELETE FROM ${sql("fleet_deckies")} WHERE ${sql("host_uuid")} = ${hostUuid} AND ${sql("name")} = ${name}`.pipe(
        Effect.orDie
      )
      // A decky that leaves the fleet takes its tarpit rule with it (its container, and the delay in it, are gone).
      yield* sql`DELETE FROM ${sql("tarpit_rules")} WHERE ${sql("decky_name")} = ${fleetTarpitKey(name)}`.pipe(
        Effect.orDie
      )
      return true
    })

    /** true when the decky exists (and now has the state). */
    const setState = Effect.fn("FleetRepo.setState")(function* (
      name: string,
      state: string,
      options: { readonly hostUuid?: string; readonly lastError?: string | null } = {}
    ) {
      const hostUuid = options.hostUuid ?? LOCAL_HOST
      yield* sql`UPDATE ${sql("fleet_deckies")} SET ${sql.update({
        state,
        last_error: options.lastError ?? null,
        updated_at: formatUtc(new Date())
      })} WHERE ${sql("host_uuid")} = ${hostUuid} AND ${sql("name")} = ${name}`.pipe(Effect.orDie)
      return Option.isSome(yield* get(name, hostUuid))
    })

    return { upsert: upsertDecky, list, get, delete: remove, setState } as const
  })
}) {}
