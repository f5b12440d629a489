import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import {
  DbLive,
  Dialect,
  MysqlLive,
  SqliteLive,
  mysqlUrlConfig,
  sqlitePathConfig
} from "../../src/db/index.js"
import { onMariadb } from "./backends.js"

const withEnv = (env: Record<string, string>) => Effect.provide(DecnetConfig.fromMap(env))

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-dbcfg-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const probe = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const dialect = yield* Dialect
  const one = yield* sql`SELECT 1 AS one`
  return { dialect, one: Number(one[0]?.one) }
})

const Pragma = Schema.Array(
  Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) })
)

describe("DB selection (DECNET_DB_TYPE and friends)", () => {
  it("rejects an unknown DECNET_DB_TYPE with DecnetConfig's error naming the key", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(Layer.build(DbLive)).pipe(withEnv({ DECNET_DB_TYPE: "postgres", HOME: tmp }))
    )
    expect(Exit.isFailure(exit)).toBe(true)
    expect(JSON.stringify(exit)).toContain("DECNET_DB_TYPE: expected one of sqlite|mysql, got 'postgres'")
  })

  it("a bad DECNET_DB_PORT fails the DB layer with the same error DecnetConfig gives", async () => {
    const env = { DECNET_DB_TYPE: "mysql", DECNET_DB_PORT: "99999", DECNET_TESTING: "1" }
    const viaDb = await Effect.runPromise(Effect.flip(Effect.scoped(Layer.build(DbLive)).pipe(withEnv(env))))
    const viaConfig = await Effect.runPromise(
      Effect.flip(Effect.provide(DecnetConfig, DecnetConfig.fromMap(env)))
    )
    expect(String(viaDb)).toContain("DECNET_DB_PORT: expected an integer 1-65535, got '99999'")
    expect(String(viaDb)).toBe(String(viaConfig))
  })

  it("DECNET_DB_TYPE is read case-insensitively, like every enum", async () => {
    const url = await Effect.runPromise(
      Effect.gen(function* () {
        const { db } = yield* DecnetConfig
        expect(db.type).toBe("mysql")
        return yield* mysqlUrlConfig
      }).pipe(withEnv({ DECNET_DB_TYPE: "MySQL", DECNET_TESTING: "yes" }))
    )
    expect(Redacted.value(url)).toBe("mysql://decnet@localhost:3306/decnet")
  })

  it("picks the SQLite path: DECNET_DB_PATH, then system service, then ~/.decnet", async () => {
    const p = (env: Record<string, string>) => Effect.runPromise(sqlitePathConfig.pipe(withEnv(env)))
    expect(await p({ DECNET_DB_PATH: "/x/y.db", INVOCATION_ID: "abc" })).toBe("/x/y.db")
    expect(await p({ INVOCATION_ID: "0123abcd", HOME: "/home/u" })).toBe("/var/lib/decnet/decnet.db")
    expect(await p({ DECNET_SYSTEM_SERVICE: "true", HOME: "/home/u" })).toBe("/var/lib/decnet/decnet.db")
    expect(await p({ DECNET_SYSTEM_SERVICE: "false", HOME: "/home/u" })).toBe("/home/u/.decnet/decnet.db")
    expect(await p({ DECNET_SYSTEM_SERVICE: " On ", HOME: "/home/u" })).toBe("/var/lib/decnet/decnet.db")
    expect(await p({ DECNET_SYSTEM_SERVICE: "", HOME: "/home/u" })).toBe("/home/u/.decnet/decnet.db")
  })

  it("defaults to SQLite under ~/.decnet, creating the directory, with the connection pragmas applied", async () => {
    const home = path.join(tmp, "home")
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const base = yield* probe
        const sql = yield* SqlClient.SqlClient
        const read = (name: string) =>
          sql.unsafe(`PRAGMA ${name}`).pipe(
            Effect.flatMap(Schema.decodeUnknown(Pragma)),
            Effect.map((r) => Object.values(r[0] ?? {})[0])
          )
        return {
          ...base,
          journal: yield* read("journal_mode"),
          fk: yield* read("foreign_keys"),
          busy: yield* read("busy_timeout"),
          sync: yield* read("synchronous")
        }
      }).pipe(Effect.provide(DbLive), withEnv({ HOME: home }))
    )
    expect(out).toEqual({ dialect: "sqlite", one: 1, journal: "wal", fk: 1, busy: 30000, sync: 1 })
    expect(fs.existsSync(path.join(home, ".decnet", "decnet.db"))).toBe(true)
  })

  it("supports :memory:", async () => {
    const out = await Effect.runPromise(
      Effect.provide(probe, DbLive).pipe(withEnv({ DECNET_DB_PATH: ":memory:" }))
    )
    expect(out).toEqual({ dialect: "sqlite", one: 1 })
  })

  it("refuses an empty MySQL password unless DECNET_TESTING=1", async () => {
    const env = { DECNET_DB_HOST: "127.0.0.1", DECNET_DB_USER: "root", DECNET_DB_NAME: "test" }
    const denied = await Effect.runPromise(Effect.flip(mysqlUrlConfig).pipe(withEnv(env)))
    expect(denied).toMatchObject({ _tag: "DbConfigError", key: "DECNET_DB_PASSWORD" })
    const allowed = await Effect.runPromise(mysqlUrlConfig.pipe(withEnv({ ...env, DECNET_TESTING: "1" })))
    expect(Redacted.value(allowed)).toBe("mysql://root@127.0.0.1:3306/test")
  })

  it("percent-encodes components, keeps the URL redacted, and lets DECNET_DB_URL win", async () => {
    const url = await Effect.runPromise(
      mysqlUrlConfig.pipe(
        withEnv({ DECNET_DB_USER: "dec net", DECNET_DB_PASSWORD: "p@ss:w/rd", DECNET_DB_PORT: "3307" })
      )
    )
    expect(String(url)).not.toContain("p@ss")
    expect(Redacted.value(url)).toBe("mysql://dec%20net:p%40ss%3Aw%2Frd@localhost:3307/decnet")
    const explicit = await Effect.runPromise(
      mysqlUrlConfig.pipe(withEnv({ DECNET_DB_URL: "mysql://a:b@h/db", DECNET_DB_PASSWORD: "other" }))
    )
    expect(Redacted.value(explicit)).toBe("mysql://a:b@h/db")
  })
})

onMariadb("DB selection", (backend) => {
  it("DECNET_DB_TYPE=mysql with components reaches the real MariaDB", async () => {
    const u = new URL(backend.url)
    const out = await Effect.runPromise(
      Effect.provide(probe, DbLive).pipe(
        withEnv({
          DECNET_DB_TYPE: "mysql",
          DECNET_DB_HOST: u.hostname,
          DECNET_DB_PORT: u.port === "" ? "3306" : u.port,
          DECNET_DB_USER: decodeURIComponent(u.username),
          DECNET_DB_NAME: u.pathname.slice(1),
          DECNET_TESTING: "1"
        })
      )
    )
    expect(out).toEqual({ dialect: "mysql", one: 1 })
  })
})

describe("connection failures are typed", () => {
  it("SqliteLive on an unopenable path fails with DbConnectionError", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.provide(probe, SqliteLive(path.join(tmp, "no-such-dir", "x.db")))
    )
    expect(Exit.isFailure(exit) && JSON.stringify(exit)).toContain("DbConnectionError")
  })

  it("MysqlLive to a closed loopback port fails with DbConnectionError", async () => {
    const err = await Effect.runPromise(
      Effect.flip(Effect.provide(probe, MysqlLive(Redacted.make("mysql://root@127.0.0.1:1/test"))))
    )
    expect(err).toMatchObject({ _tag: "DbConnectionError" })
    expect(err.message).toContain("127.0.0.1:1")
  })

  it("MysqlLive rejects a non-mysql URL naming DECNET_DB_URL", async () => {
    const err = await Effect.runPromise(
      Effect.flip(Effect.provide(probe, MysqlLive(Redacted.make("postgres://h/db"))))
    )
    expect(err).toMatchObject({ _tag: "DbConfigError", key: "DECNET_DB_URL" })
  })
})
