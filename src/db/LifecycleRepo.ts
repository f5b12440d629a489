// `decky_lifecycle` (spec api §7.12): one row per decky per deploy or mutate the API accepted, moved from
// pending to running to succeeded or failed by the background work, polled by the dashboard.
import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Schema } from "effect"
import { formatUtc, UtcDateTime } from "./Columns.js"

export const LifecycleStatus = Schema.Literal("pending", "running", "succeeded", "failed")
export type LifecycleStatus = typeof LifecycleStatus.Type

/** A `decky_lifecycle` row: the API's `GET /deckies/lifecycle` item. */
export const LifecycleRow = Schema.Struct({
  id: Schema.String,
  decky_name: Schema.String,
  host_uuid: Schema.NullOr(Schema.String),
  operation: Schema.String,
  status: LifecycleStatus,
  error: Schema.NullOr(Schema.String),
  started_at: UtcDateTime,
  updated_at: UtcDateTime,
  completed_at: Schema.NullOr(UtcDateTime)
})
export type LifecycleRow = typeof LifecycleRow.Type

const decodeRows = Schema.decodeUnknown(Schema.Array(LifecycleRow))

export class LifecycleRepo extends Effect.Service<LifecycleRepo>()("decnet/LifecycleRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const now = Effect.map(Clock.currentTimeMillis, (ms) => formatUtc(new Date(ms)))

    /** A pending row per decky; their ids in the same order. */
    const create = Effect.fn("LifecycleRepo.create")(function* (
      operation: "deploy" | "mutate",
      deckies: ReadonlyArray<{ readonly name: string; readonly host_uuid: string | null }>
    ) {
      if (deckies.length === 0) return []
      const at = yield* now
      const rows = deckies.map((d) => ({
        id: randomUUID(),
        decky_name: d.name,
        host_uuid: d.host_uuid,
        operation,
        status: "pending",
        error: null,
        started_at: at,
        updated_at: at,
        completed_at: null
      }))
      yield* sql`INSERT INTO ${sql("decky_lifecycle")} ${sql.insert(rows)}`.pipe(Effect.orDie)
      return rows.map((r) => r.id)
    })

    /** Move rows on; a final status stamps `completed_at`. The error is cut to 2,000 characters. */
    const update = Effect.fn("LifecycleRepo.update")(function* (
      ids: ReadonlyArray<string>,
      status: LifecycleStatus,
      error: string | null = null
    ) {
      if (ids.length === 0) return
      const at = yield* now
      const done = status === "succeeded" || status === "failed"
      yield* sql`UPDATE ${sql("decky_lifecycle")} SET ${sql.update({
        status,
        error: error === null ? null : error.slice(0, 2000),
        updated_at: at,
        ...(done ? { completed_at: at } : {})
      })} WHERE ${sql.in("id", ids)}`.pipe(Effect.orDie)
    })

    const get = Effect.fn("LifecycleRepo.get")(function* (ids: ReadonlyArray<string>) {
      if (ids.length === 0) return []
      return yield* sql`SELECT * FROM ${sql("decky_lifecycle")} WHERE ${sql.in("id", ids)}`.pipe(
        Effect.flatMap(decodeRows),
        Effect.orDie
      )
    })

    return { create, update, get } as const
  })
}) {}
