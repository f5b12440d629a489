// Runs a suite on both real backends: a SQLite file in a tmp dir and a fresh MariaDB database
// (created from DECNET_TEST_MYSQL_URL, dropped afterwards). Without the URL the MariaDB half is
// skipped locally but FAILS under CI, so CI can never pass by silently skipping it.
import type { SqlClient } from "@effect/sql"
import { Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createConnection } from "mysql2/promise"
import { afterAll, beforeAll, describe, it } from "vitest"
import { type Dialect, MysqlLive, SqliteLive } from "../../src/db/index.js"

export type BackendName = "sqlite" | "mariadb"
export interface Backend {
  readonly name: BackendName
  /** Layer for the backend's SqlClient + Dialect; build it only inside tests/hooks. */
  readonly layer: Layer.Layer<SqlClient.SqlClient | Dialect, unknown>
  /** The connection URL of the test database (MariaDB only). */
  readonly url: string
}

const mysqlUrl = process.env.DECNET_TEST_MYSQL_URL
const onCi = process.env.CI !== undefined && process.env.CI !== ""

const randomSuffix = () => `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

export const sqliteBackend = (): { backend: Backend; file: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-db-"))
  const file = path.join(dir, "decnet.db")
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return { backend: { name: "sqlite", layer: SqliteLive(file), url: file }, file }
}

export const mariadbBackend = (base: string): Backend => {
  const dbName = `decnet_test_${randomSuffix()}`
  const u = new URL(base)
  u.pathname = `/${dbName}`
  beforeAll(async () => {
    const c = await createConnection(base)
    await c.query(`CREATE DATABASE \`${dbName}\``)
    await c.end()
  })
  afterAll(async () => {
    const c = await createConnection(base)
    await c.query(`DROP DATABASE IF EXISTS \`${dbName}\``)
    await c.end()
  })
  return {
    name: "mariadb",
    layer: Layer.suspend(() => MysqlLive(Redacted.make(u.toString()))),
    url: u.toString()
  }
}

/** Declares `describe("[mariadb] title")`: skipped locally without the URL, failing under CI. */
export const onMariadb = (title: string, body: (backend: Backend) => void) => {
  if (mysqlUrl !== undefined && mysqlUrl !== "") {
    describe(`[mariadb] ${title}`, () => {
      body(mariadbBackend(mysqlUrl))
    })
  } else if (onCi) {
    describe(`[mariadb] ${title}`, () => {
      it("has DECNET_TEST_MYSQL_URL under CI", () => {
        throw new Error("CI is set but DECNET_TEST_MYSQL_URL is not: the MariaDB suite must run in CI")
      })
    })
  } else {
    // visible in the skipped count, so a local run shows that MariaDB was not exercised
    describe(`[mariadb] ${title}`, () => {
      it.skip("runs only with DECNET_TEST_MYSQL_URL set", () => {})
    })
  }
}

/** Declares `describe("[sqlite] title")` and `describe("[mariadb] title")` around `body`. */
export const onBothBackends = (title: string, body: (backend: Backend) => void) => {
  describe(`[sqlite] ${title}`, () => {
    body(sqliteBackend().backend)
  })
  onMariadb(title, body)
}

export const mysqlTestUrl = mysqlUrl
