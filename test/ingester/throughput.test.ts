// A figure, not an assertion: rows per second for 100,000 records read from a `.json` file into SQLite
// (one run per batch size), printed next to the driver's raw batched insert of the same rows into the
// same table (the floor). Only the counts are checked. bench/fleet.ts measures this properly (bundled,
// in a child process).
import * as fs from "node:fs"
import * as path from "node:path"
import { NodeFileSystem } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { NullBusLive } from "../../src/bus/NullBus.js"
import { SqliteLive } from "../../src/db/Client.js"
import { MigrationsLive } from "../../src/db/Migrations.js"
import { ingestFileToEnd } from "../../src/ingester/Ingester.js"
import { logRow } from "../../src/ingester/Rows.js"
import { IngestStore } from "../../src/ingester/Store.js"
import { jsonLine, numbered } from "./records.js"
import { options, tmpDir } from "./support.js"

const N = 100_000

const runtimeOn = (db: string) =>
  ManagedRuntime.make(
    Layer.mergeAll(IngestStore.Default, NullBusLive, NodeFileSystem.layer, MigrationsLive).pipe(
      Layer.provideMerge(SqliteLive(db))
    )
  )

describe("ingester throughput (printed)", () => {
  const dir = tmpDir("decnet-ingest-rate-")
  const file = path.join(dir, "decnet.json")

  it(`ingests ${N} records into SQLite`, async () => {
    const out = fs.openSync(file, "w")
    for (let i = 0; i < N; i += 1000)
      fs.writeSync(out, Array.from({ length: 1000 }, (_, k) => jsonLine(numbered(i + k))).join(""))
    fs.closeSync(out)
    for (const batchSize of [100, 1000]) {
      const rt = runtimeOn(path.join(dir, `rate-${batchSize}.db`))
      await rt.runPromise(Effect.void)
      const t0 = performance.now()
      const stats = await rt.runPromise(ingestFileToEnd(options(file, { batchSize })))
      const seconds = (performance.now() - t0) / 1000
      await rt.dispose()
      expect(stats.rows).toBe(N)

      // The floor: the same rows, already rendered, inserted 500 a statement, batchSize a transaction.
      const raw = runtimeOn(path.join(dir, `raw-${batchSize}.db`))
      const rows = Array.from({ length: N }, (_, i) => logRow(numbered(i)))
      const r0 = performance.now()
      await raw.runPromise(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          for (let i = 0; i < N; i += batchSize)
            yield* sql.withTransaction(
              Effect.gen(function* () {
                for (let k = i; k < Math.min(i + batchSize, N); k += 500)
                  yield* sql`INSERT INTO ${sql("logs")} ${sql.insert(rows.slice(k, Math.min(k + 500, i + batchSize, N)))}`
              })
            )
        })
      )
      const rawSeconds = (performance.now() - r0) / 1000
      await raw.dispose()
      console.log(
        `ingester: ${N} records, batch ${batchSize}: ${(N / seconds).toFixed(0)} rows/s (${seconds.toFixed(2)} s); raw insert floor ${(N / rawSeconds).toFixed(0)} rows/s; ratio ${(rawSeconds / seconds).toFixed(2)}`
      )
    }
  })
})
