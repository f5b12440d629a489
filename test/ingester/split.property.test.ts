// The exactly-once property at the file level: however the writer's bytes arrive (any cut points, mid
// line and mid UTF-8 character included) and however the ingester batches them, the database ends up
// with the same rows, credentials and bounties as when the whole file is read in one go.
import * as fs from "node:fs"
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import { expect, it } from "vitest"
import { INGEST_STATE_KEY } from "../../src/ingester/Cursor.js"
import { ingestFileToEnd } from "../../src/ingester/Ingester.js"
import { onBothBackends } from "../db/backends.js"
import { at, httpRequest, jsonLine, numbered, record, sshPassword } from "./records.js"
import { freshFile, options, storedLogs, tmpDir, useIngest } from "./support.js"

const Snapshot = Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))

const snapshot = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const logs = (yield* storedLogs).map(({ id: _, ...row }) => row)
  const credentials =
    yield* sql`SELECT ${sql("principal")}, ${sql("secret_sha256")}, ${sql("attempt_count")}, ${sql(
      "first_seen"
    )}, ${sql("last_seen")} FROM ${sql("credentials")} ORDER BY ${sql("id")}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Snapshot))
    )
  const bounties =
    yield* sql`SELECT ${sql("bounty_type")}, ${sql("attacker_ip")}, ${sql("payload")} FROM ${sql(
      "bounty"
    )} ORDER BY ${sql("id")}`.pipe(Effect.flatMap(Schema.decodeUnknown(Snapshot)))
  return { logs, credentials, bounties }
})

const clear = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  for (const table of ["logs", "bounty", "credentials"]) yield* sql`DELETE FROM ${sql(table)}`
  yield* sql`DELETE FROM ${sql("state")} WHERE ${sql("key")} = ${INGEST_STATE_KEY}`
})

const arbitraryRecord = fc.oneof(
  fc.integer({ min: 0, max: 10_000 }).map(numbered),
  fc.constantFrom("root", "admin", "é😀").map((u) => sshPassword(u, "pw", { timestamp: at(u.length) })),
  fc.constantFrom("curl/8", "Wget/1.21", "Mozilla/5.0 x").map((ua) => httpRequest({ "User-Agent": ua })),
  fc.string({ unit: "grapheme", maxLength: 30 }).map((t) => record({ fields: { text: t }, msg: t }))
)

onBothBackends("ingester split property", (backend) => {
  const run = useIngest(backend)
  const dir = tmpDir()

  it("any split of the file into appended chunks yields the same rows as reading it whole", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryRecord, { minLength: 1, maxLength: 25 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 7 }),
        async (records, cutsAt, batchSize) => {
          const bytes = Buffer.from(records.map(jsonLine).join(""), "utf8")
          const whole = freshFile(dir)
          fs.writeFileSync(whole, bytes)
          const reference = await run(
            Effect.gen(function* () {
              yield* clear
              yield* ingestFileToEnd(options(whole, { batchSize: 100 }))
              return yield* snapshot
            })
          )
          expect(reference.logs).toHaveLength(records.length)

          const cuts = [...new Set(cutsAt.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b)
          const chunked = freshFile(dir)
          const got = await run(
            Effect.gen(function* () {
              yield* clear
              let from = 0
              for (const cut of [...cuts, bytes.length]) {
                fs.appendFileSync(chunked, bytes.subarray(from, cut))
                from = cut
                if (fs.existsSync(chunked)) yield* ingestFileToEnd(options(chunked, { batchSize }))
              }
              return yield* snapshot
            })
          )
          expect(got).toEqual(reference)
        }
      ),
      // MariaDB answers each statement over TCP: fewer runs keep it under a minute.
      { numRuns: backend.name === "sqlite" ? 60 : 20 }
    )
  })
})
