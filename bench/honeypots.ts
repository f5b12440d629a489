/**
 * Honeypot benchmark (`npm run bench:honeypots`): memory of one process running every service, the
 * marginal memory of each extra decky, and new connections per second for ssh, http, https and redis.
 * Every figure comes from a fresh child process running plain node on an esbuild bundle of this file
 * (as the shipped CLI is bundled; tsx alone would add ~170 MiB to each RSS). Loopback traffic only.
 *
 * Options: `--baseline REF` (the same figures for commit REF, built in a git worktree, in the same
 * run), `--rounds N`, `--only ssh,https,…` (rows by service name), `--no-memory`, and `--interleave`
 * (with a baseline: one window per round for both builds, each client worker alternating them
 * connection by connection, so load from elsewhere on the machine hits both alike; the default
 * alternates whole 5 s runs).
 *
 * Child modes (forked by the parent, results over IPC): `--child idle`, `--child rss <N>`,
 * `--child serve <slug,…> [config json]`. Heavy modules load lazily so the idle child stays idle.
 */
import { fork } from "node:child_process"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as https from "node:https"
import * as net from "node:net"
import * as os from "node:os"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { bundleBench, bundleFile } from "./support.js"

const args = process.argv.slice(2)
const SETTLE_MS = 1500

// ---- children --------------------------------------------------------------------------------------

const send = (message: unknown) =>
  new Promise<void>((resolve) => {
    if (process.send === undefined) throw new Error("bench child needs an IPC channel")
    process.send(message, () => resolve())
  })

interface Memory {
  readonly rss: number
  readonly heap: number
}

/** Memory after a full GC and a short settle, so lazily allocated buffers and JIT code are counted. */
const settledMemory = async (): Promise<Memory> => {
  await new Promise((r) => setTimeout(r, SETTLE_MS))
  globalThis.gc?.()
  await new Promise((r) => setTimeout(r, 200))
  globalThis.gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
}

const runChild = async () => {
  const mode = args[1]
  if (mode === "idle") {
    // The runtime a decky process has before any service: node plus effect (imported above), one fiber.
    Effect.runFork(Effect.never)
    await send(await settledMemory())
    return
  }
  const { HONEYPOT_SLUGS } = await import("../src/honeypots/Registry.js")
  if (mode === "rss") {
    const count = Number(args[2] ?? "1")
    await keepDeckies(count, HONEYPOT_SLUGS)
    await send(await settledMemory())
    return
  }
  if (mode === "serve") {
    const slugs = (args[2] ?? "").split(",")
    const configs = args[3] === undefined ? {} : JSON.parse(args[3])
    const ports = await keepDeckies(1, slugs, configs)
    // The parent asks for this process's CPU time around each measured window.
    process.on("message", (m) => {
      if (m === "cpu") void send({ cpu: process.cpuUsage() })
    })
    await send({ ports: ports[0] })
    return
  }
  throw new Error(`unknown child mode ${mode}`)
}

/** Start deckies in a scope that stays open for the life of the process. */
const keepDeckies = (
  count: number,
  slugs: ReadonlyArray<string>,
  configs: Readonly<Record<string, unknown>> = {}
) =>
  new Promise<Array<Record<string, number>>>((resolve, reject) => {
    void (async () => {
      const { planDecky, startDecky } = await import("../src/fleet/Decky.js")
      const { PortPlan } = await import("../src/fleet/Ports.js")
      const { defaultLimits, EventSink } = await import("../src/honeypots/runtime/index.js")
      const sink = Layer.succeed(EventSink, { write: () => Effect.void })
      const program = Effect.gen(function* () {
        const ports: Array<Record<string, number>> = []
        for (let i = 0; i < count; i++) {
          const name = `decky-${String(i + 1).padStart(2, "0")}`
          const plan = yield* planDecky({
            identity: { name, hostname: name, instanceId: "", artifactsDir: `/tmp/decnet-bench/${name}` },
            host: count === 1 ? "127.0.0.1" : `127.77.0.${i + 1}`,
            slugs,
            configs,
            ports: PortPlan.explicit(new Map(), "ephemeral"),
            limits: defaultLimits
          })
          const running = yield* startDecky(plan).pipe(Effect.provide(sink))
          const byService: Record<string, number> = {}
          for (const r of running.services) byService[r.slug] = r.listeners[0]?.port ?? 0
          ports.push(byService)
        }
        yield* Effect.sync(() => resolve(ports))
        return yield* Effect.never
      }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))
      Effect.runFork(program).addObserver((exit) => {
        if (exit._tag === "Failure") reject(new Error(`deckies failed: ${String(exit.cause)}`))
      })
    })().catch(reject)
  })

// ---- parent ----------------------------------------------------------------------------------------

interface ChildHandle<A> {
  readonly result: Promise<A>
  /** Server CPU time (user + system, µs) so far. */
  readonly cpu: () => Promise<number>
  readonly stop: () => Promise<void>
}

/** A build of the bench child: this tree, or a baseline commit's (`--baseline REF`). */
interface Variant {
  readonly label: string
  readonly bundle: string
}

const spawnChild = <A>(variant: Variant, childArgs: ReadonlyArray<string>): ChildHandle<A> => {
  const child = fork(variant.bundle, ["--child", ...childArgs], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "ignore", "pipe", "ipc"]
  })
  let stderr = ""
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const result = new Promise<A>((resolve, reject) => {
    child.once("message", (m: A) => resolve(m))
    child.once("exit", (code) =>
      reject(new Error(`bench child ${childArgs.join(" ")} exited ${code}: ${stderr}`))
    )
  })
  return {
    result,
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once("message", (m: { cpu: { user: number; system: number } }) =>
          resolve(m.cpu.user + m.cpu.system)
        )
        child.send("cpu")
      }),
    stop: async () => {
      child.kill("SIGKILL")
      await exited
    }
  }
}

const measure = async <A>(variant: Variant, childArgs: ReadonlyArray<string>): Promise<A> => {
  const c = spawnChild<A>(variant, childArgs)
  try {
    return await c.result
  } finally {
    await c.stop()
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** Run `attempt` with `concurrency` workers for `durationMs`; completed attempts per second. */
const rate = async (attempt: () => Promise<void>, concurrency: number, durationMs: number) => {
  let done = 0
  let failed = 0
  let firstError = ""
  const deadline = Date.now() + durationMs
  const start = Date.now()
  const worker = async () => {
    while (Date.now() < deadline) {
      try {
        await attempt()
        done++
      } catch (e) {
        failed++
        if (firstError === "") firstError = e instanceof Error ? e.message : String(e)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (Date.now() - start) / 1000
  return { perSecond: done / seconds, done, failed, firstError }
}

const sshAttempt = (ssh2: typeof import("ssh2"), port: number) => () =>
  new Promise<void>((resolve, reject) => {
    const c = new ssh2.Client()
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      c.end()
      if (error === undefined) resolve()
      else reject(error)
    }
    // A refused password is the expected outcome: handshake done, one password tried.
    c.on("error", (e) =>
      /authentication methods failed/.test(e.message) ? finish() : finish(new Error(`ssh: ${e.message}`))
    )
    c.on("ready", () => finish())
    // ssh2's Client leaves Nagle on: its small auth packets then wait ~40 ms for delayed ACKs, which
    // measures the client, not the server. Real OpenSSH clients set TCP_NODELAY.
    const sock = net.connect({ host: "127.0.0.1", port, noDelay: true })
    c.connect({
      sock,
      username: "root",
      password: "wrong-password",
      tryKeyboard: false,
      readyTimeout: 20_000
    })
  })

/** GET / on a fresh connection (`agent: false`, no keep-alive), body drained. */
const getAttempt = (get: (onResponse: (res: http.IncomingMessage) => void) => http.ClientRequest) => () =>
  new Promise<void>((resolve, reject) => {
    const req = get((res) => {
      res.resume()
      res.on("end", () => resolve())
      res.on("error", reject)
    })
    req.on("error", reject)
  })

const httpAttempt = (port: number) =>
  getAttempt((onResponse) => http.get({ host: "127.0.0.1", port, path: "/", agent: false }, onResponse))

/** TLS handshake (the decky's self-signed certificate, no ALPN offered, so HTTP/1.1) + GET /. */
const httpsH1Attempt = (port: number) =>
  getAttempt((onResponse) =>
    https.get({ host: "127.0.0.1", port, path: "/", agent: false, rejectUnauthorized: false }, onResponse)
  )

/** TLS handshake + ALPN h2 + one GET / + close: the path through the SETTINGS tap. */
const httpsH2Attempt = (port: number) => () =>
  new Promise<void>((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    session.on("error", reject)
    const req = session.request({ ":path": "/" })
    req.on("data", () => {})
    req.on("end", () => {
      session.close()
      resolve()
    })
    req.on("error", reject)
    req.end()
  })

/** A text protocol's session (imap, pop3): the client's lines sent after the greeting, done at `until`. */
const lineAttempt = (port: number, lines: string, until: string) => () =>
  new Promise<void>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    let buf = ""
    s.on("data", (d) => {
      if (buf === "") s.write(lines)
      buf += d.toString()
      if (buf.includes(until)) {
        s.end()
        resolve()
      }
    })
    s.on("error", reject)
    s.on("close", () => {
      if (!buf.includes(until)) reject(new Error(`closed after ${JSON.stringify(buf.slice(0, 200))}`))
    })
  })

/** connect, AUTH (answered with the "no password is set" error), PING, close. */
const redisAttempt = (port: number) => () =>
  new Promise<void>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    let buf = ""
    s.on("connect", () => s.write("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\ns3cret\r\n*1\r\n$4\r\nPING\r\n"))
    s.on("data", (d) => {
      buf += d.toString()
      if (buf.includes("+PONG\r\n")) {
        s.end()
        resolve()
      }
    })
    s.on("error", reject)
    s.on("close", () => {
      if (!buf.includes("+PONG")) reject(new Error(`redis: closed after ${JSON.stringify(buf)}`))
    })
  })

/**
 * `--baseline REF`: the same bench child, built from commit REF in a git worktree under
 * node_modules/.cache, so "before" and "after" are measured in one run on one machine. The child
 * protocol (`--child idle|rss N|serve …`) is what both builds share.
 */
const baselineVariant = async (ref: string): Promise<Variant> => {
  const { execFileSync } = await import("node:child_process")
  const { existsSync, symlinkSync } = await import("node:fs")
  const root = new URL("..", import.meta.url).pathname
  const sha = execFileSync("git", ["-C", root, "rev-parse", "--short", ref], { encoding: "utf8" }).trim()
  const dir = `${root}node_modules/.cache/decnet-bench/worktree-${sha}`
  if (!existsSync(dir))
    execFileSync("git", ["-C", root, "worktree", "add", "--detach", dir, sha], { stdio: "ignore" })
  if (!existsSync(`${dir}/node_modules`)) symlinkSync(`${root}node_modules`, `${dir}/node_modules`)
  const outdir = `${root}node_modules/.cache/decnet-bench/baseline-${sha}/`
  return {
    label: `before (${sha})`,
    bundle: await bundleFile(`${dir}/bench/honeypots.ts`, "honeypots", outdir)
  }
}

const main = async () => {
  const nproc = os.availableParallelism()
  const refAt = args.indexOf("--baseline")
  const baselineRef = refAt >= 0 ? args[refAt + 1] : undefined
  const roundsAt = args.indexOf("--rounds")
  const rounds = Math.max(1, Number(roundsAt >= 0 ? args[roundsAt + 1] : baselineRef === undefined ? 1 : 3))
  console.log(
    `# honeypot benchmark — node ${process.version}, nproc ${nproc}, ${os.cpus()[0]?.model ?? "cpu"}`
  )
  console.log(
    `# command: npm run bench:honeypots${args.length === 0 ? "" : ` -- ${args.join(" ")}`} (children: plain node on an esbuild bundle); loopback only\n`
  )

  const current: Variant = {
    label: "after (this tree)",
    bundle: await bundleBench(import.meta.url, "honeypots")
  }
  const variants: ReadonlyArray<Variant> =
    baselineRef === undefined ? [current] : [await baselineVariant(baselineRef), current]
  const ssh2 = await import("ssh2")
  const { HONEYPOT_SLUGS } = await import("../src/honeypots/Registry.js")
  const k = HONEYPOT_SLUGS.length
  const line = (label: string, m: Memory, extra: string) =>
    console.log(`${label.padEnd(36)}${mib(m.rss).padStart(11)}${mib(m.heap).padStart(12)}  ${extra}`)

  console.log("## memory (fresh child, after GC + 1.5 s settle; marginal = (X(N) - X(1)) / (N - 1))")
  const marginal = new Map<string, number>()
  for (const v of args.includes("--no-memory") ? [] : variants) {
    console.log(`### ${v.label}`)
    console.log(
      `${"process".padEnd(36)}${"RSS".padStart(11)}${"heap used".padStart(12)}  marginal per extra decky`
    )
    const idle = await measure<Memory>(v, ["idle"])
    const rows: Array<[number, Memory]> = []
    for (const n of [1, 5, 10, 20]) rows.push([n, await measure<Memory>(v, ["rss", String(n)])])
    const one = rows[0]?.[1] ?? { rss: 0, heap: 0 }
    line("idle node + effect (baseline)", idle, "")
    line(`1 decky × ${k} services`, one, `(+${mib(one.rss - idle.rss)} RSS over baseline)`)
    for (const [n, m] of rows.slice(1)) {
      const perDecky = (m.rss - one.rss) / (n - 1)
      if (n === 20) marginal.set(v.label, perDecky)
      line(
        `${n} deckies × ${k} services`,
        m,
        `RSS ${mib(perDecky)}, heap ${mib((m.heap - one.heap) / (n - 1))}`
      )
    }
  }

  console.log("\n## new connections per second (server in a fresh child, client here; 5 s per row)")
  const servers = variants.map((v) => ({
    variant: v,
    main: spawnChild<{ ports: Record<string, number> }>(v, [
      "serve",
      "ssh,http,https,redis,imap,pop3,smtp",
      // The ssh row measures the connection's work, not sshd's 2–3 s PAM failure delay (issue 14), which
      // holds a connection open without CPU; builds from before the delay don't know the knob.
      JSON.stringify({
        redis: { reply_delay_ms: [0, 0] },
        ...(v === current ? { ssh: { auth_failure_delay_ms: [0, 0] } } : {})
      })
    ]),
    redisDefault: spawnChild<{ ports: Record<string, number> }>(v, ["serve", "redis"])
  }))
  const ready = await Promise.all(
    servers.map(async (s) => ({
      ...s,
      ports: (await s.main.result).ports,
      redisDefaultPort: (await s.redisDefault.result).ports.redis ?? 0
    }))
  )
  interface Row {
    readonly name: string
    readonly what: string
    readonly concurrency: number
    readonly attempt: (ports: Record<string, number>, redisDefaultPort: number) => () => Promise<void>
    readonly onDefault?: boolean
  }
  const rowsToRun: ReadonlyArray<Row> = [
    {
      name: "ssh",
      what: "kex + password auth (refused, failure delay 0) + close, ssh2 Client",
      concurrency: 8,
      attempt: (p) => sshAttempt(ssh2, p.ssh ?? 0)
    },
    {
      name: "http",
      what: "GET / without keep-alive (agent: false)",
      concurrency: 16,
      attempt: (p) => httpAttempt(p.http ?? 0)
    },
    {
      name: "https",
      what: "TLS + GET / over HTTP/1.1, no keep-alive",
      concurrency: 16,
      attempt: (p) => httpsH1Attempt(p.https ?? 0)
    },
    {
      name: "https",
      what: "TLS + ALPN h2 + GET / + close (SETTINGS tap)",
      concurrency: 16,
      attempt: (p) => httpsH2Attempt(p.https ?? 0)
    },
    {
      name: "redis",
      what: "AUTH + PING + close, reply_delay_ms [0,0]",
      concurrency: 16,
      attempt: (p) => redisAttempt(p.redis ?? 0)
    },
    {
      name: "imap",
      what: "greeting + LOGIN (accepted) + LOGOUT",
      concurrency: 16,
      attempt: (p) => lineAttempt(p.imap ?? 0, "a LOGIN admin admin123\r\nb LOGOUT\r\n", "b OK Logout")
    },
    {
      name: "pop3",
      what: "greeting + USER/PASS (accepted) + QUIT",
      concurrency: 16,
      attempt: (p) => lineAttempt(p.pop3 ?? 0, "USER admin\r\nPASS admin123\r\nQUIT\r\n", "+OK Logging out")
    },
    {
      name: "smtp",
      what: "greeting + EHLO/MAIL/RCPT (relay denied) + QUIT, pipelined",
      concurrency: 16,
      attempt: (p) =>
        lineAttempt(
          p.smtp ?? 0,
          "EHLO bench.example\r\nMAIL FROM:<a@sender.org>\r\nRCPT TO:<c@d.org>\r\nQUIT\r\n",
          "221 2.0.0 Bye"
        )
    },
    {
      name: "redis",
      what: "AUTH + PING + close, default 2–40 ms reply delay",
      concurrency: 16,
      attempt: (_p, d) => redisAttempt(d),
      onDefault: true
    }
  ]
  const head = ["service", "build", "conn/s", "conc", "done", "failed", "server CPU ms/conn"]
  console.log(
    `${head[0]?.padEnd(8)}${head[1]?.padEnd(20)}${head
      .slice(2)
      .map((h, i) => h.padStart(i === 4 ? 19 : 8))
      .join("")}  what`
  )
  const ratios: Array<string> = []
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const onlyAt = args.indexOf("--only")
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? "").split(",") : undefined
  const interleave = args.includes("--interleave") && ready.length > 1
  const cpuCell = (cpu: number) => cpu.toFixed(2).padStart(19)
  for (const row of rowsToRun.filter((r) => only === undefined || only.includes(r.name))) {
    // Builds alternate within a row, `rounds` times, so drift on the machine hits both alike.
    const runs = ready.map(() => ({ rates: [] as Array<number>, cpus: [] as Array<number> }))
    if (interleave)
      for (let round = 0; round < rounds; round++) {
        // One window for both builds: every client worker alternates them connection by connection, so
        // both servers see the same machine at the same moment (load from elsewhere hits both alike).
        const attempts = ready.map((s) => row.attempt(s.ports, s.redisDefaultPort))
        const children = ready.map((s) => (row.onDefault === true ? s.redisDefault : s.main))
        const done = ready.map(() => 0)
        let turn = 0
        const either = () => {
          const i = turn++ % attempts.length
          return (attempts[i] ?? (() => Promise.resolve()))().then(() => {
            done[i] = (done[i] ?? 0) + 1
          })
        }
        await rate(either, row.concurrency, 500)
        done.fill(0)
        const before = await Promise.all(children.map((c) => c.cpu()))
        const r = await rate(either, row.concurrency, 5000)
        const after = await Promise.all(children.map((c) => c.cpu()))
        for (const [i, s] of ready.entries()) {
          const n = done[i] ?? 0
          const cpu = n === 0 ? 0 : ((after[i] ?? 0) - (before[i] ?? 0)) / 1000 / n
          const perSecond = n / (r.done === 0 ? 1 : r.done / r.perSecond)
          runs[i]?.rates.push(perSecond)
          runs[i]?.cpus.push(cpu)
          const cells = [perSecond.toFixed(0), String(row.concurrency), String(n), String(r.failed)]
          console.log(
            `${row.name.padEnd(8)}${s.variant.label.slice(0, 19).padEnd(20)}${cells.map((x) => x.padStart(8)).join("")}${cpuCell(cpu)}  ${row.what} (interleaved)${r.failed > 0 ? ` (first error: ${r.firstError})` : ""}`
          )
        }
      }
    else
      for (let round = 0; round < rounds; round++)
        for (const [i, s] of ready.entries()) {
          const attempt = row.attempt(s.ports, s.redisDefaultPort)
          const on: ChildHandle<unknown> = row.onDefault === true ? s.redisDefault : s.main
          await rate(attempt, row.concurrency, 500)
          const before = await on.cpu()
          const r = await rate(attempt, row.concurrency, 5000)
          const cpu = r.done === 0 ? 0 : ((await on.cpu()) - before) / 1000 / r.done
          runs[i]?.rates.push(r.perSecond)
          runs[i]?.cpus.push(cpu)
          const cells = [r.perSecond.toFixed(0), String(row.concurrency), String(r.done), String(r.failed)]
          console.log(
            `${row.name.padEnd(8)}${s.variant.label.slice(0, 19).padEnd(20)}${cells.map((x) => x.padStart(8)).join("")}${cpuCell(cpu)}  ${row.what}${r.failed > 0 ? ` (first error: ${r.firstError})` : ""}`
          )
        }
    const [b, a] = runs
    if (a !== undefined && b !== undefined) {
      // The ratio within each round (the two builds measured side by side), then its median: steadier
      // than the ratio of the medians when the machine's load swings from one round to the next.
      const paired = median(a.cpus.map((x, i) => x / (b.cpus[i] || 1)))
      ratios.push(
        `${row.name.padEnd(6)} conn/s ${median(b.rates).toFixed(0)} → ${median(a.rates).toFixed(0)} (${(
          median(a.rates) / (median(b.rates) || 1)
        ).toFixed(2)}×), server CPU ms/conn ${median(b.cpus).toFixed(2)} → ${median(a.cpus).toFixed(2)} (${(
          median(a.cpus) / (median(b.cpus) || 1)
        ).toFixed(2)}×; per round ${paired.toFixed(2)}×)  ${row.what}`
      )
    }
  }
  for (const s of ready) {
    await s.main.stop()
    await s.redisDefault.stop()
  }
  if (ratios.length > 0) {
    console.log(
      `\n## before → after, median of ${rounds} ${interleave ? "interleaved windows" : "alternating runs"} each (same run)`
    )
    for (const r of ratios) console.log(r)
    const [b, a] = variants.map((v) => marginal.get(v.label) ?? 0)
    console.log(`marginal RSS per extra decky (20 deckies): before ${mib(b ?? 0)}, after ${mib(a ?? 0)}`)
  }
}

if (args[0] === "--child") {
  runChild().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
} else {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}
