// Schema management: one Migrator run over a record of migrations that render the table data in
// Tables.ts for the active dialect. On MySQL the run holds the `decnet_schema_init` advisory lock on
// a reserved connection so concurrent processes never race DDL; SQLite's file lock suffices there.
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Layer, Schema } from "effect"
import { DbMigrationError } from "./DbError.js"
import { Dialect, type DialectName } from "./Dialect.js"
import { renderAddColumn, renderIndex, renderTable } from "./TableDef.js"
import { tables } from "./Tables.js"

export const MIGRATIONS_TABLE = "decnet_migrations"
export const SCHEMA_LOCK = "decnet_schema_init"
const LOCK_TIMEOUT_S = 30

/** Every statement of the baseline schema for a dialect (exported for docs and tests). */
export const baselineStatements = (dialect: DialectName): ReadonlyArray<string> =>
  tables.flatMap((t) => renderTable(dialect, t))

const baseline = (dialect: DialectName) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // IF NOT EXISTS everywhere: a half-applied baseline (MySQL DDL is not transactional) re-runs cleanly.
    for (const stmt of baselineStatements(dialect)) yield* sql.unsafe(stmt)
  })

const ColumnNames = Schema.Array(Schema.Struct({ name: Schema.String }))

/**
 * Add the columns of `table` (as Tables.ts now defines them) that an older database lacks. Checked
 * first rather than `ADD COLUMN IF NOT EXISTS`, which MySQL lacks and SQLite has never had; a re-run
 * after a half-applied MySQL migration (DDL is not transactional there) adds only what is missing.
 */
const addMissingColumns = (dialect: DialectName, table: string, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const def = tables.find((t) => t.name === table)
    if (def === undefined) return yield* Effect.dieMessage(`no table ${table} in Tables.ts`)
    const rows =
      dialect === "mysql"
        ? yield* sql`SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table}`
        : yield* sql`SELECT name FROM pragma_table_info(${table})`
    const present = new Set(
      (yield* Schema.decodeUnknown(ColumnNames)(rows).pipe(Effect.orDie)).map((r) => r.name)
    )
    for (const col of def.columns)
      if (names.includes(col.name) && !present.has(col.name))
        yield* sql.unsafe(renderAddColumn(dialect, table, col))
  })

/** Create the named indexes of `table` (as Tables.ts now defines them) that an older database lacks. */
const addMissingIndexes = (dialect: DialectName, table: string, names: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const def = tables.find((t) => t.name === table)
    if (def === undefined) return yield* Effect.dieMessage(`no table ${table} in Tables.ts`)
    for (const ix of def.indexes)
      if (names.includes(ix.name)) yield* sql.unsafe(renderIndex(dialect, table, ix))
  })

const migrationsFor = (dialect: DialectName) => ({
  "0001_baseline": baseline(dialect),
  // A logs row holds a whole HoneypotEvent: its peer port and its severity.
  "0002_logs_event_columns": addMissingColumns(dialect, "logs", ["attacker_port", "severity"]),
  // MazeNET's queue: the claim's token and the index that orders a topology's pending rows.
  "0003_topology_mutation_claims": Effect.zipRight(
    addMissingColumns(dialect, "topology_mutations", ["claim_token"]),
    addMissingIndexes(dialect, "topology_mutations", ["ix_topology_mutations_queue"])
  )
})

const runMigrator = Migrator.make({})

const LockResult = Schema.Array(
  Schema.Struct({ got: Schema.NullOr(Schema.Union(Schema.Number, Schema.BigIntFromSelf, Schema.String)) })
)

/** Holds the advisory lock for the duration of `self`, released on success, failure and interruption. */
const withSchemaLock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const conn = yield* sql.reserve.pipe(
        Effect.mapError(
          (e) =>
            new DbMigrationError({ message: `cannot reserve a connection for the schema lock: ${e.message}` })
        )
      )
      yield* Effect.acquireRelease(
        conn.execute(`SELECT GET_LOCK('${SCHEMA_LOCK}', ${LOCK_TIMEOUT_S}) AS got`, [], undefined).pipe(
          Effect.flatMap(Schema.decodeUnknown(LockResult)),
          Effect.mapError((e) => new DbMigrationError({ message: `GET_LOCK failed: ${e.message}` })),
          Effect.filterOrFail(
            (rows) => rows[0] !== undefined && Number(rows[0].got) === 1,
            () =>
              new DbMigrationError({
                message: `could not obtain the schema lock '${SCHEMA_LOCK}' within ${LOCK_TIMEOUT_S}s`
              })
          )
        ),
        () => conn.execute(`SELECT RELEASE_LOCK('${SCHEMA_LOCK}')`, [], undefined).pipe(Effect.ignore)
      )
      return yield* self
    })
  )

/**
 * Bring the schema up to date. Idempotent: a second run applies nothing and returns [].
 * Returns the (id, name) of each migration applied by this run.
 */
export const migrate = Effect.fn("Db.migrate")(function* () {
  const dialect = yield* Dialect
  const sql = yield* SqlClient.SqlClient
  const run = runMigrator({
    loader: Migrator.fromRecord(migrationsFor(dialect)),
    table: MIGRATIONS_TABLE
  }).pipe(
    Effect.mapError((e) => new DbMigrationError({ message: e.message })),
    Effect.provideService(SqlClient.SqlClient, sql)
  )
  return yield* dialect === "mysql" ? withSchemaLock(run) : run
})

/** Runs the migrations once when the layer is built. */
export const MigrationsLive = Layer.effectDiscard(migrate())
