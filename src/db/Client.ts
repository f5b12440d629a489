// The SqlClient layer, chosen by DecnetConfig: SQLite file (embedded default) or MySQL/MariaDB.
// Each layer also provides the Dialect service so SQL that differs between engines can branch.

import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { SqlClient } from "@effect/sql"
import { MysqlClient } from "@effect/sql-mysql2"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Effect, Layer, Option, Redacted } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { DbConfigError, DbConnectionError } from "./DbError.js"
import { Dialect } from "./Dialect.js"

const SYSTEM_DB_PATH = "/var/lib/decnet/decnet.db"

/** SQLite on `filename` (or `:memory:`), with the per-connection pragmas of spec §5.1. */
export const SqliteLive = (filename: string) => {
  const pragmas = Layer.effectDiscard(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // better-sqlite3 is one connection per client, so these hold for every later query.
      yield* sql.unsafe("PRAGMA journal_mode=WAL")
      yield* sql.unsafe("PRAGMA synchronous=NORMAL")
      yield* sql.unsafe("PRAGMA busy_timeout=30000")
      yield* sql.unsafe("PRAGMA foreign_keys=ON")
    }).pipe(Effect.mapError((e) => new DbConnectionError({ message: `SQLite ${filename}: ${e.message}` })))
  )
  // better-sqlite3 throws synchronously when the file cannot be opened; keep that a typed failure
  const client = SqliteClient.layer({ filename }).pipe(
    Layer.catchAllCause((cause) =>
      Layer.fail(
        new DbConnectionError({ message: `cannot open SQLite database ${filename}: ${Cause.pretty(cause)}` })
      )
    )
  )
  return Layer.merge(pragmas.pipe(Layer.provideMerge(client)), Dialect.Sqlite)
}

/**
 * MySQL/MariaDB at `url` (mysql://user:pass@host:port/db). The URL is split into components
 * because the driver ignores pool options next to a URL, and we need datetimes back as strings
 * (naive UTC, exactly as SQLite returns them).
 */
export const MysqlLive = (url: Redacted.Redacted) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const u = yield* Effect.try({
        try: () => new URL(Redacted.value(url)),
        catch: () => new DbConfigError({ key: "DECNET_DB_URL", message: "DECNET_DB_URL is not a valid URL" })
      })
      if (u.protocol !== "mysql:" && u.protocol !== "mariadb:") {
        return yield* new DbConfigError({
          key: "DECNET_DB_URL",
          message: `DECNET_DB_URL must start with mysql:// (got ${u.protocol}//)`
        })
      }
      const client = MysqlClient.layer({
        host: u.hostname,
        port: u.port === "" ? 3306 : Number(u.port),
        database: decodeURIComponent(u.pathname.replace(/^\//, "")),
        username: decodeURIComponent(u.username),
        password: Redacted.make(decodeURIComponent(u.password)),
        poolConfig: { dateStrings: true, timezone: "Z" }
      }).pipe(
        Layer.mapError(
          (e) =>
            new DbConnectionError({
              message: `cannot connect to MySQL at ${u.hostname}:${u.port || "3306"}: ${
                e._tag === "SqlError" ? String(e.cause) : e.message
              }`
            })
        )
      )
      return Layer.merge(client, Dialect.Mysql)
    })
  )

/** Where the SQLite file lives when DECNET_DB_PATH is not set. */
export const sqlitePathConfig: Effect.Effect<string, never, DecnetConfig> = Effect.map(
  DecnetConfig,
  ({ db, system }) =>
    Option.getOrElse(db.path, () =>
      system.service || Option.isSome(system.invocationId)
        ? SYSTEM_DB_PATH
        : NodePath.join(system.home, ".decnet", "decnet.db")
    )
)

/** The MySQL URL: DECNET_DB_URL wins, else composed from the DECNET_DB_* components. */
export const mysqlUrlConfig = Effect.gen(function* () {
  const { db, testing } = yield* DecnetConfig
  if (Option.isSome(db.url)) return db.url.value
  const password = Option.match(db.password, { onNone: () => "", onSome: Redacted.value })
  if (password === "" && !testing) {
    return yield* new DbConfigError({
      key: "DECNET_DB_PASSWORD",
      message:
        "DECNET_DB_PASSWORD is empty; set it (or DECNET_DB_URL). An empty password is only allowed with DECNET_TESTING=1"
    })
  }
  const pw = encodeURIComponent(password)
  return Redacted.make(
    `mysql://${encodeURIComponent(db.user)}${pw === "" ? "" : `:${pw}`}@${db.host}:${db.port}/${encodeURIComponent(db.name)}`
  )
})

const ensureParentDir = (filename: string) =>
  filename === ":memory:"
    ? Effect.void
    : Effect.try({
        try: () => NodeFs.mkdirSync(NodePath.dirname(filename), { recursive: true }),
        catch: (cause) =>
          new DbConfigError({
            key: "DECNET_DB_PATH",
            message: `cannot create the directory for ${filename}: ${String(cause)}`
          })
      })

/** The database chosen by DECNET_DB_TYPE (sqlite default, or mysql). */
export const DbLive: Layer.Layer<
  SqlClient.SqlClient | Dialect,
  DbConfigError | DbConnectionError,
  DecnetConfig
> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const { db } = yield* DecnetConfig
    if (db.type === "mysql") return MysqlLive(yield* mysqlUrlConfig)
    const path = yield* sqlitePathConfig
    yield* ensureParentDir(path)
    return SqliteLive(path)
  })
)
