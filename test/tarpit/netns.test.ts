// [netns] The tarpit through the real API routes and the real `tc`, on two network namespaces this file
// makes (root, no Docker): the "decky" namespace runs a banner server on a tarpitted and a control port,
// the client namespace holds the real clients, a veth pair joins them on 10.239.71.0/24. The fleet record
// says the decky runs on Docker; only where its namespace is (the pid of the server) is told by hand
// (`fixedNamespaces`), everything else is what `decnet api` runs: the routes, Tarpit, TrafficControl, the
// watcher on its Schedule, the repositories, on SQLite and MariaDB.
// - A tc failure (a foreign root qdisc) is 409 `tarpit command failed`, stores nothing, leaves the
//   namespace as it was.
// - On a kernel with netem: the tarpitted port's first banner byte comes ≥ 1 s later than the control
//   port's at delay 1500 ms (measured by the client, relative); GET lists the held peer; the watcher logs
//   tarpit_enter/tarpit_exit; DELETE removes the qdisc. On a kernel without it (this project's CI VM:
//   CONFIG_NET_SCH_NETEM unset) POST is 409 naming netem and nothing is left behind.
// - With a stored rule, GET and the watcher follow a held connection whatever the kernel; the watcher drops
//   the rule of a decky that left the fleet.
// Every process is started in its own group and stopped by it; afterAll deletes both namespaces.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LogRepo } from "../../src/db/LogRepo.js"
import { TarpitRepo, TarpitRule } from "../../src/db/TarpitRepo.js"
import { Decky, Deployment } from "../../src/fleet/Model.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { fixedNamespaces } from "../../src/tarpit/Namespaces.js"
import { adminToken, raw, useApi } from "../api/harness.js"
import { onBothBackends } from "../db/backends.js"
import { HOLDING_CLIENT, TIMED_CLIENT, waitFor } from "./clients.js"

const NS_DECKY = "decnet_tpd"
const NS_CLIENT = "decnet_tpc"
const IF_DECKY = "dtp_d"
const IF_CLIENT = "dtp_c"
const NET = "10.239.71"
const DECKY_IP = `${NET}.2`
const CLIENT_IP = `${NET}.3`
const TARPITTED = 2222
const CONTROL = 2223
const DECKY = "tp-decky"
const DELAY_MS = 1500

const isRoot = process.getuid?.() === 0

/** Listens on each port; every connection gets a banner line at once and is kept open. */
const SERVER = `
const net = require("node:net")
const [host, ...ports] = process.argv.slice(1)
let left = ports.length
for (const p of ports)
  net.createServer((s) => { s.on("error", () => {}); s.write("SSH-2.0-decnet-tarpit-test\\r\\n") })
    .listen(Number(p), host, () => { if (--left === 0) process.stdout.write("ready\\n") })
`

const run = (file: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(file, [...args], { encoding: "utf8", timeout: 30_000 })
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}
const must = (file: string, args: ReadonlyArray<string>) => {
  const r = run(file, args)
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")}: ${r.stderr}`)
  return r.stdout
}
const inDecky = (args: ReadonlyArray<string>) => run("ip", ["netns", "exec", NS_DECKY, ...args])
const dropNamespaces = () => {
  for (const ns of [NS_DECKY, NS_CLIENT]) run("ip", ["netns", "del", ns])
}

interface Started {
  readonly child: ChildProcess
  readonly lines: Promise<string>
  stop: () => void
}

/** `node -e code args` inside `ns`, in its own process group; resolves its first stdout line. */
const startIn = (ns: string, code: string, args: ReadonlyArray<string>): Started => {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", code, ...args], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let err = ""
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString()
  })
  const lines = new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes("\n")) resolve(out.split("\n")[0] ?? "")
    })
    child.on("exit", (code) => reject(new Error(`${code}: ${err}`)))
  })
  lines.catch(() => {})
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null)
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // already gone
      }
  }
  return { child, lines, stop }
}

/** One timed connection from the client namespace: ms to the first byte. */
const timedConnect = async (port: number) => {
  const child = spawn(
    "ip",
    ["netns", "exec", NS_CLIENT, process.execPath, "-e", TIMED_CLIENT, DECKY_IP, String(port)],
    { detached: true, stdio: ["ignore", "pipe", "pipe"] }
  )
  let out = ""
  let err = ""
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
  if (code !== 0) throw new Error(`client to ${port}: ${code} ${err}`)
  return Number(out)
}

/** The namespace's root qdiscs by device: `dtp_d → htb dec1:`. */
const rootQdiscs = () => {
  const r = inDecky(["tc", "-j", "qdisc", "show"])
  const list = JSON.parse(r.stdout === "" ? "[]" : r.stdout) as Array<{
    kind: string
    handle: string
    dev?: string
    root?: boolean
  }>
  return Object.fromEntries(list.filter((q) => q.root === true).map((q) => [q.dev, `${q.kind} ${q.handle}`]))
}

const pids = new Map<string, number>()
let server: Started | undefined
let netem = false

if (!isRoot) {
  describe("[netns] the tarpit on real namespaces", () => {
    it.skip("needs root: it creates network namespaces, a veth pair and tc qdiscs", () => {})
  })
} else {
  beforeAll(async () => {
    dropNamespaces()
    must("ip", ["netns", "add", NS_DECKY])
    must("ip", ["netns", "add", NS_CLIENT])
    must("ip", [
      "link",
      "add",
      IF_DECKY,
      "netns",
      NS_DECKY,
      "type",
      "veth",
      "peer",
      "name",
      IF_CLIENT,
      "netns",
      NS_CLIENT
    ])
    for (const [ns, dev, ip] of [
      [NS_DECKY, IF_DECKY, DECKY_IP],
      [NS_CLIENT, IF_CLIENT, CLIENT_IP]
    ] as const) {
      must("ip", ["-n", ns, "addr", "add", `${ip}/24`, "dev", dev])
      must("ip", ["-n", ns, "link", "set", "dev", dev, "up"])
      must("ip", ["-n", ns, "link", "set", "dev", "lo", "up"])
    }
    // Whether this kernel has netem, asked in the test's own namespace (on its loopback).
    netem =
      inDecky(["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "netem", "delay", "1ms"]).status ===
      0
    inDecky(["tc", "qdisc", "del", "dev", "lo", "root"])
    server = startIn(NS_DECKY, SERVER, [DECKY_IP, String(TARPITTED), String(CONTROL)])
    expect(await server.lines).toBe("ready")
    if (server.child.pid === undefined) throw new Error("the server did not start")
    pids.set(DECKY, server.child.pid)
  })

  afterAll(() => {
    server?.stop()
    dropNamespaces()
  })

  onBothBackends("[netns] the tarpit on real namespaces", (backend) => {
    const api = useApi(
      backend,
      { DECNET_LIMITER_ENABLED: "false", DECNET_TARPIT_POLL_INTERVAL: "0.3" },
      { namespaces: fixedNamespaces(pids) }
    )
    const json = { "content-type": "application/json" }
    const attacker = randomUUID()
    let token = ""
    const runIn = <A, E>(
      effect: Effect.Effect<A, E, FleetStore | TarpitRepo | LogRepo | SqlClient.SqlClient>
    ) => api().runtime.runPromise(effect)
    const tarpit = (method: string, body?: unknown, name = DECKY) =>
      raw(api().baseUrl, `/api/v1/deckies/${name}/tarpit`, {
        method,
        token,
        ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) })
      })
    const rows = (eventType: string) =>
      runIn(Effect.flatMap(LogRepo, (l) => l.getLogs({ service: "tarpit", eventType, limit: 100 })))
    const rowFrom = (eventType: string, ip: string) =>
      waitFor(async () => (await rows(eventType)).find((r) => r.attacker_ip === ip))
    const ruleOf = (key: string) => runIn(Effect.flatMap(TarpitRepo, (r) => r.get(key)))

    beforeAll(async () => {
      token = await adminToken(api().baseUrl)
      const decky = new Decky({
        name: DECKY,
        ip: DECKY_IP,
        services: ["ssh"],
        distro: "debian",
        base_image: "debian:bookworm-slim",
        build_base: "debian:bookworm-slim",
        hostname: DECKY,
        archetype: null,
        service_config: {},
        nmap_os: "linux",
        mutate_interval: null,
        last_mutated: 0,
        last_login_attempt: 0,
        host_uuid: null
      })
      await runIn(
        Effect.gen(function* () {
          const store = yield* FleetStore
          yield* store.save({
            config: new Deployment({
              mode: "unihost",
              runtime: "docker",
              interface: IF_DECKY,
              subnet: `${NET}.0/24`,
              gateway: `${NET}.1`,
              deckies: [decky],
              log_file: null,
              ipvlan: false,
              mutate_interval: null
            }),
            ports: {}
          })
          const sql = yield* SqlClient.SqlClient
          yield* sql`INSERT INTO attackers ${sql.insert({
            uuid: attacker,
            ip: CLIENT_IP,
            first_seen: "2026-01-01 00:00:00",
            last_seen: "2026-01-01 00:00:00",
            updated_at: "2026-01-01 00:00:00",
            // MariaDB keeps no default on its TEXT columns.
            services: "[]",
            deckies: "[]",
            fingerprints: "[]",
            commands: "[]"
          })}`
        })
      )
    })

    /** A client that holds a connection to the tarpitted port until stopped; the peer GET then lists. */
    const holding = async () => {
      const client = startIn(NS_CLIENT, HOLDING_CLIENT, [DECKY_IP, String(TARPITTED)])
      expect(await client.lines).toBe("held")
      return client
    }

    it("a tc failure is 409 'tarpit command failed', stores no rule and leaves the namespace as it was", async () => {
      must("ip", [
        "netns",
        "exec",
        NS_DECKY,
        "tc",
        "qdisc",
        "add",
        "dev",
        IF_DECKY,
        "root",
        "handle",
        "77:",
        "pfifo",
        "limit",
        "100"
      ])
      try {
        const r = await tarpit("POST", { ports: [TARPITTED], delay_ms: DELAY_MS })
        expect(r.status, r.body).toBe(409)
        expect((r.json() as { detail: string }).detail).toMatch(
          new RegExp(`^tarpit command failed: tc qdisc add dev ${IF_DECKY} root handle dec1: htb`)
        )
        expect(rootQdiscs()[IF_DECKY]).toBe("pfifo 77:")
        expect(JSON.stringify(rootQdiscs())).not.toContain("dec1:")
        expect((await tarpit("GET")).json()).toEqual({ detail: "No active tarpit rule for this decky" })
        expect((await ruleOf(DECKY))._tag).toBe("None")
        expect(await rows("tarpit_enabled")).toEqual([])
      } finally {
        inDecky(["tc", "qdisc", "del", "dev", IF_DECKY, "root"])
      }
    })

    it("without netem in the kernel, POST is 409 naming it and nothing is left behind", async (ctx) => {
      if (netem) ctx.skip("this kernel has netem: the delay itself is tested instead")
      const r = await tarpit("POST", { ports: [TARPITTED], delay_ms: DELAY_MS })
      expect(r.status, r.body).toBe(409)
      const detail = (r.json() as { detail: string }).detail
      expect(detail).toContain(
        "tarpit command failed: tc qdisc add dev dtp_d parent dec1:2 handle dec2: netem"
      )
      expect(detail).toContain("CONFIG_NET_SCH_NETEM")
      expect(JSON.stringify(rootQdiscs())).not.toContain("dec1:")
      expect((await ruleOf(DECKY))._tag).toBe("None")
    })

    it("delays the tarpitted port's replies, lists the held peer, logs enter/exit, and DELETE takes it all back", async (ctx) => {
      if (!netem) ctx.skip("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): tc cannot delay here")
      const on = await tarpit("POST", { ports: [TARPITTED], delay_ms: DELAY_MS })
      expect(on.status, on.body).toBe(201)
      expect(on.json()).toEqual({ message: "tarpit active" })
      expect(rootQdiscs()[IF_DECKY]).toBe("htb dec1:")
      // The same client, the same server, one port tarpitted: the difference is the delay (SYN-ACK and banner).
      const control = await timedConnect(CONTROL)
      const slowed = await timedConnect(TARPITTED)
      expect(slowed - control).toBeGreaterThanOrEqual(1000)
      const client = await holding()
      try {
        const status = (await tarpit("GET")).json() as {
          rule: { decky_name: string; ports: Array<number>; delay_ms: number; created_by: string }
          active_connections: Array<{ ip: string; port: number }>
        }
        expect(status.rule).toMatchObject({
          decky_name: DECKY,
          ports: [TARPITTED],
          delay_ms: DELAY_MS,
          created_by: "admin"
        })
        expect(status.active_connections).toContainEqual({ ip: CLIENT_IP, port: TARPITTED })
        const enter = await rowFrom("tarpit_enter", CLIENT_IP)
        expect(enter).toMatchObject({ decky: DECKY, service: "tarpit" })
        expect(enter.fields).toMatchObject({ port: String(TARPITTED), attacker_uuid: attacker })
      } finally {
        client.stop()
      }
      const exit = await rowFrom("tarpit_exit", CLIENT_IP)
      expect(Number(exit.fields.elapsed_seconds)).toBeGreaterThanOrEqual(0)
      const off = await tarpit("DELETE")
      expect(off.status, off.body).toBe(200)
      expect(off.json()).toEqual({ message: "tarpit removed" })
      expect(JSON.stringify(rootQdiscs())).not.toContain("dec1:")
      expect((await tarpit("GET")).status).toBe(404)
      const enabled = await rows("tarpit_enabled")
      expect(enabled[0]).toMatchObject({ decky: DECKY, attacker_ip: "0.0.0.0" })
      expect((await rows("tarpit_disabled"))[0]).toMatchObject({ decky: DECKY, attacker_ip: "0.0.0.0" })
    })

    it("with a stored rule, GET lists a held peer, the watcher logs its enter and exit, DELETE drops the rule", async () => {
      await runIn(
        Effect.flatMap(TarpitRepo, (r) =>
          r.set(
            new TarpitRule({
              id: randomUUID(),
              decky_name: DECKY,
              ports: [TARPITTED],
              delay_ms: DELAY_MS,
              created_at: new Date(),
              created_by: "test"
            })
          )
        )
      )
      const before = (await rows("tarpit_exit")).length
      const client = await holding()
      try {
        const status = (await tarpit("GET")).json() as {
          active_connections: Array<{ ip: string; port: number }>
        }
        expect(status.active_connections).toEqual([{ ip: CLIENT_IP, port: TARPITTED }])
        const enter = await waitFor(async () => {
          const all = await rows("tarpit_enter")
          return all.find((r) => r.fields.port === String(TARPITTED) && r.decky === DECKY)
        })
        expect(enter.fields.attacker_uuid).toBe(attacker)
      } finally {
        client.stop()
      }
      const exits = await waitFor(async () => {
        const all = await rows("tarpit_exit")
        return all.length > before ? all : undefined
      })
      expect(exits[0]).toMatchObject({ decky: DECKY, attacker_ip: CLIENT_IP, service: "tarpit" })
      expect((await tarpit("GET")).json()).toMatchObject({ active_connections: [] })
      const off = await tarpit("DELETE")
      expect(off.status, off.body).toBe(200)
      expect((await ruleOf(DECKY))._tag).toBe("None")
      expect(JSON.stringify(rootQdiscs())).not.toContain("dec1:")
      expect((await tarpit("DELETE")).status).toBe(404)
    })

    it("the watcher drops the rule of a decky that is no longer in the fleet", async () => {
      await runIn(
        Effect.flatMap(TarpitRepo, (r) =>
          r.set(
            new TarpitRule({
              id: randomUUID(),
              decky_name: "gone-decky",
              ports: [22],
              delay_ms: 500,
              created_at: new Date(),
              created_by: "test"
            })
          )
        )
      )
      const row = await waitFor(async () =>
        (await rows("tarpit_disabled")).find((r) => r.decky === "gone-decky")
      )
      expect(row.fields.reason).toContain("no longer exists")
      expect((await ruleOf("gone-decky"))._tag).toBe("None")
    })
  })
}
