// [docker] The tarpit of a MazeNET decky on the REAL engine, through the real API (gated like the other
// [docker] tests: DECNET_TEST_DOCKER=1, and then they fail, not skip, when something is missing; the delay
// itself needs a kernel with netem, and is skipped with that reason on one without). A generated depth-1
// topology (a DMZ decky, and a bridge decky on the DMZ and LAN-01, both with ssh and redis, on 10.237.0.0/16)
// is deployed by the API on the Docker runtime. The bridge decky's ssh port is tarpitted through
// `POST /topologies/{id}/deckies/{name}/tarpit`: every interface of its namespace (both LANs) carries the
// qdisc; a real client in the DMZ decky's namespace gets ssh's first byte ≥ 1 s later than redis's at
// 1500 ms (relative, measured by the client); GET lists the connection it holds; the API's watcher logs
// tarpit_enter/tarpit_exit; DELETE removes the qdisc and the rule; teardown (re-enabled first) drops the
// rule and leaves no container, and no tc state anywhere. Traffic runs only between the topology's own
// containers; afterAll removes what is left, whatever happened.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Option, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { LogRepo } from "../../src/db/LogRepo.js"
import { TarpitRepo } from "../../src/db/TarpitRepo.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import { buildImages } from "../../src/fleet/Images.js"
import { DockerTopologyLive } from "../../src/topology/DockerTopology.js"
import { baseContainerName } from "../../src/topology/DockerTopologyPlan.js"
import type { TopologyDetail } from "../../src/topology/Model.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { adminToken, raw, useApi } from "../api/harness.js"
import { sqliteBackend } from "../db/backends.js"
import { buildDeckyBundle, DOCKER_SKIP_REASON, dockerEnabled, requireRoot } from "../fleet/dockerSupport.js"
import { spawnAsync } from "../support/spawn.js"
import { dockerProbes } from "../topology/dockerFixture.js"
import { persistGenerated } from "../topology/harness.js"
import { HOLDING_CLIENT, TIMED_CLIENT, waitFor } from "./clients.js"

const NET = "10.237"
const DELAY_MS = 1500
const SSH = 22
const REDIS = 6379

if (!dockerEnabled) {
  describe("[docker] the tarpit of a MazeNET decky", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-tarpit-docker-"))
  const config = DecnetConfig.fromMap({ DECNET_ARTIFACTS_ROOT: path.join(tmp, "artifacts") })
  const engine = ManagedRuntime.make(Layer.merge(DockerLive.pipe(Layer.provide(config)), NodeContext.layer))
  const runDocker = <A, E>(effect: Effect.Effect<A, E, Docker | NodeContext.NodeContext | Scope.Scope>) =>
    engine.runPromise(Effect.scoped(effect))
  const runtime = DockerTopologyLive({ readyTimeout: "90 seconds" }).pipe(
    Layer.provide(DockerLive),
    Layer.provide(config),
    Layer.provide(NodeContext.layer),
    Layer.orDie
  )
  const { backend } = sqliteBackend()

  describe("[docker] the tarpit of a MazeNET decky", () => {
    const api = useApi(
      backend,
      { DECNET_LIMITER_ENABLED: "false", DECNET_TARPIT_POLL_INTERVAL: "0.5" },
      { topologyRuntime: runtime }
    )
    let token = ""
    let id = ""
    let detail: TopologyDetail | undefined
    let probes: ReturnType<typeof dockerProbes> | undefined
    const held: Array<ChildProcess> = []
    let netem = false

    const runApi = <A, E>(effect: Effect.Effect<A, E, TopologyRepo | TarpitRepo | LogRepo>) =>
      api().runtime.runPromise(effect)
    const probe = () => {
      if (probes === undefined) throw new Error("not deployed")
      return probes
    }
    const t = () => {
      if (detail === undefined) throw new Error("not deployed")
      return detail
    }
    const dmz = () => t().lans.find((l) => l.is_dmz)?.name ?? ""
    const lansOf = (name: string) =>
      Object.keys(t().deckies.find((d) => d.name === name)?.decky_config?.ips_by_lan ?? {})
    const ipOf = (name: string, lan: string) =>
      t().deckies.find((d) => d.name === name)?.decky_config?.ips_by_lan?.[lan] ?? ""
    /** The DMZ's own decky (the client) and the bridge decky with a DMZ address (the tarpitted one). */
    const client = () => t().deckies.find((d) => lansOf(d.name).join() === dmz())?.name ?? ""
    const target = () =>
      t().deckies.find((d) => d.name !== client() && lansOf(d.name).includes(dmz()))?.name ?? ""
    const route = (method: string, body?: unknown) =>
      raw(api().baseUrl, `/api/v1/topologies/${id}/deckies/${target()}/tarpit`, {
        method,
        token,
        ...(body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      })
    /** Root qdiscs of every ethernet interface in the target's namespace: `eth0 → htb dec1:`. */
    const targetQdiscs = async () => {
      const links = JSON.parse(
        (await probe().inNetns(target(), ["ip", "-j", "link", "show"])).stdout
      ) as Array<{
        ifname: string
        link_type?: string
      }>
      const qdiscs = JSON.parse(
        (await probe().inNetns(target(), ["tc", "-j", "qdisc", "show"])).stdout
      ) as Array<{
        kind: string
        handle: string
        dev?: string
        root?: boolean
      }>
      return Object.fromEntries(
        links
          .filter((l) => l.link_type === "ether")
          .map((l) => {
            const root = qdiscs.find((q) => q.dev === l.ifname && q.root === true)
            return [l.ifname, root === undefined ? "none" : `${root.kind} ${root.handle}`]
          })
      )
    }
    const timed = async (port: number, send = "") => {
      const r = await probe().inNetns(
        client(),
        [process.execPath, "-e", TIMED_CLIENT, ipOf(target(), dmz()), String(port), send],
        40_000
      )
      if (r.status !== 0) throw new Error(`client to ${port}: ${r.status} ${r.stderr}`)
      return Number(r.stdout)
    }
    const hold = async () => {
      const pid = await probe().pidOf(baseContainerName(id, client()))
      const child = spawn(
        "nsenter",
        [
          `--net=/proc/${pid}/ns/net`,
          process.execPath,
          "-e",
          HOLDING_CLIENT,
          ipOf(target(), dmz()),
          String(SSH)
        ],
        { detached: true, stdio: ["ignore", "pipe", "pipe"] }
      )
      held.push(child)
      await new Promise<void>((resolve, reject) => {
        let out = ""
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString()
          if (out.includes("held")) resolve()
        })
        child.on("exit", (code) => reject(new Error(`the holding client exited (${code})`)))
      })
      return () => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL")
      }
    }
    const rows = (eventType: string) =>
      runApi(Effect.flatMap(LogRepo, (l) => l.getLogs({ service: "tarpit", eventType, limit: 100 })))
    const status = async () => {
      const r = await raw(api().baseUrl, `/api/v1/topologies/${id}`, { token })
      return (r.json() as { topology: { status: string } }).topology.status
    }

    beforeAll(async () => {
      requireRoot("the [docker] tarpit test")
      const taken = await runDocker(
        Effect.map(
          Effect.flatMap(Docker, (d) => d.listNetworks()),
          (ns) => ns.flatMap((n) => n.IPAM.Config.map((p) => `${n.Name} ${p.Subnet ?? ""}`))
        )
      )
      const clash = taken.filter((x) => x.includes(` ${NET}.`))
      if (clash.length > 0) throw new Error(`${NET}.0.0/16 is in use: ${clash.join(", ")}`)
      const bundle = await buildDeckyBundle(tmp)
      await runDocker(buildImages({ distro: "debian", bundlePath: bundle, progress: () => Effect.void }))
      token = await adminToken(api().baseUrl)
      const generated = await api().runtime.runPromise(
        persistGenerated({
          seed: 3,
          depth: 1,
          branching_factor: 1,
          subnet_base_prefix: NET,
          deckies_per_lan_min: 1,
          deckies_per_lan_max: 1,
          randomize_services: false,
          services_explicit: ["ssh", "redis"]
        })
      )
      id = generated.topology.id
      probes = dockerProbes(runDocker, id)
      const deploy = await raw(api().baseUrl, `/api/v1/topologies/${id}/deploy`, { method: "POST", token })
      expect(deploy.status, deploy.body).toBeLessThan(300)
      expect(await waitFor(async () => ((await status()) === "active" ? "active" : undefined), 300_000)).toBe(
        "active"
      )
      detail = await api().runtime.runPromise(
        Effect.flatMap(TopologyRepo, (r) => Effect.map(r.hydrate(id), Option.getOrThrow))
      )
      expect(client()).not.toBe("")
      expect(target()).not.toBe("")
      expect(lansOf(target()).length).toBe(2)
      // netem, asked in the target's own namespace (on its loopback, which the tarpit never touches).
      netem =
        (
          await probe().inNetns(target(), [
            "tc",
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "handle",
            "1:",
            "netem",
            "delay",
            "1ms"
          ])
        ).status === 0
      await probe().inNetns(target(), ["tc", "qdisc", "del", "dev", "lo", "root"])
    }, 900_000)

    afterAll(async () => {
      for (const child of held)
        if (child.pid !== undefined && child.exitCode === null)
          try {
            process.kill(-child.pid, "SIGKILL")
          } catch {
            // gone
          }
      await probes?.sweep()
      await engine.dispose()
      fs.rmSync(tmp, { recursive: true, force: true })
    }, 180_000)

    it("[docker] POST shapes every interface of the decky's namespace and delays its ssh replies, not its redis", async (ctx) => {
      if (!netem) ctx.skip("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): tc cannot delay here")
      const on = await route("POST", { ports: [SSH], delay_ms: DELAY_MS })
      expect(on.status, on.body).toBe(201)
      expect(on.json()).toEqual({ message: "tarpit active" })
      const shaped = await targetQdiscs()
      expect(Object.keys(shaped)).toHaveLength(2)
      expect(Object.values(shaped).every((q) => q === "htb dec1:")).toBe(true)
      const control = await timed(REDIS, "PING\r\n")
      const slowed = await timed(SSH)
      expect(slowed - control).toBeGreaterThanOrEqual(1000)
    })

    it("[docker] GET lists the connection a client holds; the watcher logs tarpit_enter and tarpit_exit", async (ctx) => {
      if (!netem) ctx.skip("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): tc cannot delay here")
      const peer = ipOf(client(), dmz())
      const stop = await hold()
      try {
        const body = (await route("GET")).json() as {
          rule: { decky_name: string; ports: Array<number> }
          active_connections: Array<{ ip: string; port: number }>
        }
        expect(body.rule).toMatchObject({ decky_name: `t:${id}:${target()}`, ports: [SSH] })
        expect(body.active_connections).toContainEqual({ ip: peer, port: SSH })
        const enter = await waitFor(async () =>
          (await rows("tarpit_enter")).find((r) => r.attacker_ip === peer)
        )
        expect(enter).toMatchObject({ decky: target(), service: "tarpit" })
        expect(enter.fields).toMatchObject({ port: String(SSH), topology_id: id })
      } finally {
        stop()
      }
      const exit = await waitFor(async () => (await rows("tarpit_exit")).find((r) => r.attacker_ip === peer))
      expect(exit.fields.port).toBe(String(SSH))
    })

    it("[docker] DELETE removes the qdisc from every interface and the rule", async (ctx) => {
      if (!netem) ctx.skip("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): tc cannot delay here")
      const off = await route("DELETE")
      expect(off.status, off.body).toBe(200)
      expect(off.json()).toEqual({ message: "tarpit removed" })
      expect(Object.values(await targetQdiscs()).some((q) => q.includes("dec1:"))).toBe(false)
      expect((await route("GET")).status).toBe(404)
      const redis = await timed(REDIS, "PING\r\n")
      const ssh = await timed(SSH)
      expect(ssh - redis).toBeLessThan(1000)
    })

    it("[docker] without netem the POST is 409 and nothing is left in the namespace or stored", async (ctx) => {
      if (netem) ctx.skip("this kernel has netem: the delay itself is tested")
      const r = await route("POST", { ports: [SSH], delay_ms: DELAY_MS })
      expect(r.status, r.body).toBe(409)
      expect((r.json() as { detail: string }).detail).toContain("CONFIG_NET_SCH_NETEM")
      expect(Object.values(await targetQdiscs()).some((q) => q.includes("dec1:"))).toBe(false)
      expect(
        Option.isNone(await runApi(Effect.flatMap(TarpitRepo, (x) => x.get(`t:${id}:${target()}`))))
      ).toBe(true)
    })

    it("[docker] teardown drops the rule and leaves no container and no tc state", async () => {
      if (netem) expect((await route("POST", { ports: [SSH], delay_ms: DELAY_MS })).status).toBe(201)
      const down = await raw(api().baseUrl, `/api/v1/topologies/${id}/teardown`, { method: "POST", token })
      expect(down.status, down.body).toBeLessThan(300)
      expect(
        await waitFor(async () => ((await status()) === "torn_down" ? "done" : undefined), 180_000)
      ).toBe("done")
      expect(
        Option.isNone(await runApi(Effect.flatMap(TarpitRepo, (x) => x.get(`t:${id}:${target()}`))))
      ).toBe(true)
      expect(await probe().leftovers()).toEqual([])
      // The delay lived in the decky's namespace, which went with its base container; the host has none.
      const host = await spawnAsync("tc", ["-j", "qdisc", "show"])
      expect(host.stdout).not.toContain('"handle":"dec1:"')
    })
  })
}
