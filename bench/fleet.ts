/**
 * Fleet benchmark (`npm run bench:fleet`), in one run:
 *   1. ingest throughput, RFC 5424 line → `logs` row: the collector (`makeCollector` → evidence writer →
 *      `.json`) and the ingester (`ingestFileToEnd` → `logs`), on SQLite (temp file) and MariaDB (a scratch
 *      database created and dropped here), next to the "floor": the same driver's batched INSERT of the
 *      same rows into the same `logs` table, same batch size, one transaction per batch (LogRepo's insert);
 *   2. end-to-end latency, client touch → row visible: the shipped CLI's `decnet up --json` as a child,
 *      N redis `AUTH` connections, each polled for in the SQLite file;
 *   3. `decnet deploy` seconds per decky on Docker (images cached), when the engine and images are there;
 *   4. RSS per decky: the in-process runtime (marginal, fresh children) and Docker containers.
 * Prints figures and PASS/MISS against the issue's targets; asserts nothing. Measured code runs in children
 * on an esbuild bundle of this file (plain node, like the shipped CLI). Traffic: loopback, the local MariaDB,
 * the Docker socket, and a /24 on a veth pair this script creates and removes.
 *
 * Child modes: `--child collect <dir> <N>`, `--child floor|ingest <sqlite|mysql> <dir> <batch> [N]`, `--child rss <deckies>`.
 * Environment: BENCH_N (rows, 100000), BENCH_MYSQL_N (rows on MariaDB, 50000), BENCH_BATCH (the batch sizes,
 * "100,1000"; 100 is DECNET_BATCH_SIZE's default), BENCH_LATENCY_N (200), BENCH_MYSQL_URL
 * (mysql://root@127.0.0.1:3306/test), BENCH_SKIP (comma list of ingest,mysql,latency,docker,rss).
 */
import { type ChildProcess, execFileSync, fork, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime, Redacted } from "effect"
import { bundleBench } from "./support.js"

const args = process.argv.slice(2)
const ROOT = path.resolve(import.meta.dirname, "..")
const N = Number(process.env.BENCH_N ?? 100_000)
const MYSQL_N = Number(process.env.BENCH_MYSQL_N ?? 50_000)
const BATCHES = (process.env.BENCH_BATCH ?? "100,1000").split(",").map(Number)
/** Lines per collector call in the chunked measurement (a busy engine stream's chunk holds ~150). */
const CHUNK = Number(process.env.BENCH_CHUNK ?? 64)
const LATENCY_N = Number(process.env.BENCH_LATENCY_N ?? 200)
const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test"
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").filter((s) => s !== ""))
const DOCKER_K = 3
const SETTLE_MS = 1500

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS")

// ---- children --------------------------------------------------------------------------------------

const send = (message: unknown) =>
  new Promise<void>((resolve) => {
    if (process.send === undefined) throw new Error("bench child needs an IPC channel")
    process.send(message, () => resolve())
  })

type Engine = "sqlite" | "mysql"

/** Wall seconds and this process's CPU seconds (user + system) of a measured stretch. */
interface Timed {
  readonly seconds: number
  readonly cpu: number
}

const timer = () => {
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  return (): Timed => {
    const c = process.cpuUsage(c0)
    return { seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }
  }
}

/** The collector over `n` numbered redis events (their RFC 5424 lines) into `<dir>/decnet.{log,json}`; seconds. */
const collectChild = async (dir: string, n: number, chunk: number): Promise<Timed> => {
  const { nullBus } = await import("../src/bus/NullBus.js")
  const { Bus } = await import("../src/bus/Bus.js")
  const { makeCollector } = await import("../src/collector/Collector.js")
  const { EvidenceWriter, makeEvidenceWriter } = await import("../src/collector/Writer.js")
  const { DecnetConfig } = await import("../src/config/DecnetConfig.js")
  const { encodeEventLine } = await import("../src/logging/HoneypotEvent.js")
  const { numbered } = await import("../test/ingester/records.js")
  const lines = Array.from({ length: n }, (_, i) => encodeEventLine(numbered(i)))
  const stop = timer()
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const writer = yield* makeEvidenceWriter(path.join(dir, "decnet.log"))
        const c = yield* makeCollector.pipe(
          Effect.provideService(EvidenceWriter, writer),
          Effect.provideService(Bus, nullBus),
          Effect.provide(DecnetConfig.fromMap({}))
        )
        const source = { container: "bench" }
        // chunk 1: one line per call (the in-process sink's way); larger: as the Docker source hands a chunk
        // of the engine's log stream over (acceptMany: one append per file per chunk).
        if (chunk <= 1) for (const l of lines) yield* c.accept(l, source)
        else
          for (let i = 0; i < lines.length; i += chunk)
            yield* c.acceptMany(lines.slice(i, i + chunk).map((line) => ({ line, source })))
      })
    ).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  )
  return stop()
}

/**
 * The database of one measurement: a fresh SQLite file in `dir`, or a scratch MariaDB database created here
 * and dropped by the returned `drop`; migrated, with the ingester's store and a null bus.
 */
const benchDatabase = async (engine: Engine, dir: string) => {
  const { NodeFileSystem } = await import("@effect/platform-node")
  const { SqlClient } = await import("@effect/sql")
  const { NullBusLive } = await import("../src/bus/NullBus.js")
  const { SqliteLive, MysqlLive } = await import("../src/db/Client.js")
  const { MigrationsLive } = await import("../src/db/Migrations.js")
  const { IngestStore } = await import("../src/ingester/Store.js")
  const scratch = `decnet_bench_${process.pid}`
  const admin = async (statement: string) => {
    const rt = ManagedRuntime.make(MysqlLive(Redacted.make(MYSQL_URL)))
    try {
      await rt.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
    } finally {
      await rt.dispose()
    }
  }
  const url = new URL(MYSQL_URL)
  url.pathname = `/${scratch}`
  if (engine === "mysql") await admin(`CREATE DATABASE ${scratch}`)
  const db =
    engine === "sqlite"
      ? SqliteLive(path.join(dir, `bench-${process.pid}.db`))
      : MysqlLive(Redacted.make(url.toString()))
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(IngestStore.Default, NullBusLive, NodeFileSystem.layer, MigrationsLive).pipe(
      Layer.provideMerge(db),
      Layer.provideMerge(Logger.minimumLogLevel(LogLevel.Warning))
    )
  )
  await runtime.runPromise(Effect.void)
  const count = async () => {
    const rows = await runtime.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe<{ n: number | string }>("SELECT COUNT(*) AS n FROM logs")
      )
    )
    return Number(rows[0]?.n ?? -1)
  }
  const drop = async () => {
    await runtime.dispose()
    if (engine === "mysql") await admin(`DROP DATABASE IF EXISTS ${scratch}`)
  }
  return { runtime, count, drop }
}

/**
 * The floor: the rows the ingester would store (decoded from the collector's `.json`, before the clock
 * starts), inserted as LogRepo.addLogs inserts them, `batchSize` rows per INSERT and per transaction.
 */
const floorChild = async (engine: Engine, dir: string, batchSize: number): Promise<Timed> => {
  const { SqlClient } = await import("@effect/sql")
  const { decodeRecordLine, logRow } = await import("../src/ingester/Rows.js")
  const rows = fs
    .readFileSync(path.join(dir, "decnet.json"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const d = decodeRecordLine(l)
      if (d._tag === "Left") throw new Error(`undecodable bench line: ${l}`)
      return logRow(d.right)
    })
  const db = await benchDatabase(engine, dir)
  try {
    const stop = timer()
    await db.runtime.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        for (let i = 0; i < rows.length; i += batchSize)
          yield* sql.withTransaction(
            sql`INSERT INTO ${sql("logs")} ${sql.insert(rows.slice(i, i + batchSize))}`
          )
      })
    )
    const timed = stop()
    const counted = await db.count()
    if (counted !== rows.length) throw new Error(`floor: ${counted} rows in logs, not ${rows.length}`)
    return timed
  } finally {
    await db.drop()
  }
}

/** The ingester from byte 0 of the collector's `.json` into an empty database; seconds. */
const ingestChild = async (engine: Engine, dir: string, batchSize: number, n: number): Promise<Timed> => {
  const { ingestFileToEnd } = await import("../src/ingester/Ingester.js")
  const db = await benchDatabase(engine, dir)
  try {
    const stop = timer()
    const stats = await db.runtime.runPromise(
      ingestFileToEnd({
        path: path.join(dir, "decnet.json"),
        batchSize,
        batchMaxWaitMs: 250,
        trustedProxies: []
      })
    )
    const timed = stop()
    const counted = await db.count()
    if (stats.rows !== n || counted !== n)
      throw new Error(`ingested ${stats.rows} rows, ${counted} in logs, not ${n}`)
    return timed
  } finally {
    await db.drop()
  }
}

interface Memory {
  readonly rss: number
  readonly heap: number
  readonly deckies: number
  readonly ports: number
}

/** `decnet up`'s in-process runtime with `count` deckies of the default fleet's three archetypes, in turn. */
const rssChild = async (count: number): Promise<Memory> => {
  const { makeInProcessRuntime } = await import("../src/fleet/InProcess.js")
  const { loadIniFromString } = await import("../src/fleet/Ini.js")
  const { makeDeployment, planFromIni } = await import("../src/fleet/Plan.js")
  const { isHoneypotSlug } = await import("../src/honeypots/Registry.js")
  const { EventSink } = await import("../src/honeypots/runtime/index.js")
  const { DecnetConfig } = await import("../src/config/DecnetConfig.js")
  const { LOOPBACK_LAN } = await import("../src/cli/FleetRun.js")
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bench-rss-"))
  const archetypes = ["linux-server", "database-server", "mail-server"]
  const ini = Array.from(
    { length: count },
    (_, i) => `[decky-${String(i + 1).padStart(2, "0")}]\narchetype=${archetypes[i % archetypes.length]}\n`
  ).join("\n")
  const started = new Promise<number>((resolve, reject) => {
    const program = Effect.gen(function* () {
      const runtime = yield* makeInProcessRuntime({ privileged: false })
      const parsed = yield* loadIniFromString(ini)
      const lan = { subnet: LOOPBACK_LAN.subnet, gateway: LOOPBACK_LAN.gateway, hostIp: LOOPBACK_LAN.hostIp }
      const deckies = yield* planFromIni(parsed, lan, { runnable: isHoneypotSlug })
      const deployment = yield* makeDeployment({
        runtime: "inprocess",
        interface: LOOPBACK_LAN.interface,
        subnet: LOOPBACK_LAN.subnet,
        gateway: LOOPBACK_LAN.gateway,
        deckies,
        log_file: path.join(home, "decnet.log"),
        ipvlan: false,
        mutate_interval: 30
      })
      let services = 0
      for (const d of deckies) services += (yield* runtime.up(d, deployment)).length
      yield* Effect.sync(() => resolve(services))
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      // Events go nowhere: the sink is the same for 1 or N deckies, so the marginal does not see it.
      Effect.provide(Layer.succeed(EventSink, { write: () => Effect.void })),
      Effect.provide(DecnetConfig.fromMap({ HOME: home, DECNET_CONFIG: path.join(home, "absent.ini") })),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
    Effect.runFork(program).addObserver((exit) => {
      if (exit._tag === "Failure") reject(new Error(`deckies failed: ${String(exit.cause)}`))
    })
  })
  const services = await started
  await sleep(SETTLE_MS)
  globalThis.gc?.()
  await sleep(200)
  globalThis.gc?.()
  const m = process.memoryUsage()
  // The parent kills this child once it has the figures: its temp home goes now.
  fs.rmSync(home, { recursive: true, force: true })
  return { rss: m.rss, heap: m.heapUsed, deckies: count, ports: services }
}

const runChild = async () => {
  const [mode, a1 = "", a2 = "", a3 = "", a4 = ""] = args.slice(1)
  const engine: Engine = a1 === "mysql" ? "mysql" : "sqlite"
  if (mode === "collect") await send(await collectChild(a1, Number(a2), Number(a3 || "1")))
  else if (mode === "floor") await send(await floorChild(engine, a2, Number(a3)))
  else if (mode === "ingest") await send(await ingestChild(engine, a2, Number(a3), Number(a4)))
  else if (mode === "rss") await send(await rssChild(Number(a1)))
  else throw new Error(`unknown child mode ${mode}`)
  process.exit(0)
}

// ---- parent ----------------------------------------------------------------------------------------

const measure = <A>(bundle: string, childArgs: ReadonlyArray<string>): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const child = fork(bundle, ["--child", ...childArgs], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "ignore", "pipe", "ipc"]
    })
    let stderr = ""
    let result: A | undefined
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.once("message", (m: A) => {
      result = m
      child.kill("SIGKILL")
    })
    child.once("exit", (code) =>
      result !== undefined
        ? resolve(result)
        : reject(new Error(`child ${childArgs.join(" ")} exited ${code}: ${stderr}`))
    )
  })

const ingestSection = async (bundle: string) => {
  console.log("## 1. ingest throughput, RFC 5424 line → `logs` row")
  console.log(
    "collector: lines → .log + .json (one child), one line per call (c1) and in chunks of " +
      `${CHUNK}` +
      " lines as the\n" +
      "Docker source hands them over (cN); ingester: .json → logs (ingestFileToEnd); floor: the same rows,\n" +
      "same driver and table, INSERT … VALUES of `batch` rows per transaction (LogRepo's insert). Each floor and\n" +
      "ingester run is a fresh child on an empty database; best of 3 alternating runs each.\n" +
      "pipe 1 core = N / (collector cN s + ingester s): both stages on one core. pipe 2 procs = min(collector cN,\n" +
      "ingester): `decnet collect` and `decnet ingest` as the two processes they are, on two cores. CPU µs/row:\n" +
      "user+system time per row (collector cN / the fastest ingester run / the fastest floor run; MariaDB's own\n" +
      "CPU is not in it)\n"
  )
  console.log(
    `${"engine".padEnd(7)}${"batch".padStart(6)}${"rows".padStart(8)}${"coll c1/s".padStart(11)}${"coll cN/s".padStart(11)}${"ingest/s".padStart(10)}${"pipe 1 core".padStart(13)}${"pipe 2 procs".padStart(14)}${"floor/s".padStart(9)}${"ingest/floor".padStart(14)}${"pipe2/floor".padStart(13)}${"CPU µs/row c/i/f".padStart(20)}`
  )
  const verdicts: Array<string> = []
  for (const engine of ["sqlite", "mysql"] as const) {
    if (engine === "mysql" && SKIP.has("mysql")) continue
    const n = engine === "sqlite" ? N : MYSQL_N
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bench-fleet-"))
    try {
      // Line by line into a directory of its own (only its time counts); the chunked run's files feed the ingester.
      const dir1 = path.join(dir, "per-line")
      fs.mkdirSync(dir1)
      const collect1 = await measure<Timed>(bundle, ["collect", dir1, String(n), "1"])
      fs.rmSync(dir1, { recursive: true, force: true })
      const collect = await measure<Timed>(bundle, ["collect", dir, String(n), String(CHUNK)])
      for (const batch of BATCHES) {
        const floors: Array<Timed> = []
        const ingests: Array<Timed> = []
        try {
          for (let round = 0; round < 3; round++) {
            floors.push(await measure<Timed>(bundle, ["floor", engine, dir, String(batch)]))
            ingests.push(await measure<Timed>(bundle, ["ingest", engine, dir, String(batch), String(n)]))
          }
        } catch (e) {
          console.log(
            `${engine.padEnd(8)}${String(batch).padStart(6)}  failed: ${e instanceof Error ? e.message.split("\n").slice(0, 3).join(" ") : String(e)}`
          )
          continue
        }
        const fastest = (xs: ReadonlyArray<Timed>) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a))
        const [i, f] = [fastest(ingests), fastest(floors)]
        const collector1 = n / collect1.seconds
        const collector = n / collect.seconds
        const ingester = n / i.seconds
        const pipeline = n / (collect.seconds + i.seconds)
        const pipeline2 = Math.min(collector, ingester)
        const floor = n / f.seconds
        const us = (t: Timed) => ((t.cpu * 1e6) / n).toFixed(1)
        console.log(
          `${engine.padEnd(7)}${String(batch).padStart(6)}${String(n).padStart(8)}${collector1.toFixed(0).padStart(11)}${collector.toFixed(0).padStart(11)}${ingester.toFixed(0).padStart(10)}${pipeline.toFixed(0).padStart(13)}${pipeline2.toFixed(0).padStart(14)}${floor.toFixed(0).padStart(9)}${(ingester / floor).toFixed(2).padStart(14)}${(pipeline2 / floor).toFixed(2).padStart(13)}${`${us(collect)}/${us(i)}/${us(f)}`.padStart(20)}`
        )
        const tag = `${engine} batch ${batch}${batch === 100 ? " (default)" : ""}`
        verdicts.push(
          `${tag}: ≥ 50% of floor: ingester ${verdict(ingester >= 0.5 * floor)} (${(ingester / floor).toFixed(2)}), pipe 2 procs ${verdict(pipeline2 >= 0.5 * floor)} (${(pipeline2 / floor).toFixed(2)}), pipe 1 core ${verdict(pipeline >= 0.5 * floor)} (${(pipeline / floor).toFixed(2)})`
        )
        if (engine === "sqlite")
          verdicts.push(
            `${tag}: ≥ 50,000 events/s: ingester ${verdict(ingester >= 50_000)} (${ingester.toFixed(0)}), pipe 2 procs ${verdict(pipeline2 >= 50_000)} (${pipeline2.toFixed(0)}), pipe 1 core ${verdict(pipeline >= 50_000)} (${pipeline.toFixed(0)})`
          )
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log("\ntargets:")
  for (const v of verdicts) console.log(`  ${v}`)
  console.log("")
}

/** The environment of a CLI child: nothing of the caller's DECNET_*, HOME a temp dir. */
const cliEnv = (home: string): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DECNET_"))),
  HOME: home,
  // A root `up` would otherwise host (or join) the system socket /run/decnet/bus.sock.
  DECNET_BUS_SOCKET: path.join(home, "bus.sock")
})

interface Ready {
  readonly ready: boolean
  readonly db: string
  readonly deckies: ReadonlyArray<{
    readonly name: string
    readonly ip: string
    readonly services: ReadonlyArray<{ service: string; port: number; proto: string; address: string }>
  }>
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN

const signalGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // gone already
  }
}

/**
 * Connect, send `AUTH user pass` and resolve once it is written (the touch); `replied` resolves with the
 * time the reply arrived.
 */
const redisAuth = (host: string, port: number, user: string, pass: string) =>
  new Promise<{ readonly touched: number; readonly replied: Promise<number> }>((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true })
    let settle: (error?: Error) => void = () => undefined
    const replied = new Promise<number>((ok, ko) => {
      settle = (error) => (error === undefined ? ok(performance.now()) : ko(error))
    })
    s.setTimeout(10_000, () => {
      s.destroy()
      settle(new Error("redis timeout"))
    })
    s.once("connect", () =>
      s.write(`AUTH ${user} ${pass}\r\n`, () => resolve({ touched: performance.now(), replied }))
    )
    s.once("data", () => {
      s.end()
      settle()
    })
    s.once("error", (e) => {
      reject(e)
      settle(e)
    })
  })

const latencySection = async () => {
  console.log(
    `## 2. end-to-end latency, client touch → row visible (\`decnet up --json\`, ${LATENCY_N} redis AUTHs)`
  )
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bench-up-"))
  const child = spawn(process.execPath, [path.join(ROOT, "dist/bin/decnet.js"), "up", "--json"], {
    env: cliEnv(home),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d
  })
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    const t0 = performance.now()
    let ready: Ready | undefined
    while (ready === undefined) {
      if (child.exitCode !== null || performance.now() - t0 > 60_000)
        throw new Error(
          `decnet up did not print its ready line (exit ${child.exitCode}): ${stderr.slice(-2000)}`
        )
      const line = stdout.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined) ready = JSON.parse(line) as Ready
      else await sleep(20)
    }
    const startup = (performance.now() - t0) / 1000
    const redis = ready.deckies
      .flatMap((d) => d.services.filter((s) => s.service === "redis" && s.proto === "tcp"))
      .at(0)
    if (redis === undefined) throw new Error("no decky runs redis in the default fleet")
    const [host, portText] = [
      redis.address.slice(0, redis.address.lastIndexOf(":")),
      redis.address.slice(redis.address.lastIndexOf(":") + 1)
    ]
    // Loaded here, not at the top: the bundle's children (whose RSS is measured) never need it.
    const Database: typeof import("better-sqlite3") = createRequire(import.meta.url)("better-sqlite3")
    // The ingester migrates the file; wait for its `logs` table.
    let db: InstanceType<typeof Database> | undefined
    while (db === undefined) {
      try {
        const d = new Database(ready.db, { readonly: true, fileMustExist: true })
        d.prepare("SELECT 1 FROM logs LIMIT 1").all()
        db = d
      } catch {
        if (performance.now() - t0 > 60_000) throw new Error(`no logs table in ${ready.db}`)
        await sleep(50)
      }
    }
    const find = db.prepare("SELECT id FROM logs WHERE event_type = 'auth' AND fields LIKE ? LIMIT 1")
    // A warm-up touch: the first one pays for lazy loading and the first ingest pass.
    const latencies: Array<number> = []
    const replies: Array<number> = []
    let missed = 0
    for (let i = -1; i < LATENCY_N; i++) {
      const user = `u${process.pid}x${i < 0 ? "warm" : i}`
      const { touched: t, replied } = await redisAuth(host, Number(portText), user, `p${i}`)
      const pattern = `%"principal":"${user}"%`
      let seenAt: number | undefined
      while (performance.now() - t < 10_000) {
        if (find.get(pattern) !== undefined) {
          seenAt = performance.now()
          break
        }
        await sleep(2)
      }
      const replyAt = await replied
      if (i < 0) continue
      replies.push(replyAt - t)
      if (seenAt !== undefined) latencies.push(seenAt - t)
      else missed++
    }
    db.close()
    latencies.sort((a, b) => a - b)
    replies.sort((a, b) => a - b)
    const p50 = quantile(latencies, 0.5)
    const p99 = quantile(latencies, 0.99)
    console.log(
      `up ready in ${startup.toFixed(1)} s; redis at ${redis.address}; polled every 2 ms (read-only better-sqlite3)`
    )
    console.log(
      `touches ${LATENCY_N}, seen ${latencies.length}, missed (>10 s) ${missed}; touch → row visible p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${(latencies.at(-1) ?? Number.NaN).toFixed(0)} ms`
    )
    console.log(
      `for reference, touch → redis reply (the persona's 2–40 ms reply delay): p50 ${quantile(replies, 0.5).toFixed(0)} ms, p99 ${quantile(replies, 0.99).toFixed(0)} ms`
    )
    console.log(`target p99 ≤ 2,000 ms (issue 11): ${verdict(missed === 0 && p99 <= 2000)}\n`)
  } catch (e) {
    console.log(`failed: ${e instanceof Error ? e.message : String(e)}\n`)
  } finally {
    signalGroup(child, "SIGINT")
    await Promise.race([exited, sleep(10_000)])
    signalGroup(child, "SIGKILL")
    await Promise.race([exited, sleep(2_000)])
    fs.rmSync(home, { recursive: true, force: true })
  }
}

const dockerSection = async () => {
  console.log(
    `## 3. deploy seconds per decky on Docker (images cached), ${DOCKER_K} deckies; RSS per Docker decky`
  )
  const skip = (why: string) => console.log(`skipped: ${why}\n`)
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8" })
  if (info.status !== 0)
    return skip(`\`docker info\` failed: ${(info.stderr || info.error?.message || "").trim()}`)
  const image = spawnSync("docker", ["image", "inspect", "decnet-decky:debian"], { encoding: "utf8" })
  if (image.status !== 0) return skip("no decnet-decky:debian image (`npx decnet images build` builds it)")
  if (process.getuid?.() !== 0) return skip("needs root (veth pair, macvlan helper)")
  const { acquireFleetLock, vethLan } = await import("../test/fleet/dockerSupport.js")
  const { LAN_NETWORK } = await import("../src/fleet/DockerRuntime.js")
  const lan = vethLan("decnet_vb0", "decnet_vb1", "10.213.79")
  const names = Array.from({ length: DOCKER_K }, (_, i) => `decnet-bench-${String(i + 1).padStart(2, "0")}`)
  const ini = [
    `[general]\nnet=${lan.subnet}\ngw=${lan.gateway}\ninterface=${lan.parent}\n`,
    ...names.map((n, i) => `[${n}]\nip=${lan.net}.${30 + i}\nservices=ssh, redis, http\n`)
  ].join("\n")
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bench-docker-"))
  const env: NodeJS.ProcessEnv = {
    ...cliEnv(home),
    DECNET_CONFIG: path.join(home, "absent.ini"),
    DECNET_DB_TYPE: "sqlite",
    DECNET_DB_PATH: path.join(home, "decnet.db"),
    DECNET_INGEST_LOG_FILE: path.join(home, "decnet.log"),
    DECNET_BUS_ENABLED: "false"
  }
  const cli = (cliArgs: ReadonlyArray<string>) =>
    spawnSync(process.execPath, [path.join(ROOT, "dist/bin/decnet.js"), ...cliArgs], {
      env,
      encoding: "utf8",
      timeout: 600_000
    })
  const iniFile = path.join(home, "fleet.ini")
  fs.writeFileSync(iniFile, ini)
  console.log("waiting for the host's docker fleet lock (the [docker] tests hold it)…")
  const release = await acquireFleetLock()
  try {
    lan.create()
    const t0 = performance.now()
    const deployed = cli(["deploy", "--config", iniFile, "--interface", lan.parent, "--json"])
    const seconds = (performance.now() - t0) / 1000
    if (deployed.status !== 0) {
      console.log(`deploy failed (exit ${deployed.status}): ${deployed.stderr.slice(-1500)}\n`)
      return
    }
    const perDecky = seconds / DOCKER_K
    console.log(
      `decnet deploy --config (${DOCKER_K} deckies × ssh,redis,http) --interface ${lan.parent}: ${seconds.toFixed(2)} s, ${perDecky.toFixed(2)} s/decky; target ≤ 1 s/decky: ${verdict(perDecky <= 1)}`
    )
    await sleep(5000)
    const stats = spawnSync(
      "docker",
      ["stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", ...names],
      { encoding: "utf8" }
    )
    // The cgroup's own figures: usage (page cache included) and anonymous memory (the processes' RSS).
    const usage: Array<number> = []
    const anon: Array<number> = []
    for (const name of names) {
      const id = spawnSync("docker", ["inspect", "--format", "{{.Id}}", name], {
        encoding: "utf8"
      }).stdout.trim()
      const stat = (file: string, key: string) => {
        const line = fs
          .readFileSync(file, "utf8")
          .split("\n")
          .find((l) => l.startsWith(`${key} `))
        return Number(line?.split(" ")[1] ?? Number.NaN)
      }
      const v1 = `/sys/fs/cgroup/memory/docker/${id}`
      const v2 = [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, `/sys/fs/cgroup/docker/${id}`].find((d) =>
        fs.existsSync(d)
      )
      if (fs.existsSync(v1)) {
        usage.push(Number(fs.readFileSync(`${v1}/memory.usage_in_bytes`, "utf8").trim()))
        anon.push(stat(`${v1}/memory.stat`, "total_rss"))
      } else if (v2 !== undefined) {
        usage.push(Number(fs.readFileSync(`${v2}/memory.current`, "utf8").trim()))
        anon.push(stat(`${v2}/memory.stat`, "anon"))
      }
    }
    const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    console.log(`docker stats --no-stream (after 5 s):\n${stats.stdout.trimEnd()}`)
    if (usage.length > 0)
      console.log(
        `cgroup memory per decky container: usage ${usage.map(mib).join(", ")} (mean ${mib(mean(usage))}); anonymous (RSS) ${anon.map(mib).join(", ")} (mean ${mib(mean(anon))})`
      )
    const down = cli(["teardown", "--all", "--json"])
    if (down.status !== 0) console.log(`teardown failed (exit ${down.status}): ${down.stderr.slice(-800)}`)
    console.log("")
  } finally {
    for (const name of names) spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" })
    spawnSync("docker", ["network", "rm", LAN_NETWORK], { stdio: "ignore" })
    lan.remove()
    release()
    fs.rmSync(home, { recursive: true, force: true })
  }
}

const rssSection = async (bundle: string) => {
  console.log("## 4. RSS per decky, in-process runtime (fresh child, after GC + 1.5 s settle)")
  console.log("deckies cycle the default fleet's archetypes (linux-server, database-server, mail-server)")
  console.log(`${"deckies".padEnd(9)}${"ports".padStart(9)}${"RSS".padStart(11)}${"heap used".padStart(12)}`)
  const rows: Array<Memory> = []
  for (const n of [1, 3, 24]) {
    const m = await measure<Memory>(bundle, ["rss", String(n)])
    rows.push(m)
    console.log(
      `${String(n).padEnd(9)}${String(m.ports).padStart(9)}${mib(m.rss).padStart(11)}${mib(m.heap).padStart(12)}`
    )
  }
  const [one, three, many] = rows
  if (one !== undefined && three !== undefined && many !== undefined) {
    const marginal = (many.rss - three.rss) / 21
    const from1 = (many.rss - one.rss) / 23
    console.log(
      `marginal RSS per decky: (RSS(24) - RSS(3)) / 21 = ${mib(marginal)} (every archetype's modules loaded in both); (RSS(24) - RSS(1)) / 23 = ${mib(from1)}; heap ${mib((many.heap - three.heap) / 21)}`
    )
    console.log(`target ≤ 5 MiB per decky: ${verdict(marginal <= 5 * 1024 * 1024)}\n`)
  }
}

const main = async () => {
  let commit = "unknown"
  try {
    commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()
    if (execFileSync("git", ["-C", ROOT, "status", "--porcelain"], { encoding: "utf8" }).trim() !== "")
      commit += " + uncommitted changes"
  } catch {
    // not a git checkout
  }
  console.log(
    `# fleet benchmark — node ${process.version}, nproc ${os.availableParallelism()}, ${os.cpus()[0]?.model ?? "cpu"}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, commit ${commit}`
  )
  console.log(
    "# command: npm run bench:fleet (children: plain node on an esbuild bundle; `decnet` = dist/bin/decnet.js)\n"
  )
  const bundle = await bundleBench(import.meta.url, "fleet")
  if (!SKIP.has("ingest")) await ingestSection(bundle)
  if (!SKIP.has("latency")) await latencySection()
  if (!SKIP.has("docker")) await dockerSection()
  if (!SKIP.has("rss")) await rssSection(bundle)
}

const fail = (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
}
if (args[0] === "--child") runChild().catch(fail)
else main().catch(fail)
