import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted, Schema } from "effect"
import { expect, it } from "vitest"
import { Dialect, MIGRATIONS_TABLE, MysqlLive, migrate, tables } from "../../src/db/index.js"
import { type Backend, onBothBackends, onMariadb } from "./backends.js"

const Names = Schema.Array(Schema.Struct({ name: Schema.String }))
const IndexRow = Schema.Array(
  Schema.Struct({ name: Schema.String, uniq: Schema.Union(Schema.Number, Schema.String) })
)

const listTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const dialect = yield* Dialect
  const rows =
    dialect === "mysql"
      ? yield* sql`SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`
      : yield* sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
  return (yield* Schema.decodeUnknown(Names)(rows)).map((r) => r.name).filter((n) => n !== MIGRATIONS_TABLE)
})

/** index name → unique?, for every index of the schema (PK indexes excluded). */
const listIndexes = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const dialect = yield* Dialect
  const rows =
    dialect === "mysql"
      ? yield* sql`SELECT DISTINCT INDEX_NAME AS name, 1 - NON_UNIQUE AS uniq FROM information_schema.STATISTICS
                   WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'`
      : yield* sql`SELECT il.name AS name, il."unique" AS uniq FROM sqlite_master m, pragma_index_list(m.name) il
                   WHERE m.type = 'table' AND il.origin <> 'pk'`
  const decoded = yield* Schema.decodeUnknown(IndexRow)(rows)
  return new Map(decoded.map((r) => [r.name, Number(r.uniq) === 1]))
})

const columnCount = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* Dialect
    const rows =
      dialect === "mysql"
        ? yield* sql`SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table}`
        : yield* sql`SELECT name FROM pragma_table_info(${table})`
    return (yield* Schema.decodeUnknown(Names)(rows)).map((r) => r.name).sort()
  })

const run = <A, E>(backend: Backend, eff: Effect.Effect<A, E, SqlClient.SqlClient | Dialect>) =>
  Effect.runPromise(Effect.provide(eff, backend.layer))

onBothBackends("migrations", (backend) => {
  it("creates all 39 tables of the spec on the first run and nothing on the second", async () => {
    const first = await run(backend, migrate())
    expect(first.map(([, name]) => name)).toEqual([
      "baseline",
      "logs_event_columns",
      "topology_mutation_claims"
    ])
    const second = await run(backend, migrate())
    expect(second).toEqual([])
    const names = await run(backend, listTables)
    expect(tables).toHaveLength(39)
    expect([...names].sort()).toEqual(tables.map((t) => t.name).sort())
  })

  it("0002 adds the event columns to a logs table created before them, and only once", async () => {
    await run(backend, migrate())
    // A database migrated by 0001 alone: drop the new columns and forget 0002.
    await run(
      backend,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`ALTER TABLE logs DROP COLUMN attacker_port`)
        yield* sql.unsafe(`ALTER TABLE logs DROP COLUMN severity`)
        yield* sql`DELETE FROM ${sql(MIGRATIONS_TABLE)} WHERE ${sql("migration_id")} >= 2`
      })
    )
    expect(await run(backend, columnCount("logs"))).not.toContain("severity")
    const applied = await run(backend, migrate())
    // 0003 re-runs over a table that already has what it adds: it adds nothing and does not fail.
    expect(applied.map(([, name]) => name)).toEqual(["logs_event_columns", "topology_mutation_claims"])
    expect(await run(backend, columnCount("logs"))).toEqual(
      expect.arrayContaining(["attacker_port", "severity"])
    )
    expect(await run(backend, migrate())).toEqual([])
  })

  it("0003 adds the queue's claim token and its index to a topology_mutations table created before them", async () => {
    await run(backend, migrate())
    const indexes = Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows =
        backend.name === "mariadb"
          ? yield* sql`SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'topology_mutations'`
          : yield* sql`SELECT name FROM pragma_index_list('topology_mutations')`
      return (yield* Schema.decodeUnknown(Names)(rows)).map((r) => r.name)
    })
    await run(
      backend,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        if (backend.name === "mariadb")
          yield* sql.unsafe(`DROP INDEX ix_topology_mutations_queue ON topology_mutations`)
        else yield* sql.unsafe(`DROP INDEX ix_topology_mutations_queue`)
        yield* sql.unsafe(`ALTER TABLE topology_mutations DROP COLUMN claim_token`)
        yield* sql`DELETE FROM ${sql(MIGRATIONS_TABLE)} WHERE ${sql("migration_id")} = 3`
      })
    )
    expect(await run(backend, columnCount("topology_mutations"))).not.toContain("claim_token")
    expect(await run(backend, indexes)).not.toContain("ix_topology_mutations_queue")
    const applied = await run(backend, migrate())
    expect(applied.map(([, name]) => name)).toEqual(["topology_mutation_claims"])
    expect(await run(backend, columnCount("topology_mutations"))).toContain("claim_token")
    expect(await run(backend, indexes)).toContain("ix_topology_mutations_queue")
    expect(await run(backend, migrate())).toEqual([])
  })

  it("gives every table exactly its declared columns", async () => {
    await run(backend, migrate())
    for (const t of tables) {
      const cols = await run(backend, columnCount(t.name))
      expect(cols, t.name).toEqual(t.columns.map((c) => c.name).sort())
    }
  })

  it("creates every declared index and unique constraint, with the right uniqueness", async () => {
    await run(backend, migrate())
    const indexes = await run(backend, listIndexes)
    for (const t of tables) {
      for (const col of t.indexed)
        expect(indexes.get(`ix_${t.name}_${col}`), `ix_${t.name}_${col}`).toBe(false)
      for (const ix of t.indexes) expect(indexes.get(ix.name), ix.name).toBe(ix.unique)
      for (const uq of t.uniques) {
        if (backend.name === "mariadb") expect(indexes.get(uq.name), uq.name).toBe(true)
        // SQLite names table-constraint indexes sqlite_autoindex_*, so check the constraint by behaviour below
      }
    }
    expect(indexes.get("ix_users_username")).toBe(true)
    expect(indexes.get("ix_logs_timestamp")).toBe(false)
    expect(indexes.get("ix_observations_attacker_primitive_ts")).toBe(false)
  })

  it("enforces a composite unique constraint (uq_lan_topology_name)", async () => {
    await run(backend, migrate())
    const outcome = await run(
      backend,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO topologies ${sql.insert({
          id: "t1",
          name: "topo-1",
          mode: "unihost",
          config_snapshot: "{}",
          status: "pending",
          status_changed_at: "2026-01-01 00:00:00.000000",
          created_at: "2026-01-01 00:00:00.000000",
          version: 1,
          needs_resync: 0,
          email_personas: "[]",
          language_default: "en"
        })}`
        const lan = { topology_id: "t1", name: "lan-a", subnet: "10.0.0.0/24", is_dmz: 0 }
        yield* sql`INSERT INTO lans ${sql.insert({ id: "l1", ...lan })}`
        return yield* sql`INSERT INTO lans ${sql.insert({ id: "l2", ...lan })}`.pipe(
          Effect.as("inserted"),
          Effect.catchTag("SqlError", (e) => Effect.succeed(String(e.cause)))
        )
      })
    )
    expect(outcome).toMatch(/UNIQUE|Duplicate/i)
  })

  it("enforces foreign keys", async () => {
    await run(backend, migrate())
    const outcome = await run(
      backend,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql`INSERT INTO lans ${sql.insert({ id: "l9", topology_id: "missing", name: "x", subnet: "s", is_dmz: 0 })}`.pipe(
          Effect.as("inserted"),
          Effect.catchTag("SqlError", (e) => Effect.succeed(String(e.cause)))
        )
      })
    )
    expect(outcome).toMatch(/FOREIGN KEY|foreign key/i)
  })
})

onMariadb("concurrent migrators", (backend) => {
  it("serialises 5 concurrent migrators on GET_LOCK: each returns only once the schema exists", async () => {
    // five independent pools, like five processes starting at once. Without the lock the losers
    // would return early ("already running") while the winner is still creating tables.
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        Effect.runPromise(
          Effect.gen(function* () {
            const applied = yield* migrate()
            const seen = yield* listTables
            return { applied: applied.length, tables: seen.length }
          }).pipe(Effect.provide(Layer.fresh(MysqlLive(Redacted.make(backend.url)))))
        )
      )
    )
    expect(results.filter((r) => r.applied === 3)).toHaveLength(1)
    expect(results.filter((r) => r.applied === 0)).toHaveLength(4)
    expect(results.map((r) => r.tables)).toEqual([39, 39, 39, 39, 39])
    const applied = await run(
      backend,
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql`SELECT COUNT(*) AS n FROM ${sql(MIGRATIONS_TABLE)}`
      })
    )
    expect(Number(applied[0]?.n)).toBe(3)
  })
})
