// The ingester on both real backends: batches and their bus notices, partial and undecodable lines,
// restart from the stored cursor, rotation and truncation, credential upserts and bounty de-duplication,
// the cursor guard against a second ingester, and the worker loop (missing file, tailing, rotation with a
// late writer, heartbeat, stop intent). No wall-clock assertions: waits poll a condition.
import * as fs from "node:fs"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Fiber, Option, Schema } from "effect"
import { expect, it } from "vitest"
import { requestStop } from "../../src/bus/Control.js"
import { INGEST_STATE_KEY, IngestCursor } from "../../src/ingester/Cursor.js"
import { ingestFileToEnd, READ_WINDOW_BYTES, runIngester } from "../../src/ingester/Ingester.js"
import { MAX_LINE_BYTES } from "../../src/ingester/Lines.js"
import { IngestStore } from "../../src/ingester/Store.js"
import { onBothBackends } from "../db/backends.js"
import {
  at,
  ftpFile,
  h2SettingsEvent,
  httpBasicAuth,
  httpRequest,
  ja4hEvent,
  jsonLine,
  numbered,
  smtpStored,
  sshFile,
  sshPassword,
  vncVersion
} from "./records.js"
import {
  append,
  countRows,
  freshFile,
  options,
  recordEvents,
  storedNumbers,
  tmpDir,
  useIngest
} from "./support.js"

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

const storedCursor = Effect.gen(function* () {
  const store = yield* IngestStore
  return Option.getOrUndefined(yield* store.load())
})

/** A clock that moves `step` ms each time it is read (the batch-age check reads it once per line). */
const steppingClock = (step: number): Clock.Clock => {
  let now = 0
  const millis = () => (now += step)
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(millis()) * 1_000_000n),
    sleep: () => Effect.void
  }
}

const waitUntil = <E, R>(check: Effect.Effect<boolean, E, R>, tries = 400) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      if (yield* check) return true
      yield* Effect.sleep("50 millis")
    }
    return yield* check
  })

const CredentialRow = Schema.Struct({
  principal: Schema.NullOr(Schema.String),
  service: Schema.String,
  secret_sha256: Schema.String,
  attempt_count: Schema.Union(Schema.Number, Schema.NumberFromString),
  first_seen: Schema.String,
  last_seen: Schema.String
})
const BountyRow = Schema.Struct({
  bounty_type: Schema.String,
  attacker_ip: Schema.String,
  payload: Schema.String
})

onBothBackends("ingester", (backend) => {
  const run = useIngest(backend)
  const dir = tmpDir()

  it("commits batchSize rows per transaction and the remainder at the end; system.log after each", async () => {
    const file = freshFile(dir)
    append(file, range(0, 10).map(numbered))
    const { stats, events, numbers, cursor } = await run(
      Effect.gen(function* () {
        const events = yield* recordEvents("system.log")
        const stats = yield* ingestFileToEnd(options(file, { batchSize: 3 }))
        return { stats, events: yield* events, numbers: yield* storedNumbers, cursor: yield* storedCursor }
      })
    )
    expect(stats).toMatchObject({ rows: 10, batches: 4, badLines: 0, resets: 0 })
    expect(numbers).toEqual(range(0, 10))
    expect(events.map((e) => e.type)).toEqual([
      "batch_committed",
      "batch_committed",
      "batch_committed",
      "batch_committed"
    ])
    expect(events.map((e) => e.payload.flushed)).toEqual([3, 3, 3, 1])
    const size = fs.statSync(file).size
    expect(events.at(-1)?.payload).toEqual({ component: "ingester", flushed: 1, position: size })
    expect(cursor).toEqual({ position: size, inode: fs.statSync(file).ino })
  })

  it("closes a batch older than batchMaxWaitMs when a line is added", async () => {
    const file = freshFile(dir)
    append(file, range(0, 12).map(numbered))
    const stats = await run(
      ingestFileToEnd(options(file, { batchSize: 1000, batchMaxWaitMs: 25 })).pipe(
        Effect.withClock(steppingClock(10))
      )
    )
    // Each line reads the clock once (+10 ms): a batch closes on its third line, whatever the size.
    expect(stats.rows).toBe(12)
    expect(stats.batches).toBe(4)
    expect(await run(storedNumbers)).toEqual(range(0, 12))
  })

  it("leaves a trailing partial line for the next read, then stores it once", async () => {
    const file = freshFile(dir)
    const fourth = jsonLine(numbered(3))
    append(file, range(0, 3).map(numbered).map(jsonLine).join("") + fourth.slice(0, 25))
    const first = await run(ingestFileToEnd(options(file)))
    expect(first.rows).toBe(3)
    expect(first.position).toBe(fs.statSync(file).size - 25)
    append(file, fourth.slice(25) + jsonLine(numbered(4)))
    const second = await run(ingestFileToEnd(options(file)))
    expect(second.rows).toBe(2)
    expect(await run(storedNumbers)).toEqual(range(0, 5))
  })

  it("reads lines longer than its first read window, drops one over MAX_LINE_BYTES, and waits on a long partial tail", async () => {
    const file = freshFile(dir)
    // Undecodable, so that no backend has to store them: each needs the read window grown (×4, ×16).
    const long = (bytes: number) => `${JSON.stringify({ junk: "j".repeat(bytes) })}\n`
    const tail = "t".repeat(2 * READ_WINDOW_BYTES)
    append(
      file,
      [
        jsonLine(numbered(0)),
        long(READ_WINDOW_BYTES + 10),
        long(5 * READ_WINDOW_BYTES),
        jsonLine(numbered(1)),
        `${"x".repeat(MAX_LINE_BYTES + 10)}\n`,
        jsonLine(numbered(2)),
        tail
      ].join("")
    )
    const stats = await run(ingestFileToEnd(options(file)))
    expect(stats).toMatchObject({
      rows: 3,
      badLines: 2,
      oversized: 1,
      position: fs.statSync(file).size - tail.length
    })
    expect(await run(storedNumbers)).toEqual([0, 1, 2])
    append(file, `\n${jsonLine(numbered(3))}`)
    const again = await run(ingestFileToEnd(options(file)))
    expect(again).toMatchObject({ rows: 1, badLines: 1, position: fs.statSync(file).size })
    expect(await run(storedNumbers)).toEqual([0, 1, 2, 3])
  })

  it("logs and skips undecodable lines, moving the position past them", async () => {
    const file = freshFile(dir)
    append(
      file,
      [
        jsonLine(numbered(0)),
        "not json\n",
        '{"timestamp":"x"}\n',
        "\n",
        jsonLine(numbered(1)),
        `${JSON.stringify({ ...JSON.parse(jsonLine(numbered(9))), fields: { "bad-key": "v" } })}\n`,
        jsonLine(numbered(2))
      ].join("")
    )
    const stats = await run(ingestFileToEnd(options(file)))
    expect(stats).toMatchObject({ rows: 3, badLines: 3, position: fs.statSync(file).size })
    expect(await run(storedNumbers)).toEqual([0, 1, 2])

    // Only bad lines: no rows, no notice, but the position is stored all the same.
    const junk = freshFile(dir)
    append(junk, "garbage\n{}\n")
    const {
      stats: s2,
      events,
      cursor
    } = await run(
      Effect.gen(function* () {
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DELETE FROM ${sql("state")} WHERE ${sql("key")} = ${INGEST_STATE_KEY}`
        })
        const events = yield* recordEvents("system.log")
        const stats = yield* ingestFileToEnd(options(junk))
        return { stats, events: yield* events, cursor: yield* storedCursor }
      })
    )
    expect(s2).toMatchObject({ rows: 0, badLines: 2, batches: 1 })
    expect(events).toEqual([])
    expect(cursor?.position).toBe(fs.statSync(junk).size)
  })

  it("resumes after the stored position on restart, also from the original's {position} value", async () => {
    const file = freshFile(dir)
    append(file, range(0, 5).map(numbered))
    await run(ingestFileToEnd(options(file)))
    append(file, range(5, 10).map(numbered))
    const again = await run(ingestFileToEnd(options(file)))
    expect(again.rows).toBe(5)
    expect(await run(storedNumbers)).toEqual(range(0, 10))

    // The Python ingester stored only {"position"}: kept, and the inode is added at the next commit.
    const legacy = JSON.stringify({ position: fs.statSync(file).size })
    append(file, [numbered(10)])
    const { stats, cursor } = await run(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE ${sql("state")} SET ${sql("value")} = ${legacy} WHERE ${sql("key")} = ${INGEST_STATE_KEY}`
        const stats = yield* ingestFileToEnd(options(file))
        return { stats, cursor: yield* storedCursor }
      })
    )
    expect(stats.rows).toBe(1)
    expect(cursor).toEqual({ position: fs.statSync(file).size, inode: fs.statSync(file).ino })
    expect(Schema.decodeUnknownSync(IngestCursor)({ position: 3 })).toEqual({ position: 3, inode: null })
  })

  it("restarts at 0 for a new file at the path (rotation) and for a shorter one (truncation), persisted", async () => {
    const file = freshFile(dir)
    append(file, range(0, 5).map(numbered))
    await run(ingestFileToEnd(options(file)))
    fs.renameSync(file, `${file}.1`)
    append(file, range(100, 103).map(numbered))
    const rotated = await run(ingestFileToEnd(options(file)))
    expect(rotated).toMatchObject({ rows: 3, resets: 1 })
    expect(await run(storedCursor)).toEqual({
      position: fs.statSync(file).size,
      inode: fs.statSync(file).ino
    })

    fs.truncateSync(file, 0)
    append(file, range(200, 202).map(numbered))
    const truncated = await run(ingestFileToEnd(options(file)))
    expect(truncated).toMatchObject({ rows: 2, resets: 1 })
    expect(await run(storedNumbers)).toEqual([...range(0, 5), ...range(100, 103), 200, 201])
  })

  it("upserts credentials on the dedup key, counts attempts across batches, then publishes credential.captured", async () => {
    const file = freshFile(dir)
    append(file, [
      sshPassword("root", "hunter2", { timestamp: at(1) }),
      sshPassword("root", "hunter2", { timestamp: at(3) }),
      sshPassword("root", "hunter2", { timestamp: at(2) }),
      sshPassword("admin", "hunter2", { timestamp: at(4) }),
      sshPassword("root", "other", { timestamp: at(5) }),
      httpBasicAuth("root", "hunter2", { timestamp: at(6) }),
      sshPassword("root", "hunter2", { timestamp: at(7), attacker_ip: "198.51.100.9" })
    ])
    const { events, rows } = await run(
      Effect.gen(function* () {
        const events = yield* recordEvents("credential.captured")
        yield* ingestFileToEnd(options(file, { batchSize: 2 }))
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql`SELECT * FROM ${sql("credentials")} ORDER BY ${sql("id")}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(CredentialRow)))
        )
        return { events: yield* events, rows }
      })
    )
    expect(rows).toHaveLength(5)
    expect(rows[0]).toMatchObject({ principal: "root", service: "ssh", attempt_count: 3 })
    expect(rows[0]?.first_seen).toMatch(/^2026-01-01 12:00:01/)
    expect(rows[0]?.last_seen).toMatch(/^2026-01-01 12:00:03/)
    expect(rows.map((r) => r.principal)).toEqual(["root", "admin", "root", "root", "root"])
    expect(events.every((e) => e.type === "captured")).toBe(true)
    expect(events[0]?.payload).toEqual({
      secret_sha256: rows[0]?.secret_sha256,
      secret_kind: "plaintext",
      attacker_ip: "203.0.113.7",
      decky: "decky-01",
      service: "ssh"
    })
    // One notice per credential per batch: the first batch held root/hunter2 twice.
    expect(events).toHaveLength(6)

    append(file, [sshPassword("root", "hunter2", { timestamp: at(30) })])
    const again = await run(
      Effect.gen(function* () {
        yield* ingestFileToEnd(options(file))
        const sql = yield* SqlClient.SqlClient
        return yield* sql`SELECT * FROM ${sql("credentials")} ORDER BY ${sql("id")}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(CredentialRow)))
        )
      })
    )
    expect(again).toHaveLength(5)
    expect(again[0]).toMatchObject({ attempt_count: 4 })
    expect(again[0]?.last_seen).toMatch(/^2026-01-01 12:00:30/)
    expect(again[0]?.first_seen).toMatch(/^2026-01-01 12:00:01/)
  })

  it("stores each bounty kind once per (type, address, payload), across batches and runs", async () => {
    const file = freshFile(dir)
    const batch = [
      httpRequest({ Host: "d", "User-Agent": "curl/8.4.0" }),
      httpRequest({ Host: "d", "User-Agent": "curl/8.4.0" }),
      httpRequest({ Host: "d", "User-Agent": "Curl/8.4.0" }),
      httpRequest({ Host: "d", "User-Agent": "curl/8.4.0" }, { attacker_ip: "198.51.100.9" }),
      httpRequest({ Host: "d", "X-Forwarded-For": "93.184.216.34" }),
      httpRequest({ Host: "d", "X-Real-IP": "127.0.0.1" }),
      ja4hEvent("ge11nn030000_4740ae6347b0_000000000000_000000000000"),
      h2SettingsEvent({ HEADER_TABLE_SIZE: 65536 }, [1]),
      vncVersion("RFB 003.008", { attacker_ip: "198.51.100.10" }),
      sshFile("a.bin"),
      ftpFile("b.bin"),
      smtpStored("c.eml")
    ]
    append(file, batch)
    const first = await run(ingestFileToEnd(options(file, { batchSize: 5 })))
    expect(first.bounties).toBe(11)
    append(file, batch)
    const second = await run(ingestFileToEnd(options(file, { batchSize: 5 })))
    expect(second).toMatchObject({ rows: 12, bounties: 0 })
    const rows = await run(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql`SELECT ${sql("bounty_type")}, ${sql("attacker_ip")}, ${sql("payload")} FROM ${sql(
          "bounty"
        )} ORDER BY ${sql("id")}`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(BountyRow))))
      })
    )
    const kinds = rows.map((r) => {
      const p = JSON.parse(r.payload)
      return `${r.bounty_type}:${p.fingerprint_type ?? p.kind ?? "leak"}`
    })
    expect(kinds).toEqual([
      "fingerprint:http_useragent",
      "fingerprint:http_useragent",
      "fingerprint:http_useragent",
      "ip_leak:leak",
      "fingerprint:spoofed_source",
      "fingerprint:ja4h",
      "fingerprint:http2_settings",
      "fingerprint:vnc_client_version",
      "artifact:file",
      "artifact:file",
      "artifact:mail"
    ])
    // "Curl" and "curl" are two clients, even under MySQL's case-insensitive collation.
    expect(
      rows.filter((r) => r.attacker_ip === "203.0.113.7" && r.payload.includes("url/8.4.0"))
    ).toHaveLength(2)
  })

  it("refuses a batch when the cursor moved under it (a second ingester), storing nothing", async () => {
    const file = freshFile(dir)
    append(file, range(0, 3).map(numbered))
    await run(ingestFileToEnd(options(file)))
    const result = await run(
      Effect.gen(function* () {
        const store = yield* IngestStore
        const exit = yield* store
          .commit({
            logs: [numbered(99)],
            credentials: [],
            bounties: [],
            expected: { position: 0, inode: null },
            next: { position: 10, inode: null }
          })
          .pipe(Effect.either)
        return { exit, count: yield* countRows("logs"), cursor: yield* storedCursor }
      })
    )
    expect(result.exit._tag).toBe("Left")
    expect(result.count).toBe(3)
    expect(result.cursor?.position).toBe(fs.statSync(file).size)
  })

  it("the worker waits for the file, tails it, follows a rotation with a late writer, and stops on request", async () => {
    const file = freshFile(dir)
    const outcome = await run(
      Effect.gen(function* () {
        const events = yield* recordEvents("system.ingester.>")
        const worker = yield* Effect.fork(runIngester(options(file)))
        const count = countRows("logs")
        yield* Effect.sleep("100 millis")
        append(file, range(0, 5).map(numbered))
        const tailed = yield* waitUntil(Effect.map(count, (n) => n === 5))
        const sixth = jsonLine(numbered(5))
        append(file, sixth.slice(0, 10))
        yield* Effect.sleep("300 millis")
        const partialWaited = (yield* count) === 5
        append(file, sixth.slice(10))
        // Rotation: the writer keeps appending to the old inode for a moment, then opens a new file.
        fs.renameSync(file, `${file}.1`)
        append(`${file}.1`, range(6, 8).map(numbered))
        append(file, range(8, 10).map(numbered))
        const rotated = yield* waitUntil(Effect.map(count, (n) => n === 10))
        yield* requestStop("ingester", "test")
        const stopped = yield* Fiber.join(worker).pipe(Effect.timeoutOption("10 seconds"))
        return {
          tailed,
          partialWaited,
          rotated,
          stopped: Option.isSome(stopped),
          numbers: yield* storedNumbers,
          health: (yield* events).filter((e) => e.topic === "system.ingester.health")
        }
      })
    )
    expect(outcome).toMatchObject({ tailed: true, partialWaited: true, rotated: true, stopped: true })
    // The rotated file is drained (its late lines included) before the new one is read.
    expect(outcome.numbers).toEqual(range(0, 10))
    expect(outcome.health[0]?.payload).toMatchObject({ worker: "ingester" })
  })
})
