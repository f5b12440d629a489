// Exactly once across crashes: `decnet ingest` (the shipped bundle) runs as a child on a SQLite file while
// this process appends numbered records, some of them in two writes (a partial line for a moment). The
// child is killed with SIGKILL several times, each time while it is visibly storing rows, and restarted.
// At the end the `logs` table holds every number exactly once. Waits poll conditions; nothing is timed.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { SqliteLive } from "../../src/db/Client.js"
import { DECNET } from "../support/cli.js"
import { jsonLine, numbered } from "./records.js"
import { tmpDir } from "./support.js"

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Child {
  readonly proc: ChildProcess
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  stderr: string
}

const Rows = Schema.Array(Schema.Struct({ fields: Schema.parseJson(Schema.Struct({ n: Schema.String })) }))
const Count = Schema.Array(Schema.Struct({ n: Schema.Number }))

describe("ingester fault tolerance", () => {
  const dir = tmpDir("decnet-ingest-fault-")
  const db = path.join(dir, "decnet.db")
  const log = path.join(dir, "decnet.log")
  const json = path.join(dir, "decnet.json")

  const query = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
    Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.provide(SqliteLive(db))))

  const count = () =>
    fs.existsSync(db)
      ? query((sql) =>
          sql`SELECT COUNT(*) AS n FROM ${sql("logs")}`.pipe(
            Effect.flatMap(Schema.decodeUnknown(Count)),
            Effect.map((rows) => rows[0]?.n ?? 0)
          )
        ).catch(() => 0)
      : Promise.resolve(0)

  const start = (): Child => {
    const proc = spawn(process.execPath, [...DECNET, "ingest", "--log-file", log], {
      env: {
        ...process.env,
        HOME: dir,
        DECNET_DB_TYPE: "sqlite",
        DECNET_DB_PATH: db,
        DECNET_BUS_ENABLED: "false",
        DECNET_BATCH_SIZE: "40"
      },
      stdio: ["ignore", "ignore", "pipe"]
    })
    children.push(proc)
    const child: Child = {
      proc,
      stderr: "",
      exited: new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })))
    }
    proc.stderr?.on("data", (d: Buffer) => {
      child.stderr += d.toString()
    })
    return child
  }

  const waitFor = async (check: () => Promise<boolean>, tries = 600) => {
    for (let i = 0; i < tries; i++) {
      if (await check()) return true
      await sleep(50)
    }
    return check()
  }

  it("kill -9 mid-stream, five times, then restart: every record stored exactly once", async () => {
    let written = 0
    let writing = true
    // The writer: small chunks, sometimes a line in two writes, until the kills are over.
    const writer = (async () => {
      while (writing || written < 3000) {
        const lines = Array.from({ length: 15 }, () => jsonLine(numbered(written++))).join("")
        if (written % 4 === 0) {
          const cut = Math.floor(lines.length / 2)
          fs.appendFileSync(json, lines.slice(0, cut))
          await sleep(3)
          fs.appendFileSync(json, lines.slice(cut))
        } else fs.appendFileSync(json, lines)
        await sleep(8)
      }
    })()

    const atKill: Array<number> = []
    for (let round = 0; round < 5; round++) {
      const child = start()
      // Kill only while this child is storing: the count must move first.
      const before = await count()
      const moving = await waitFor(async () => (await count()) > before)
      expect(moving, `ingester did not store anything in round ${round}: ${child.stderr}`).toBe(true)
      await sleep(Math.floor(Math.random() * 150))
      child.proc.kill("SIGKILL")
      expect((await child.exited).signal).toBe("SIGKILL")
      atKill.push(await count())
    }
    writing = false
    await writer

    const last = start()
    const done = await waitFor(async () => (await count()) >= written)
    expect(done, last.stderr).toBe(true)
    last.proc.kill("SIGTERM")
    const exit = await last.exited
    expect(exit.code, last.stderr).toBe(0)

    const numbers = await query((sql) =>
      sql`SELECT ${sql("fields")} FROM ${sql("logs")}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Rows)),
        Effect.map((rows) => rows.map((r) => Number(r.fields.n)))
      )
    )
    expect(numbers).toHaveLength(written)
    expect(new Set(numbers).size).toBe(written)
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: written }, (_, i) => i))
    // The kills landed in the middle of the stream.
    expect(atKill.every((n) => n > 0 && n < written)).toBe(true)
    expect(last.stderr).toContain("ingester stopped")
    console.log(`fault test: ${written} records, rows at each kill: ${atKill.join(", ")}`)
  })
})
