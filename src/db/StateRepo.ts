// The `state` key/value table (spec §5.4): JSON values under well-known keys such as `deployment`
// or the workers' cursors. get returns the decoded value or null.
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { JsonText } from "./Columns.js"
import { Dialect } from "./Dialect.js"
import { upsert } from "./Upsert.js"

const StateValue = Schema.Struct({ value: JsonText })
const encodeJson = Schema.encode(JsonText)

export class StateRepo extends Effect.Service<StateRepo>()("decnet/StateRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect

    const get = Effect.fn("StateRepo.get")(function* (key: string) {
      const rows = yield* sql`SELECT ${sql("value")} FROM ${sql("state")} WHERE ${sql("key")} = ${key}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(StateValue))),
        Effect.orDie
      )
      const first = rows[0]
      return first === undefined ? null : first.value
    })

    const set = Effect.fn("StateRepo.set")(function* (key: string, value: unknown) {
      const text = yield* encodeJson(value).pipe(Effect.orDie)
      yield* upsert(sql, dialect, "state", { key, value: text }, ["key"]).pipe(Effect.orDie)
    })

    return { get, set } as const
  })
}) {}
