/**
 * Fidelity report (`npm run fidelity`, issue 14): per emulator, what `nmap -sV` shows for it next to what
 * it shows for the real Debian server (where test/fidelity/servers/<service>.ts can start one), each scan's
 * time and their ratio, then the differential tests' counts (probes sent, replies that differ, accepted
 * differences, unexplained ones). Every server is on its own loopback address, on its default port; the
 * real one and the emulator are scanned at the same time, so they share the machine's load. Needs root (ports
 * below 1024, nmap's SYN scan) and nmap. Loopback traffic only.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type NmapPort, type NmapScan, nmapScan, startEmulator } from "../test/fidelity/nmap.js"
import { PERSONAS } from "../test/fidelity/personas.js"
import type { RealServer, StartReal } from "../test/fidelity/servers/types.js"
import { stopAll } from "../test/support/proc.js"

const root = new URL("..", import.meta.url).pathname

interface RealModule {
  readonly start: StartReal
  readonly emulatorConfig?: Record<string, unknown>
}

const isRealModule = (m: unknown): m is RealModule =>
  typeof m === "object" && m !== null && "start" in m && typeof m.start === "function"

const loadReal = async (slug: string): Promise<RealModule | undefined> => {
  const file = join(root, "test", "fidelity", "servers", `${slug}.ts`)
  if (!existsSync(file)) return undefined
  const m: unknown = await import(file)
  return isRealModule(m) ? m : undefined
}

const shown = (p: NmapPort | undefined) =>
  p === undefined ? "-" : `${p.service}${p.method === "probed" ? "" : "?"} ${p.shown}`.trim()

interface Row {
  readonly slug: string
  readonly port: number
  readonly emulator: string
  readonly emulatorSeconds: number
  readonly real: string
  readonly realSeconds: number
  readonly ok: boolean
}

const main = async () => {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/nmap")) {
    console.error(
      "npm run fidelity needs root (ports below 1024, nmap's SYN scan) and nmap (apt-get install nmap)"
    )
    process.exit(2)
  }
  const build = spawnSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], {
    cwd: root,
    stdio: "inherit"
  })
  if (build.status !== 0) process.exit(1)
  const only = (process.env.FIDELITY_ONLY ?? "").split(",").filter((s) => s !== "")
  const personas = PERSONAS.filter((p) => only.length === 0 || only.includes(p.slug))
  const rows: Array<Row> = []
  const home = mkdtempSync(join(tmpdir(), "decnet-fidelity-report-"))
  for (const [i, persona] of personas.entries()) {
    const fakeHost = `127.14.11.${i + 1}`
    const realHost = `127.14.10.${i + 1}`
    const ports = persona.expect.map((e) => e.port)
    const first = ports[0] ?? 0
    const realModule = await loadReal(persona.slug)
    process.stdout.write(
      `${persona.slug}: starting${realModule === undefined ? "" : " the real server and"} the emulator… `
    )
    let real: RealServer | undefined
    try {
      if (realModule !== undefined) real = await realModule.start({ host: realHost, port: first })
      const config = realModule?.emulatorConfig ?? {}
      await startEmulator(persona.slug, fakeHost, ports, config, home)
      process.stdout.write("scanning… ")
      const none: NmapScan = { ports: [], seconds: Number.NaN }
      // The default port of both at the same time (the timed comparison), then the emulator's other ports.
      const [fake, realScan] = await Promise.all([
        nmapScan(fakeHost, [first]),
        real === undefined ? Promise.resolve(none) : nmapScan(realHost, [first])
      ])
      const rest = ports.length > 1 ? await nmapScan(fakeHost, ports.slice(1)) : none
      for (const e of persona.expect) {
        const alone = e.port === first
        const p = (alone ? fake : rest).ports.find((s) => s.port === e.port)
        const r = realScan.ports.find((s) => s.port === e.port)
        rows.push({
          slug: persona.slug,
          port: e.port,
          emulator: shown(p),
          emulatorSeconds: alone ? fake.seconds : rest.seconds,
          real: real === undefined ? "(no Debian counterpart)" : alone ? shown(r) : "(not started)",
          realSeconds: alone ? realScan.seconds : Number.NaN,
          ok: p !== undefined && p.method === "probed" && p.service === e.service && e.shown.test(p.shown)
        })
      }
      process.stdout.write(`${fake.seconds} s\n`)
    } catch (e) {
      process.stdout.write(`failed: ${String(e)}\n`)
    } finally {
      await real?.stop()
      await stopAll()
    }
  }
  rmSync(home, { recursive: true, force: true })

  console.log(
    "\nnmap -sV on the default port: the emulator (configured as in its differential test) next to the real server"
  )
  console.log(
    "| emulator | port | nmap shows for the emulator | time | nmap shows for the real server | time | ratio | named as claimed |"
  )
  console.log("|---|---|---|---|---|---|---|---|")
  for (const r of rows) {
    const ratio = Number.isFinite(r.realSeconds) ? (r.emulatorSeconds / r.realSeconds).toFixed(2) : "-"
    const rt = Number.isFinite(r.realSeconds) ? `${r.realSeconds} s` : "-"
    console.log(
      `| ${r.slug} | ${r.port} | ${r.emulator} | ${r.emulatorSeconds} s | ${r.real} | ${rt} | ${ratio} | ${r.ok ? "yes" : "NO"} |`
    )
  }

  // The differential tests, with each comparison's counts appended to a file.
  const countsFile = join(mkdtempSync(join(tmpdir(), "decnet-fidelity-counts-")), "counts.jsonl")
  const tests = personas
    .map((p) => `test/fidelity/${p.slug}.test.ts`)
    .filter((f) => existsSync(join(root, f)))
  console.log(`\nrunning the differential tests: ${tests.join(" ")}`)
  const vitest = spawn(
    process.execPath,
    [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--reporter=dot", ...tests],
    { cwd: root, stdio: "inherit", env: { ...process.env, DECNET_FIDELITY_REPORT: countsFile } }
  )
  const code = await new Promise<number | null>((resolve) => vitest.once("exit", resolve))
  const counts = existsSync(countsFile)
    ? readFileSync(countsFile, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map(
          (l): { test: string; probes: number; differing: number; accepted: number; unexplained: number } =>
            JSON.parse(l)
        )
    : []
  console.log("\ndifferential tests: the same probes to the real server and the emulator")
  console.log(
    "| test | comparisons | probes | replies that differ | accepted differences listed | unexplained |"
  )
  console.log("|---|---|---|---|---|---|")
  const byTest = new Map<string, Array<(typeof counts)[number]>>()
  for (const c of counts) byTest.set(c.test, [...(byTest.get(c.test) ?? []), c])
  for (const [test, cs] of byTest) {
    const sum = (k: "probes" | "differing" | "unexplained") => cs.reduce((n, c) => n + c[k], 0)
    const acceptedListed = Math.max(...cs.map((c) => c.accepted))
    console.log(
      `| ${test} | ${cs.length} | ${sum("probes")} | ${sum("differing")} | ${acceptedListed} | ${sum("unexplained")} |`
    )
  }
  rmSync(countsFile, { force: true })
  const named = rows.filter((r) => r.ok).length
  console.log(`\n${named}/${rows.length} ports named as their persona claims; vitest exit ${code}`)
  process.exit(named === rows.length && code === 0 ? 0 : 1)
}

void main()
