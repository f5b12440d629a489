// `decnet up --topology` as a child process: a generated depth-2, branching-2 topology runs on loopback next
// to the flat fleet (which is unchanged), its ready line lists the LANs with their loopback blocks and each
// decky's addresses; redis-cli reaches a bridge decky on its address in each of its two LANs. The next up
// with the same spec resumes the same topology; a plain `up` resumes it too (it is live in the database).
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { cli, run } from "./upSupport.js"

afterAll(stopAll)

interface TopologyReady {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly lans: ReadonlyArray<{ name: string; subnet: string; loopback: string; dmz: boolean }>
  readonly deckies: ReadonlyArray<{
    name: string
    state: string
    addresses: ReadonlyArray<{
      lan: string
      ip: string
      loopback: string
      services: ReadonlyArray<{ service: string; port: number; address: string }>
    }>
  }>
}

interface ReadyLine {
  readonly deckies: ReadonlyArray<{ name: string }>
  readonly api?: { readonly password?: string }
  readonly topologies?: ReadonlyArray<TopologyReady>
}

const parse = (stdout: string): ReadyLine | undefined => {
  const line = stdout.split("\n").find((l) => l.startsWith("{"))
  if (line === undefined || !line.endsWith("}")) return undefined
  const v: unknown = JSON.parse(line)
  return typeof v === "object" && v !== null && "deckies" in v ? (v as ReadyLine) : undefined
}

const SPEC = "depth=2,branching=2,seed=7,services=redis"

describe("decnet up --topology", () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-up-topology-"))
  const env = cleanEnv({
    HOME: home,
    DECNET_CONFIG: join(home, "absent.ini"),
    DECNET_BUS_SOCKET: join(home, "bus.sock"),
    DECNET_API_PORT: String(20_000 + (process.pid % 20_000))
  })

  it("runs the topology next to the fleet, reachable in both LANs of a bridge; the same spec resumes it", async () => {
    const proc = decnet(["up", "--json", "--topology", SPEC], env)
    const ready = await waitUntil(
      () => parse(proc.stdout()) ?? (proc.child.exitCode !== null ? false : undefined),
      90_000
    )
    if (!ready) throw new Error(`decnet up did not become ready:\n${proc.stdout()}\n${proc.stderr()}`)
    expect(ready.deckies.map((d) => d.name)).toEqual(["decky-01", "decky-02", "decky-03"])
    const [t] = ready.topologies ?? []
    if (t === undefined) throw new Error(`no topology in ${JSON.stringify(ready)}`)
    expect([t.name, t.status]).toEqual(["decnet-up", "active"])
    expect(t.lans.map((l) => [l.name, l.subnet, l.loopback, l.dmz])).toEqual([
      ["LAN-00", "172.16.0.0/24", "127.100.0.0/24", true],
      ["LAN-01", "172.16.1.0/24", "127.100.1.0/24", false],
      ["LAN-02", "172.16.2.0/24", "127.100.2.0/24", false],
      ["LAN-03", "172.16.3.0/24", "127.100.3.0/24", false]
    ])
    expect(t.deckies.every((d) => d.state === "running")).toBe(true)
    const bridge = t.deckies.find((d) => d.name === "decky-002")
    expect(bridge?.addresses.map((a) => [a.lan, a.ip, a.loopback])).toEqual([
      ["LAN-01", "172.16.1.2", "127.100.1.2"],
      ["LAN-00", "172.16.0.3", "127.100.0.3"]
    ])
    for (const a of bridge?.addresses ?? []) {
      const redis = a.services.find((s) => s.service === "redis")
      const r = await run("redis-cli", ["-h", a.loopback, "-p", String(redis?.port), "PING"], {
        timeout: 10_000
      })
      expect(r.stdout.trim()).toBe("PONG")
    }
    process.kill(-(proc.child.pid ?? 0), "SIGINT")
    await waitUntil(() => proc.child.exitCode !== null || proc.child.signalCode !== null, 30_000)

    const again = parse((await cli(["up", "--once", "--json", "--topology", SPEC], env)).stdout)
    expect(again?.topologies?.[0]).toMatchObject({ id: t.id, status: "active" })
    const plain = parse((await cli(["up", "--once", "--json"], env)).stdout)
    expect(plain?.topologies?.map((x) => x.id)).toEqual([t.id])
  })

  it("inside up, the topology's event stream carries a live mutation's enqueued and applied events (the API and the watch loop share one bus connection)", async () => {
    const own = mkdtempSync(join(tmpdir(), "decnet-up-topology-sse-"))
    const port = await freePort()
    const proc = decnet(
      ["up", "--json", "--topology", "depth=1,branching=1,seed=3,services=redis"],
      cleanEnv({
        HOME: own,
        DECNET_CONFIG: join(own, "absent.ini"),
        DECNET_BUS_SOCKET: join(own, "bus.sock"),
        DECNET_API_PORT: String(port)
      })
    )
    const ready = await waitUntil(
      () => parse(proc.stdout()) ?? (proc.child.exitCode !== null ? false : undefined),
      90_000
    )
    if (!ready) throw new Error(`decnet up did not become ready:\n${proc.stdout()}\n${proc.stderr()}`)
    const t = ready.topologies?.[0]
    const password = ready.api?.password
    if (t === undefined || password === undefined)
      throw new Error(`no topology or password in ${proc.stdout()}`)
    const base = `http://127.0.0.1:${port}/api/v1`
    const post = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
        },
        body: JSON.stringify(body)
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const first = await post("/auth/login", { username: "admin", password })
    await post(
      "/auth/change-password",
      { old_password: password, new_password: "up-topology-password-1" },
      String(first.body.access_token)
    )
    const token = String(
      (await post("/auth/login", { username: "admin", password: "up-topology-password-1" })).body.access_token
    )
    const ticket = String((await post("/auth/sse-ticket", {}, token)).body.ticket)
    const controller = new AbortController()
    const res = await fetch(`${base}/topologies/${t.id}/events?ticket=${encodeURIComponent(ticket)}`, {
      signal: controller.signal
    })
    expect(res.status).toBe(200)
    const reader = res.body?.getReader()
    if (reader === undefined) throw new Error("no stream body")
    const decoder = new TextDecoder()
    let text = ""
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read()
        if (done) return false
        text += decoder.decode(value, { stream: true })
      }
      return true
    }
    expect(await until("event: snapshot")).toBe(true)
    const enqueued = await post(
      `/topologies/${t.id}/mutations`,
      { op: "update_lan", payload: { name: "LAN-01", x: 12, y: 34 } },
      token
    )
    expect(enqueued.status).toBe(202)
    // Before the unix client delivered its own publishes locally, neither event ever reached this stream:
    // the route, the watch loop and the stream all publish and subscribe on up's one bus connection.
    const seen = await Promise.race([
      until("event: mutation.applied"),
      new Promise<false>((r) => setTimeout(() => r(false), 15_000))
    ])
    controller.abort()
    expect(seen, text).toBe(true)
    expect(text).toContain("event: mutation.enqueued")
    expect(text).toContain(String(enqueued.body.mutation_id))
    process.kill(-(proc.child.pid ?? 0), "SIGINT")
    await waitUntil(() => proc.child.exitCode !== null || proc.child.signalCode !== null, 30_000)
  })

  it("refuses a spec it cannot read, naming the keys", async () => {
    const r = await cli(["up", "--once", "--topology", "depth=2,width=3"], env).catch(
      (e: { stderr: string }) => e
    )
    expect(r.stderr).toMatch(/--topology: 'width=3' is not one of depth=…, branching=…/)
  })
})
