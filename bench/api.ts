/**
 * API benchmark (`npm run bench:api`), in one run:
 *   1. load on loopback: wrk (-t2, keep-alive, a valid bearer token) against the cached read endpoints
 *      (/stats, /logs?limit=50, /config; /deckies once the route answers 200) at 100, 500 and 1,500
 *      connections; requests/s, p50 and p99 per endpoint and connection count; from 500 connections up, a
 *      second, settled run whose p99 leaves out the wait for accept() (each connection's first request is
 *      held SETTLE_MS by a wrk Lua script, so every connection is accepted before the load starts);
 *   2. the ceiling, in the same run and at the same connection counts: a bare `node:http` server answering
 *      each endpoint with the very bytes the API answered it with (captured once), content-type
 *      application/json; the ratio API req/s / bare req/s;
 *   3. the issue's targets at 1,500 connections, PASS/MISS: ≥ 9,900 req/s (10× the original's ~990 req/s;
 *      its README: p99 8.4 s at 1,500 users), p99 ≤ 200 ms (settled; the cold p99 is printed beside it),
 *      ≥ 50% of the bare node:http figure;
 *   4. login throughput at bcrypt cost 12 (production): 40 logins, 4 at a time, from this process (fetch);
 *   5. the stall: GET /stats at a steady 100 req/s (open loop, each latency taken from its scheduled send
 *      time, so a blocked event loop shows in full), with no logins, then while a burst of 20 concurrent
 *      logins runs (probing goes on until the last of them has answered).
 * Prints figures and PASS/MISS; asserts nothing.
 *
 * The servers run in children, never in this process: `--serve api <dir>` (ApiProcessLive over a SQLite
 * file in a temp dir, DECNET_TESTING, app bus and login limiter off, 1,000 seeded log rows and a recorded
 * 8-decky in-process deployment that nothing runs) and
 * `--serve bare <bodies.json>`. Both are plain node (no inspector, no tsx) on an esbuild bundle of this
 * file, like the shipped CLI (bench/support.ts), started as `bash -c 'ulimit -n 65536; exec node …'` in a
 * process group of their own; they print `{"port":…}` on stdout and are killed by group at the end, also on
 * failure. wrk runs with the same raised fd limit (capped by the hard limit; the header says what it got).
 * Each server gets a 2 s wrk warm-up per endpoint before its measured runs. Traffic: 127.0.0.1 only.
 *
 * Environment: BENCH_DURATION (seconds per wrk run and per stall window, 10), BENCH_CONNECTIONS
 * ("100,500,1500"), BENCH_SKIP (comma list of load,ceiling,login,stall).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { bundleBench } from "./support.js"

const args = process.argv.slice(2)
const ROOT = path.resolve(import.meta.dirname, "..")
const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "100,500,1500").split(",").map(Number)
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").filter((s) => s !== ""))
const WRK = "/usr/bin/wrk"
const WRK_THREADS = 2
const WARMUP_S = 2
const SEED_ROWS = 1000
const SEED_DECKIES = 8
const LOGINS = 40
const LOGIN_CONCURRENCY = 4
const STALL_LOGINS = 20
const STALL_RATE = 100
const TARGET_CONNECTIONS = 1500
const TARGET_RPS = 9900
const TARGET_P99_MS = 200
const TARGET_RATIO = 0.5
/** Settled runs: each connection's first request waits this long, so every connection is accepted first. */
const SETTLE_MS = 3000
const SETTLED_FROM = 500
const JWT_SECRET = "bench-secret-0123456789abcdef0123456789"
const ADMIN = { username: "admin", password: "admin-password-1", changed: "admin-password-2-bench" } as const
const ENDPOINTS = ["/stats", "/logs?limit=50", "/config"] as const
const OPTIONAL_ENDPOINT = "/deckies"
const PREFIX = "/api/v1"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS")
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a")
const ms = (v: number) =>
  !Number.isFinite(v)
    ? "n/a"
    : v >= 1000
      ? `${(v / 1000).toFixed(2)} s`
      : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ms`
const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
/** A shell prefix raising the soft fd limit as far as allowed (65,536, else the hard limit). */
const RAISE_FDS = "ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null"

// ---- children: the servers -------------------------------------------------------------------------

const ready = (port: number) => {
  const limits = fs.readFileSync("/proc/self/limits", "utf8")
  const fds = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1] ?? "?"
  process.stdout.write(`${JSON.stringify({ port, fds, execArgv: process.execArgv })}\n`)
}

/** `decnet api`'s process layer over a SQLite file in `dir`, seeded with SEED_ROWS log rows. */
const serveApi = async (dir: string) => {
  const { HttpServer } = await import("@effect/platform")
  const { NodeContext } = await import("@effect/platform-node")
  const { Effect, Layer, Logger, ManagedRuntime, Option, Redacted } = await import("effect")
  const { FleetControl } = await import("../src/api/FleetControl.js")
  const { HealthProbes } = await import("../src/api/Health.js")
  const { ApiProcessLive } = await import("../src/api/Main.js")
  const { ApiDataLive } = await import("../src/api/Server.js")
  const { DockerNamespacesLive } = await import("../src/tarpit/Namespaces.js")
  const { AppBus, disabledAppBus } = await import("../src/bus/AppBus.js")
  const { NullBusLive } = await import("../src/bus/NullBus.js")
  const { WorkerRegistry } = await import("../src/bus/Registry.js")
  const { EvidenceWriterLive } = await import("../src/collector/Writer.js")
  const { DecnetConfig } = await import("../src/config/DecnetConfig.js")
  const { SqliteLive } = await import("../src/db/Client.js")
  const { LogRepo } = await import("../src/db/LogRepo.js")
  const { MigrationsLive } = await import("../src/db/Migrations.js")
  const { LOOPBACK_LAN } = await import("../src/fleet/Fleet.js")
  const { loadIniFromString } = await import("../src/fleet/Ini.js")
  const { makeDeployment, planFromIni } = await import("../src/fleet/Plan.js")
  const { FleetStore } = await import("../src/fleet/Store.js")
  const { LazyDockerTopology } = await import("../src/topology/LazyRuntime.js")
  const { DecnetLogger } = await import("../src/logging/DecnetLogger.js")
  const { encodeEventLine } = await import("../src/logging/HoneypotEvent.js")
  type NewLog = import("../src/db/Rows.js").NewLog
  type HoneypotEvent = import("../src/logging/HoneypotEvent.js").HoneypotEvent

  const config = DecnetConfig.fromMap({
    DECNET_TESTING: "true",
    DECNET_BUS_ENABLED: "false",
    DECNET_LIMITER_ENABLED: "false",
    DECNET_BCRYPT_ROUNDS: "12"
  })
  // As `decnet api` builds it (runApiMain), over a SQLite file, the app bus off and a null bus.
  const data = Layer.mergeAll(FleetStore.Default, MigrationsLive).pipe(
    Layer.provideMerge(ApiDataLive),
    Layer.provideMerge(SqliteLive(path.join(dir, "decnet.db")))
  )
  const fleet = FleetControl.standalone.pipe(
    Layer.provide(Layer.merge(EvidenceWriterLive(path.join(dir, "decnet.log")), NullBusLive))
  )
  // As `decnet api` logs: RFC 5424 lines on stderr at the configured level, no pretty logger.
  const logger = Layer.merge(DecnetLogger.layer("api"), Logger.remove(Logger.prettyLoggerDefault))
  const server = ApiProcessLive({
    serve: { host: "127.0.0.1", port: 0, corsOrigins: [], developer: false, docs: true },
    secret: Redacted.make(JWT_SECRET),
    admin: Option.some({ username: ADMIN.username, password: Redacted.make(ADMIN.password) })
  }).pipe(
    Layer.provide(HealthProbes.make(Option.none())),
    Layer.provide(fleet),
    Layer.provide(WorkerRegistry.Default),
    Layer.provide(Layer.succeed(AppBus, disabledAppBus)),
    Layer.provide(LazyDockerTopology),
    Layer.provide(DockerNamespacesLive),
    Layer.provide(logger),
    Layer.provideMerge(data),
    Layer.provideMerge(config),
    Layer.provideMerge(NodeContext.layer)
  )
  const runtime = ManagedRuntime.make(server)
  const services = ["redis", "ssh", "http", "ftp", "smtp"]
  const logs: Array<NewLog> = Array.from({ length: SEED_ROWS }, (_, i) => {
    const event: HoneypotEvent = {
      timestamp: new Date(Date.now() - (SEED_ROWS - i) * 1000),
      decky: `decky-${String((i % 8) + 1).padStart(2, "0")}`,
      service: services[i % services.length] ?? "redis",
      event_type: "command",
      attacker_ip: `203.0.113.${(i % 250) + 1}`,
      attacker_port: 40000 + (i % 20000),
      fields: { cmd: "GET", args: `["k${i}"]`, n: String(i) },
      msg: "",
      severity: 6
    }
    return { ...event, raw_line: encodeEventLine(event) }
  })
  await runtime.runPromise(Effect.flatMap(LogRepo, (repo) => repo.addLogs(logs)))
  // A recorded in-process fleet for /deckies (and /stats' decky counts); nothing runs it here.
  const archetypes = ["linux-server", "database-server", "mail-server"]
  const ini = Array.from(
    { length: SEED_DECKIES },
    (_, i) => `[decky-${String(i + 1).padStart(2, "0")}]\narchetype=${archetypes[i % archetypes.length]}\n`
  ).join("\n")
  await runtime.runPromise(
    Effect.gen(function* () {
      const deckies = yield* planFromIni(yield* loadIniFromString(ini), LOOPBACK_LAN)
      const deployment = yield* makeDeployment({
        runtime: "inprocess",
        interface: LOOPBACK_LAN.interface,
        subnet: LOOPBACK_LAN.subnet,
        gateway: LOOPBACK_LAN.gateway,
        deckies,
        log_file: path.join(dir, "decnet.log")
      })
      yield* (yield* FleetStore).save({ config: deployment, ports: {} })
    })
  )
  const address = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => s.address))
  if (address._tag !== "TcpAddress") throw new Error("the API did not bind a TCP port")
  ready(address.port)
}

/** The ceiling: node:http answering each path with the bytes in `bodies` (path → JSON text). */
const serveBare = async (bodiesFile: string) => {
  const parsed: unknown = JSON.parse(fs.readFileSync(bodiesFile, "utf8"))
  const bodies = new Map<string, Buffer>()
  if (typeof parsed === "object" && parsed !== null)
    for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") bodies.set(k, Buffer.from(v))
  const server = http.createServer((req, res) => {
    const body = bodies.get(req.url ?? "")
    if (body === undefined) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"detail":"Not Found"}')
      return
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body)
  })
  // The API's own listen backlog (src/api/Server.ts LISTEN_BACKLOG), so that both queue the same.
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", 4096, resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no TCP address")
  ready(address.port)
}

// ---- parent: processes -----------------------------------------------------------------------------

interface Server {
  readonly port: number
  readonly fds: string
  readonly execArgv: ReadonlyArray<string>
  readonly stderrLines: () => number
  readonly stop: () => Promise<void>
}

const live = new Set<ChildProcess>()
const signalGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // gone already
  }
}
// The children are process-group leaders: nothing outlives this script, whatever ends it.
const reapOnExit = () => {
  process.on("exit", () => {
    for (const c of live) signalGroup(c, "SIGKILL")
  })
  for (const s of ["SIGINT", "SIGTERM"] as const)
    process.on(s, () => {
      for (const c of live) signalGroup(c, "SIGKILL")
      process.exit(130)
    })
}

/** Start `--serve <mode> <arg>` of the bundle in its own process group, raised fd limit; resolves when listening. */
const startServer = async (bundle: string, mode: "api" | "bare", arg: string): Promise<Server> => {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = spawn(
    "bash",
    ["-c", `${RAISE_FDS}; exec "$0" "$@"`, process.execPath, bundle, "--serve", mode, arg],
    { detached: true, stdio: ["ignore", "pipe", "pipe"], env }
  )
  live.add(child)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let stdout = ""
  let stderrTail = ""
  let stderrLines = 0
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d
  })
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderrTail = (stderrTail + d).slice(-4000)
    for (const ch of d) if (ch === "\n") stderrLines++
  })
  const stop = async () => {
    signalGroup(child, "SIGTERM")
    await Promise.race([exited, sleep(5000)])
    signalGroup(child, "SIGKILL")
    await Promise.race([exited, sleep(2000)])
    live.delete(child)
  }
  const t0 = performance.now()
  try {
    for (;;) {
      const line = stdout.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined) {
        const r: unknown = JSON.parse(line)
        if (typeof r !== "object" || r === null || !("port" in r) || typeof r.port !== "number")
          throw new Error(`bad ready line: ${line}`)
        const fds = "fds" in r && typeof r.fds === "string" ? r.fds : "?"
        const execArgv =
          "execArgv" in r && Array.isArray(r.execArgv) ? r.execArgv.filter((a) => typeof a === "string") : []
        return { port: r.port, fds, execArgv, stderrLines: () => stderrLines, stop }
      }
      if (child.exitCode !== null || performance.now() - t0 > 120_000)
        throw new Error(`${mode} server did not start (exit ${child.exitCode}): ${stderrTail}`)
      await sleep(20)
    }
  } catch (e) {
    await stop()
    throw e
  }
}

// ---- parent: wrk -----------------------------------------------------------------------------------

interface WrkResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly non2xx: number
  readonly socketErrors: number
  readonly detail: string
}

const toMs = (text: string) => {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim())
  if (m === null) return Number.NaN
  const v = Number(m[1])
  const unit = m[2]
  return unit === "us"
    ? v / 1000
    : unit === "ms"
      ? v
      : unit === "s"
        ? v * 1000
        : unit === "m"
          ? v * 60_000
          : v * 3_600_000
}

const parseWrk = (out: string): WrkResult => {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const [connect, read, write, timeout] = [1, 2, 3, 4].map((i) => Number(socket?.[i] ?? 0))
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/)
  const detail = [
    socket === null ? "" : `connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`,
    Number.isNaN(non2xx) ? "" : `non-2xx ${non2xx}`
  ]
    .filter((s) => s !== "")
    .join("; ")
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    requests: num(/(\d+) requests in/),
    non2xx: Number.isNaN(non2xx) ? 0 : non2xx,
    socketErrors: (connect ?? 0) + (read ?? 0) + (write ?? 0) + (timeout ?? 0),
    detail
  }
}

/**
 * A wrk script for the settled runs: in each wrk thread (its own Lua state) the first `perThread` requests,
 * one per connection, wait SETTLE_MS before they are sent. wrk starts a request's clock when it writes it,
 * so the wait is not in the latency; the server accepts every connection while it is idle, and the load
 * then starts on connections that are all accepted.
 */
const settleScript = (dir: string, connections: number) => {
  const file = path.join(dir, `settle-${connections}.lua`)
  const perThread = Math.ceil(connections / Math.min(WRK_THREADS, connections))
  fs.writeFileSync(
    file,
    `local sent = 0\nfunction delay()\n  sent = sent + 1\n  if sent <= ${perThread} then return ${SETTLE_MS} end\n  return 0\nend\n`
  )
  return file
}

/**
 * wrk against 127.0.0.1:`port``target` (a path), `connections` connections for `seconds`. With `settle`
 * (a settleScript file), the run lasts SETTLE_MS longer and every connection is accepted before the load.
 */
const wrk = (
  port: number,
  target: string,
  connections: number,
  seconds: number,
  token?: string,
  settle?: string
) =>
  new Promise<WrkResult>((resolve, reject) => {
    const wrkArgs = [
      `-t${Math.min(WRK_THREADS, connections)}`,
      `-c${connections}`,
      `-d${settle === undefined ? seconds : seconds + SETTLE_MS / 1000}s`,
      ...(settle === undefined ? [] : ["-s", settle]),
      // Latencies above wrk's timeout are not recorded at all: give them room.
      "--timeout",
      "30s",
      "--latency",
      ...(token === undefined ? [] : ["-H", `Authorization: Bearer ${token}`]),
      `http://127.0.0.1:${port}${target}`
    ]
    const child = spawn("bash", ["-c", `${RAISE_FDS}; exec "$0" "$@"`, WRK, ...wrkArgs], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    live.add(child)
    let out = ""
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d
    })
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      out += d
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      live.delete(child)
      const r = parseWrk(out)
      if (code !== 0 || Number.isNaN(r.rps)) reject(new Error(`wrk exited ${code}: ${out.slice(-1500)}`))
      else resolve(r)
    })
  })

// ---- parent: HTTP from here ------------------------------------------------------------------------

const request = async (
  port: number,
  target: string,
  init: { method?: string; token?: string | undefined; json?: unknown } = {}
) => {
  const headers = new Headers()
  if (init.token !== undefined) headers.set("authorization", `Bearer ${init.token}`)
  if (init.json !== undefined) headers.set("content-type", "application/json")
  const res = await fetch(`http://127.0.0.1:${port}${target}`, {
    method: init.method ?? "GET",
    headers,
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) })
  })
  return { status: res.status, body: await res.text() }
}

const login = async (port: number, password: string) => {
  const r = await request(port, `${PREFIX}/auth/login`, {
    method: "POST",
    json: { username: ADMIN.username, password }
  })
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`)
  const body: unknown = JSON.parse(r.body)
  if (typeof body !== "object" || body === null || !("access_token" in body))
    throw new Error(`login: no token in ${r.body}`)
  const token = body.access_token
  if (typeof token !== "string") throw new Error(`login: no token in ${r.body}`)
  return token
}

/** The bootstrap admin's forced password change, then a token of the changed admin. */
const adminToken = async (port: number) => {
  const first = await login(port, ADMIN.password)
  const r = await request(port, `${PREFIX}/auth/change-password`, {
    method: "POST",
    token: first,
    json: { old_password: ADMIN.password, new_password: ADMIN.changed }
  })
  if (r.status !== 200) throw new Error(`change-password: ${r.status} ${r.body}`)
  return login(port, ADMIN.changed)
}

/** The cost of the admin's stored bcrypt hash, read from the SQLite file (read-only). */
const storedCost = (dbFile: string) => {
  try {
    const Database: typeof import("better-sqlite3") = createRequire(import.meta.url)("better-sqlite3")
    const db = new Database(dbFile, { readonly: true, fileMustExist: true })
    try {
      const row: unknown = db
        .prepare("SELECT password_hash FROM users WHERE username = ?")
        .get(ADMIN.username)
      const hash =
        typeof row === "object" && row !== null && "password_hash" in row ? String(row.password_hash) : ""
      return /^\$2[abxy]?\$(\d+)\$/.exec(hash)?.[1] ?? "?"
    } finally {
      db.close()
    }
  } catch {
    return "?"
  }
}

/**
 * GET `target` at a steady `rate` per second for `seconds`, and on while `busy()` (open loop: a slow answer
 * does not delay the next send); each latency runs from the request's scheduled send time.
 */
const steadyProbe = async (
  port: number,
  target: string,
  token: string,
  seconds: number,
  rate: number,
  busy: () => boolean = () => false
) => {
  const latencies: Array<number> = []
  let errors = 0
  const pending: Array<Promise<void>> = []
  const interval = 1000 / rate
  const t0 = performance.now()
  for (let i = 0; i * interval < seconds * 1000 || busy(); i++) {
    const due = t0 + i * interval
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    pending.push(
      request(port, target, { token }).then(
        (r) => {
          if (r.status !== 200) errors++
          latencies.push(performance.now() - due)
        },
        () => {
          errors++
        }
      )
    )
  }
  await Promise.all(pending)
  latencies.sort((a, b) => a - b)
  return { latencies, errors }
}

// ---- parent: sections ------------------------------------------------------------------------------

interface Row {
  readonly endpoint: string
  readonly connections: number
  readonly api: WrkResult | undefined
  readonly bare: WrkResult | undefined
  /** The settled runs (every connection accepted before the load), at SETTLED_FROM connections and up. */
  readonly apiSettled: WrkResult | undefined
  readonly bareSettled: WrkResult | undefined
  readonly failure?: string
}

const errorsOf = (r: WrkResult | undefined) => (r === undefined ? Number.NaN : r.non2xx + r.socketErrors)

const loadSection = async (
  bundle: string,
  dir: string,
  api: Server,
  token: string,
  endpoints: ReadonlyArray<string>,
  deckies: boolean
) => {
  console.log(
    `## 1–2. load on loopback (wrk -t${WRK_THREADS}, keep-alive, bearer token, ${DURATION} s per run, --timeout 30s) vs the bare node:http ceiling`
  )
  console.log(
    "API: ApiProcessLive over SQLite (1,000 log rows, 8 recorded deckies), one node process. bare: node:http\n" +
      "answering each path with the bytes the API answered it with. wrk, the server and this script share the\n" +
      "machine's cores.\n" +
      "errors: non-2xx responses + socket errors (connect/read/write/timeout); p50/p99 from wrk's --latency.\n"
  )
  // The bytes the ceiling answers with: the API's own bodies.
  const bodies: Record<string, string> = {}
  for (const e of endpoints) {
    const r = await request(api.port, `${PREFIX}${e}`, { token })
    if (r.status !== 200) throw new Error(`GET ${e}: ${r.status} ${r.body}`)
    bodies[`${PREFIX}${e}`] = r.body
  }
  const bodiesFile = path.join(dir, "bodies.json")
  fs.writeFileSync(bodiesFile, JSON.stringify(bodies))
  console.log(
    `bodies: ${endpoints.map((e) => `${e} ${int(Buffer.byteLength(bodies[`${PREFIX}${e}`] ?? ""))} B`).join(", ")}\n`
  )

  const rows: Array<Row> = []
  const results = new Map<string, WrkResult>()
  const logLinesBefore = api.stderrLines()
  for (const e of endpoints) await wrk(api.port, `${PREFIX}${e}`, 100, WARMUP_S, token).catch(() => undefined)
  const settled = (c: number) => (c >= SETTLED_FROM ? settleScript(dir, c) : undefined)
  for (const c of CONNECTIONS)
    for (const e of endpoints) {
      try {
        results.set(`api ${e} ${c}`, await wrk(api.port, `${PREFIX}${e}`, c, DURATION, token))
        const script = settled(c)
        if (script !== undefined)
          results.set(
            `api settled ${e} ${c}`,
            await wrk(api.port, `${PREFIX}${e}`, c, DURATION, token, script)
          )
      } catch (err) {
        rows.push({
          endpoint: e,
          connections: c,
          api: undefined,
          bare: undefined,
          apiSettled: undefined,
          bareSettled: undefined,
          failure: String(err)
        })
      }
    }
  const logLines = api.stderrLines() - logLinesBefore

  if (!SKIP.has("ceiling")) {
    const bare = await startServer(bundle, "bare", bodiesFile)
    try {
      for (const e of endpoints) await wrk(bare.port, `${PREFIX}${e}`, 100, WARMUP_S).catch(() => undefined)
      for (const c of CONNECTIONS)
        for (const e of endpoints)
          try {
            results.set(`bare ${e} ${c}`, await wrk(bare.port, `${PREFIX}${e}`, c, DURATION))
            const script = settled(c)
            if (script !== undefined)
              results.set(
                `bare settled ${e} ${c}`,
                await wrk(bare.port, `${PREFIX}${e}`, c, DURATION, undefined, script)
              )
          } catch (err) {
            console.log(`bare ${e} at ${c}: failed: ${String(err).split("\n")[0]}`)
          }
    } finally {
      await bare.stop()
    }
  }

  for (const c of CONNECTIONS)
    for (const e of endpoints) {
      if (rows.some((r) => r.endpoint === e && r.connections === c)) continue
      rows.push({
        endpoint: e,
        connections: c,
        api: results.get(`api ${e} ${c}`),
        bare: results.get(`bare ${e} ${c}`),
        apiSettled: results.get(`api settled ${e} ${c}`),
        bareSettled: results.get(`bare settled ${e} ${c}`)
      })
    }
  rows.sort(
    (a, b) => endpoints.indexOf(a.endpoint) - endpoints.indexOf(b.endpoint) || a.connections - b.connections
  )

  const head =
    `${"endpoint".padEnd(16)}${"conns".padStart(6)}  │${"API req/s".padStart(11)}${"p50".padStart(10)}${"p99".padStart(10)}${"settled".padStart(10)}${"errors".padStart(8)}` +
    `  │${"bare req/s".padStart(11)}${"p50".padStart(10)}${"p99".padStart(10)}${"settled".padStart(10)}${"errors".padStart(8)}  │${"API/bare".padStart(9)}`
  console.log(head)
  console.log("─".repeat(head.length))
  const cells = (r: WrkResult | undefined, settledRun: WrkResult | undefined) =>
    `${int(r?.rps ?? Number.NaN).padStart(11)}${ms(r?.p50 ?? Number.NaN).padStart(10)}${ms(r?.p99 ?? Number.NaN).padStart(10)}` +
    `${(settledRun === undefined ? "-" : ms(settledRun.p99)).padStart(10)}${int(errorsOf(r) + (settledRun === undefined ? 0 : errorsOf(settledRun))).padStart(8)}`
  for (const r of rows) {
    const ratio = r.api !== undefined && r.bare !== undefined ? (r.api.rps / r.bare.rps).toFixed(2) : "n/a"
    console.log(
      `${r.endpoint.padEnd(16)}${String(r.connections).padStart(6)}  │${cells(r.api, r.apiSettled)}  │${cells(r.bare, r.bareSettled)}  │${ratio.padStart(9)}`
    )
  }
  console.log(
    `settled: the p99 of a second run in which each connection's first request waits ${SETTLE_MS / 1000} s (a wrk -s script),\n` +
      "so that the server accepts every connection before the load starts. The cold p99 counts each connection's\n" +
      "first request, which waits in the kernel's accept queue: node's libuv (1.45+) accepts one connection per\n" +
      "event-loop iteration, and under load an iteration serves hundreds of sockets (docs/benchmarks.md, API)."
  )
  if (!deckies) console.log(`${OPTIONAL_ENDPOINT.padEnd(16)}${"".padStart(6)}  │ n/a (route not built yet)`)
  const notes = rows.flatMap((r) => [
    ...(r.failure === undefined ? [] : [`API ${r.endpoint} at ${r.connections}: failed: ${r.failure}`]),
    ...(r.api !== undefined && errorsOf(r.api) > 0
      ? [`API ${r.endpoint} at ${r.connections}: ${r.api.detail}`]
      : []),
    ...(r.bare !== undefined && errorsOf(r.bare) > 0
      ? [`bare ${r.endpoint} at ${r.connections}: ${r.bare.detail}`]
      : []),
    ...(r.apiSettled !== undefined && errorsOf(r.apiSettled) > 0
      ? [`API ${r.endpoint} at ${r.connections}, settled: ${r.apiSettled.detail}`]
      : []),
    ...(r.bareSettled !== undefined && errorsOf(r.bareSettled) > 0
      ? [`bare ${r.endpoint} at ${r.connections}, settled: ${r.bareSettled.detail}`]
      : [])
  ])
  for (const n of notes) console.log(`  ${n}`)
  console.log(
    `API process: ${int(logLines)} stderr log lines during the load runs; fd limit: API ${api.fds}; node flags: ${api.execArgv.length === 0 ? "none" : api.execArgv.join(" ")}`
  )

  console.log(
    `\n## 3. targets at ${int(TARGET_CONNECTIONS)} connections (10× the original's ~990 req/s; its README: p99 8.4 s at 1,500 users)`
  )
  const atTarget = rows.filter((r) => r.connections === TARGET_CONNECTIONS)
  if (atTarget.length === 0) console.log(`no run at ${TARGET_CONNECTIONS} connections (BENCH_CONNECTIONS)`)
  for (const r of atTarget) {
    const a = r.api
    if (a === undefined) {
      console.log(`  ${r.endpoint.padEnd(16)} MISS (no measurement)`)
      continue
    }
    const ratio = r.bare === undefined ? Number.NaN : a.rps / r.bare.rps
    const s = r.apiSettled
    console.log(
      `  ${r.endpoint.padEnd(16)} ≥ ${int(TARGET_RPS)} req/s ${verdict(a.rps >= TARGET_RPS)} (${int(a.rps)}); ` +
        `p99 ≤ ${TARGET_P99_MS} ms, settled ${s === undefined ? "n/a" : `${verdict(s.p99 <= TARGET_P99_MS)} (${ms(s.p99)}${r.bareSettled === undefined ? "" : `; bare ${ms(r.bareSettled.p99)}`})`}; ` +
        `cold ${verdict(a.p99 <= TARGET_P99_MS)} (${ms(a.p99)}${r.bare === undefined ? "" : `; bare ${ms(r.bare.p99)}`}); ` +
        `≥ ${TARGET_RATIO * 100}% of bare node:http ${Number.isNaN(ratio) ? "n/a" : `${verdict(ratio >= TARGET_RATIO)} (${ratio.toFixed(2)})`}; ` +
        `no errors ${verdict(errorsOf(a) + (s === undefined ? 0 : errorsOf(s)) === 0)} (${int(errorsOf(a) + (s === undefined ? 0 : errorsOf(s)))})`
    )
  }
  console.log("")
}

const loginSection = async (api: Server, dbFile: string) => {
  console.log(
    `## 4. login throughput, bcrypt cost 12 (stored hash cost ${storedCost(dbFile)}): ${LOGINS} logins, ${LOGIN_CONCURRENCY} at a time (fetch from the bench process)`
  )
  const latencies: Array<number> = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: LOGIN_CONCURRENCY }, async () => {
      while (next < LOGINS) {
        next++
        const t = performance.now()
        await login(api.port, ADMIN.changed)
        latencies.push(performance.now() - t)
      }
    })
  )
  const seconds = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  console.log(
    `${latencies.length} logins in ${seconds.toFixed(2)} s: ${(latencies.length / seconds).toFixed(2)} logins/s; ` +
      `latency mean ${ms(mean(latencies))}, p50 ${ms(quantile(latencies, 0.5))}, max ${ms(latencies.at(-1) ?? Number.NaN)}\n`
  )
}

const stallSection = async (api: Server, token: string) => {
  console.log(
    `## 5. the stall: GET /stats at a steady ${STALL_RATE} req/s (open loop, latency from the scheduled send) for ${DURATION} s,\n` +
      `without logins, then with a burst of ${STALL_LOGINS} concurrent logins fired as the window opens (probing goes on until the burst is done)`
  )
  const target = `${PREFIX}/stats`
  await steadyProbe(api.port, target, token, 1, STALL_RATE)
  const quiet = await steadyProbe(api.port, target, token, DURATION, STALL_RATE)
  let inFlight = STALL_LOGINS
  let loginErrors = 0
  const loginLatencies: Array<number> = []
  const t0 = performance.now()
  const burst = Promise.all(
    Array.from({ length: STALL_LOGINS }, async () => {
      try {
        await login(api.port, ADMIN.changed)
        loginLatencies.push(performance.now() - t0)
      } catch {
        loginErrors++
      } finally {
        inFlight--
      }
    })
  )
  const busy = await steadyProbe(api.port, target, token, DURATION, STALL_RATE, () => inFlight > 0)
  await burst
  loginLatencies.sort((a, b) => a - b)
  const col = (s: string) => s.padStart(16)
  console.log(`${"GET /stats".padEnd(14)}${col("no logins")}${col(`${STALL_LOGINS} logins`)}`)
  const line = (label: string, f: (xs: ReadonlyArray<number>) => string) =>
    console.log(`${label.padEnd(14)}${col(f(quiet.latencies))}${col(f(busy.latencies))}`)
  line("requests", (xs) => int(xs.length))
  line("p50", (xs) => ms(quantile(xs, 0.5)))
  line("p99", (xs) => ms(quantile(xs, 0.99)))
  line("max", (xs) => ms(xs.at(-1) ?? Number.NaN))
  console.log(`${"errors".padEnd(14)}${col(int(quiet.errors))}${col(int(busy.errors))}`)
  console.log(
    `the burst: ${int(loginLatencies.length)} logins done in ${ms(loginLatencies.at(-1) ?? Number.NaN)} (first ${ms(loginLatencies[0] ?? Number.NaN)}), ${int(loginErrors)} failed`
  )
  const p99Quiet = quantile(quiet.latencies, 0.99)
  const p99Busy = quantile(busy.latencies, 0.99)
  console.log(
    `/stats p99 during the burst / without logins: ${(p99Busy / p99Quiet).toFixed(0)}× (${ms(p99Quiet)} → ${ms(p99Busy)})\n`
  )
}

const main = async () => {
  reapOnExit()
  let commit = "unknown"
  try {
    commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()
    if (execFileSync("git", ["-C", ROOT, "status", "--porcelain"], { encoding: "utf8" }).trim() !== "")
      commit += " + uncommitted changes"
  } catch {
    // not a git checkout
  }
  const wrkVersion = /^wrk \S+/.exec(spawnSync(WRK, ["-v"], { encoding: "utf8" }).stdout)?.[0] ?? "wrk ?"
  const wrkFds = spawnSync("bash", ["-c", `${RAISE_FDS}; ulimit -n`], { encoding: "utf8" }).stdout.trim()
  console.log(
    `# API benchmark — node ${process.version}, nproc ${os.availableParallelism()}, ${os.cpus()[0]?.model ?? "cpu"}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, commit ${commit}`
  )
  console.log(
    `# command: npm run bench:api (servers: plain node on an esbuild bundle of this file, in children; ${wrkVersion}, fd limit ${wrkFds})\n`
  )
  const bundle = await bundleBench(import.meta.url, "api")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bench-api-"))
  let api: Server | undefined
  try {
    api = await startServer(bundle, "api", dir)
    const token = await adminToken(api.port)
    const probe = await request(api.port, `${PREFIX}${OPTIONAL_ENDPOINT}`, { token })
    const deckies = probe.status === 200
    const endpoints = deckies ? [...ENDPOINTS, OPTIONAL_ENDPOINT] : [...ENDPOINTS]
    if (!SKIP.has("load")) await loadSection(bundle, dir, api, token, endpoints, deckies)
    if (!SKIP.has("login")) await loginSection(api, path.join(dir, "decnet.db"))
    if (!SKIP.has("stall")) await stallSection(api, token)
  } finally {
    await api?.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const fail = (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
}
if (args[0] === "--serve") {
  const [mode, arg = ""] = args.slice(1)
  ;(mode === "api"
    ? serveApi(arg)
    : mode === "bare"
      ? serveBare(arg)
      : Promise.reject(new Error(`mode ${mode}`))
  ).catch(fail)
} else main().catch(fail)
