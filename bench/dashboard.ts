/**
 * Dashboard benchmark (`npm run bench:dashboard`; issue 13), in one run against `decnet up` (the built CLI,
 * a fresh HOME, the API on a free loopback port) and Debian's chromium through playwright-core:
 *   1. the initial JavaScript a first visit transfers (gzip, as the browser received it), target ≤ 250 KB,
 *      beside the raw size and the gzip size of every built chunk (dist/web/assets);
 *   2. with the fleet ingesting BENCH_RATE (500) events/s for BENCH_DURATION (20) s: redis AUTHs (each is two
 *      events, `command` and `auth`, so BENCH_RATE / 2 a second) from BENCH_CONNECTIONS (25) loopback
 *      connections on distinct 127.1.0.x source addresses to decky-02:
 *      - the feed's latency from the event to pixels: for every live-feed row the page renders, the time
 *        it was in the DOM and painted (requestAnimationFrame after the mutation) minus the event's own
 *        timestamp (the touch; so it includes the log line, the ingester, the database and /stream's 1 s
 *        poll), p50/p99/max;
 *      - events/s stored (GET /stats before and after) and events/s rendered;
 *      - the main thread's long tasks (PerformanceObserver "longtask", > 50 ms each): total ms per second
 *        and the longest.
 * Prints figures and PASS/MISS; asserts nothing. Traffic: loopback only.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createConnection, createServer, type Socket } from "node:net"
import * as os from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { chromium } from "playwright-core"
import { CHROMIUM, CHROMIUM_FLAGS } from "../test/web/browser.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const RATE = Number(process.env.BENCH_RATE ?? 500)
const DURATION = Number(process.env.BENCH_DURATION ?? 20)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 25)
const TARGET_JS_KB = 250
const PASSWORD = "bench-admin-password-1"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
const msText = (v: number) =>
  Number.isFinite(v) ? (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`) : "n/a"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      const port = typeof a === "object" && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })

interface Ready {
  readonly api: { readonly url: string; readonly password?: string }
  readonly deckies: ReadonlyArray<{
    readonly name: string
    readonly services: ReadonlyArray<{ readonly service: string; readonly address: string }>
  }>
}

const startUp = async (home: string, port: number): Promise<{ child: ChildProcess; ready: Ready }> => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DECNET_")) env[k] = v
  Object.assign(env, { HOME: home, DECNET_CONFIG: join(home, "absent.ini"), DECNET_API_PORT: String(port) })
  const child = spawn(process.execPath, [join(ROOT, "dist", "bin", "decnet.js"), "up", "--json"], {
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d
  })
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d
  })
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const line = out.split("\n")[0] ?? ""
    if (line.endsWith("}")) return { child, ready: JSON.parse(line) as Ready }
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`decnet up did not become ready:\n${out}\n${err}`)
}

const stopGroup = (child: ChildProcess) => {
  if (child.pid === undefined || child.exitCode !== null) return Promise.resolve()
  const exited = new Promise((r) => child.once("exit", r))
  try {
    process.kill(-child.pid, "SIGINT")
  } catch {
    return Promise.resolve()
  }
  return Promise.race([exited, sleep(10_000).then(() => process.kill(-(child.pid ?? 0), "SIGKILL"))])
}

const api = async (base: string, method: string, path: string, token?: string, body?: unknown) => {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return (await res.json()) as Record<string, unknown>
}

/** Each redis AUTH is two events (`command`, `auth`). */
const EVENTS_PER_AUTH = 2

/** RATE / EVENTS_PER_AUTH AUTH commands a second over CONNECTIONS connections, each from its own 127.1.0.x address. */
const flood = async (host: string, port: number, seconds: number) => {
  const sockets: Array<Socket> = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      (_, i) =>
        new Promise<Socket>((resolve, reject) => {
          const s = createConnection({ host, port, localAddress: `127.1.0.${i + 1}` }, () => resolve(s))
          s.on("data", () => {})
          s.once("error", reject)
        })
    )
  )
  let sent = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * (RATE / EVENTS_PER_AUTH))
    while (sent < due) {
      const s = sockets[sent % sockets.length]
      s?.write(`AUTH bench-${sent} pw-${sent}\r\n`)
      sent++
    }
    await sleep(5)
  }
  for (const s of sockets) s.destroy()
  return sent
}

const main = async () => {
  if (!existsSync(join(ROOT, "dist", "web", "index.html")))
    throw new Error("dist/web is not built: run npm run build (bench:dashboard does)")
  console.log(
    `# dashboard benchmark — node ${process.version}, nproc ${os.availableParallelism()}, ${os.cpus()[0]?.model ?? "cpu"}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`
  )
  console.log(
    `# command: npm run bench:dashboard (decnet up + /usr/bin/chromium headless via playwright-core; ${RATE} events/s for ${DURATION} s over ${CONNECTIONS} connections)\n`
  )
  const home = mkdtempSync(join(os.tmpdir(), "decnet-bench-dash-"))
  const userData = mkdtempSync(join(os.tmpdir(), "decnet-bench-chromium-"))
  const { child, ready } = await startUp(home, await freePort())
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1440, height: 900 }
  })
  try {
    const base = ready.api.url
    const first = await api(base, "POST", "/auth/login", undefined, {
      username: "admin",
      password: ready.api.password
    })
    await api(base, "POST", "/auth/change-password", String(first.access_token), {
      old_password: ready.api.password,
      new_password: PASSWORD
    })
    const token = String(
      (await api(base, "POST", "/auth/login", undefined, { username: "admin", password: PASSWORD }))
        .access_token
    )

    // 1. initial JavaScript: a first visit with an empty cache, then the login, up to the live overview.
    const page = await context.newPage()
    const scripts: Array<{ url: string; encoded: number; raw: number }> = []
    page.on("requestfinished", async (r) => {
      if (r.resourceType() !== "script") return
      const sizes = await r.sizes()
      const res = await r.response()
      scripts.push({
        url: r.url(),
        encoded: sizes.responseBodySize,
        raw: (await res?.body())?.byteLength ?? 0
      })
    })
    await page.goto(`${base}/`)
    await page.getByLabel("User name").fill("admin")
    await page.getByLabel("Password").fill(PASSWORD)
    await page.getByRole("button", { name: "Log in" }).click()
    await page.getByRole("heading", { name: "Overview" }).waitFor()
    await page.getByText("Live", { exact: true }).waitFor({ timeout: 15_000 })
    await sleep(500)
    const encoded = scripts.reduce((a, s) => a + s.encoded, 0)
    const rawBytes = scripts.reduce((a, s) => a + s.raw, 0)
    console.log("## 1. initial JavaScript (first visit: /login, log in, the live overview)")
    for (const s of scripts)
      console.log(
        `  ${new URL(s.url).pathname.padEnd(40)} ${kb(s.encoded).padStart(10)} gzip  ${kb(s.raw).padStart(10)} raw`
      )
    console.log(
      `  total: ${kb(encoded)} transferred (gzip), ${kb(rawBytes)} raw; ≤ ${TARGET_JS_KB} KB ${encoded <= TARGET_JS_KB * 1024 ? "PASS" : "MISS"}`
    )
    const assets = join(ROOT, "dist", "web", "assets")
    const chunks = readdirSync(assets)
      .filter((f) => f.endsWith(".js"))
      .map((f) => ({ f, gz: gzipSync(readFileSync(join(assets, f)), { level: 9 }).byteLength }))
      .sort((a, b) => b.gz - a.gz)
    console.log(
      `  every built chunk (gzip -9): ${chunks.map((c) => `${c.f} ${kb(c.gz)}`).join(", ")}; all ${kb(chunks.reduce((a, c) => a + c.gz, 0))}\n`
    )

    // 2. the flood: rows rendered in the feed, with their paint time.
    await page.evaluate(`(() => {
      window.__feed = []; window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]) })
        .observe({ type: "longtask", buffered: false });
      const seen = new Set();
      new MutationObserver((records) => {
        const fresh = [];
        for (const r of records) for (const n of r.addedNodes)
          if (n instanceof HTMLElement && n.dataset.testid === "feed-row" && !seen.has(n.dataset.id)) { seen.add(n.dataset.id); fresh.push(n.dataset.ts) }
        if (fresh.length) requestAnimationFrame(() => { const at = Date.now(); for (const ts of fresh) window.__feed.push([ts, at]) })
      }).observe(document.body, { childList: true, subtree: true });
    })()`)
    const redis = ready.deckies
      .flatMap((d) => (d.name === "decky-02" ? d.services : []))
      .find((s) => s.service === "redis")
    if (redis === undefined) throw new Error("decky-02 has no redis")
    const [host = "127.0.0.1", port = "0"] = redis.address.split(":")
    const before = Number((await api(base, "GET", "/stats", token)).total_logs)
    const t0 = performance.now()
    const perfStart = Number(await page.evaluate("performance.now()"))
    const sent = await flood(host, Number(port), DURATION)
    const seconds = (performance.now() - t0) / 1000
    await sleep(3000)
    const perfEnd = Number(await page.evaluate("performance.now()"))
    const after = Number((await api(base, "GET", "/stats", token)).total_logs)
    const feed = (await page.evaluate("window.__feed")) as Array<[string, number]>
    const long = (await page.evaluate("window.__long")) as Array<[number, number]>
    const latencies = feed
      .map(([ts, at]) => at - Date.parse(`${ts.replace(" ", "T").slice(0, 23)}Z`))
      .filter((v) => Number.isFinite(v))
      .sort((a, b) => a - b)
    const span = (perfEnd - perfStart) / 1000
    const longTotal = long.reduce((a, [, d]) => a + d, 0)
    console.log(
      `## 2. the feed while the fleet ingests ${RATE} events/s (${DURATION} s; redis AUTH on decky-02)`
    )
    console.log(
      `  sent ${sent.toLocaleString("en-US")} AUTHs in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s, ${((EVENTS_PER_AUTH * sent) / seconds).toFixed(0)} events/s); stored ${(after - before).toLocaleString("en-US")} events (${((after - before) / seconds).toFixed(0)}/s)`
    )
    console.log(
      `  rendered in the feed: ${latencies.length.toLocaleString("en-US")} rows (${(latencies.length / seconds).toFixed(0)}/s; the feed keeps the newest 200, so rows a later frame pushed out before a paint never show); event → pixels p50 ${msText(quantile(latencies, 0.5))}, p99 ${msText(quantile(latencies, 0.99))}, max ${msText(latencies.at(-1) ?? Number.NaN)}`
    )
    console.log(
      `  main thread long tasks: ${long.length} in ${span.toFixed(1)} s, ${(longTotal / span).toFixed(0)} ms per second (${((100 * longTotal) / (span * 1000)).toFixed(1)} % of the time), longest ${msText(Math.max(0, ...long.map(([, d]) => d)))}`
    )
  } finally {
    await context.close().catch(() => undefined)
    await stopGroup(child)
    rmSync(home, { recursive: true, force: true })
    rmSync(userData, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
