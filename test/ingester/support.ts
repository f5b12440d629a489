// The ingester tests' harness: temporary files, options, and a runtime over a migrated backend with a fake
// bus. Every test starts from empty `logs`, `bounty` and `credentials` tables and no cursor.

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, ManagedRuntime, Ref, Schema, type Scope, Stream } from "effect"
import { afterAll, beforeAll, beforeEach } from "vitest"
import { Bus, type BusEvent } from "../../src/bus/Bus.js"
import { FakeBusLive } from "../../src/bus/FakeBus.js"
import type { EvidenceRecord } from "../../src/collector/Record.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import type { Dialect } from "../../src/db/Dialect.js"
import { MigrationsLive } from "../../src/db/Migrations.js"
import { INGEST_STATE_KEY } from "../../src/ingester/Cursor.js"
import type { IngesterOptions } from "../../src/ingester/Ingester.js"
import { IngestStore } from "../../src/ingester/Store.js"
import type { Backend } from "../db/backends.js"
import { jsonLine } from "./records.js"

export const tmpDir = (prefix = "decnet-ingest-") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

let files = 0
/** A fresh `.json` path in `dir` (not created). */
export const freshFile = (dir: string) => path.join(dir, `evidence-${++files}.json`)

export const append = (file: string, records: ReadonlyArray<EvidenceRecord> | string) =>
  fs.appendFileSync(file, typeof records === "string" ? records : records.map(jsonLine).join(""))

export const options = (file: string, over: Partial<IngesterOptions> = {}): IngesterOptions => ({
  path: file,
  batchSize: 100,
  batchMaxWaitMs: 60_000,
  trustedProxies: [],
  ...over
})

const TestConfig = DecnetConfig.fromMap({ DECNET_BCRYPT_ROUNDS: "4" })

/** The ingester's store over a migrated backend, a fake bus and the node file system. */
export const ingestLayer = (backend: Backend) =>
  Layer.mergeAll(IngestStore.Default, FakeBusLive(), NodeFileSystem.layer, MigrationsLive).pipe(
    Layer.provideMerge(backend.layer),
    Layer.provideMerge(TestConfig)
  )

export type IngestEnv =
  | IngestStore
  | Bus
  | FileSystem.FileSystem
  | SqlClient.SqlClient
  | Dialect
  | DecnetConfig

const clear = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  for (const table of ["logs", "bounty", "credentials"]) yield* sql`DELETE FROM ${sql(table)}`
  yield* sql`DELETE FROM ${sql("state")} WHERE ${sql("key")} = ${INGEST_STATE_KEY}`
})

/** A runtime for the describe block; the tables are emptied before each test. */
export const useIngest = (backend: Backend) => {
  let runtime: ManagedRuntime.ManagedRuntime<IngestEnv, unknown> | undefined
  beforeAll(async () => {
    runtime = ManagedRuntime.make(ingestLayer(backend))
    await runtime.runPromise(Effect.void)
  })
  afterAll(async () => {
    await runtime?.dispose()
  })
  beforeEach(async () => {
    await runtime?.runPromise(clear)
  })
  return <A, E>(effect: Effect.Effect<A, E, IngestEnv | Scope.Scope>): Promise<A> => {
    if (runtime === undefined) throw new Error("runtime not built yet")
    return runtime.runPromise(Effect.scoped(effect))
  }
}

/** Everything published on `pattern` from now on (a live view: read it after the work). */
export const recordEvents = (pattern = ">") =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const seen = yield* Ref.make<ReadonlyArray<BusEvent>>([])
    const stream = yield* bus.subscribe(pattern)
    yield* stream.pipe(
      Stream.runForEach((e) => Ref.update(seen, (all) => [...all, e])),
      Effect.forkScoped
    )
    // The fake bus fans out synchronously; the collecting fiber needs a turn to take what is queued.
    return Effect.zipRight(Effect.sleep("20 millis"), Ref.get(seen))
  })

const LogRowView = Schema.Struct({
  id: Schema.Number,
  event_type: Schema.String,
  attacker_port: Schema.NullOr(Schema.Number),
  fields: Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.String }))
})

/** The stored rows, in id order. */
export const storedLogs = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT ${sql("id")}, ${sql("event_type")}, ${sql("attacker_port")}, ${sql(
    "fields"
  )} FROM ${sql("logs")} ORDER BY ${sql("id")}`
  return yield* Schema.decodeUnknown(Schema.Array(LogRowView))(rows)
})

/** The `n` field of every stored row, in id order. */
export const storedNumbers = Effect.map(storedLogs, (rows) => rows.map((r) => Number(r.fields.n)))

const Count = Schema.Array(Schema.Struct({ n: Schema.Union(Schema.Number, Schema.NumberFromString) }))

export const countRows = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT COUNT(*) AS n FROM ${sql(table)}`
    return (yield* Schema.decodeUnknown(Count)(rows))[0]?.n ?? 0
  })
