// [docker] The MazeNET Docker runtime on the REAL engine (gated like the fleet's [docker] tests: they run
// with DECNET_TEST_DOCKER=1 and then fail, not skip, when something is missing). A depth-2, branching-2
// topology (dockerFixture.ts) on 10.231.0.0/24–10.231.7.0/24, bridges this file makes; traffic runs only
// between its own containers, from inside their namespaces (nsenter, as root), and to one container on a
// separate test network. afterAll removes every container, network and DOCKER-USER rule it may have made,
// whatever happened.
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Effect, Fiber, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { Docker } from "../../src/docker/Docker.js"
import { DockerLive } from "../../src/docker/DockerLive.js"
import { containerName } from "../../src/docker/Model.js"
import { buildImages, deckyImage } from "../../src/fleet/Images.js"
import { keepDockerTopologies } from "../../src/topology/DockerKeeper.js"
import { DockerTopologyLive } from "../../src/topology/DockerTopology.js"
import {
  baseContainerName,
  DOCKER_USER,
  LABEL_SERVICE,
  LABEL_SERVICES,
  LABEL_TOPOLOGY,
  networkName,
  servicesContainerName
} from "../../src/topology/DockerTopologyPlan.js"
import type { DeckyRow, LanRow, TopologyDetail } from "../../src/topology/Model.js"
import { TopologyRuntime } from "../../src/topology/Runtime.js"
import { buildDeckyBundle, DOCKER_SKIP_REASON, dockerEnabled, requireRoot } from "../fleet/dockerSupport.js"
import { spawnAsync } from "../support/spawn.js"
import { dockerProbes, fixtureTopology, iptablesRules, ipOn } from "./dockerFixture.js"

const NET = "10.231"
const TID = randomUUID()
const ORPHAN = randomUUID()
const FAILING = randomUUID()
const OUTSIDE_NET = `decnet-topotest-outside-${TID.slice(0, 8)}`
const OUTSIDE_BOX = `decnet-topotest-box-${TID.slice(0, 8)}`
const OUTSIDE_IP = `${NET}.200.2`
const OUTSIDE_SUBNET = `${NET}.200.0/24`

const dockerLayer = DockerLive.pipe(Layer.provide(DecnetConfig.layer))
const testLayer = DockerTopologyLive({ readyTimeout: "90 seconds" }).pipe(
  Layer.provideMerge(Layer.mergeAll(dockerLayer, NodeContext.layer)),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

if (!dockerEnabled) {
  describe("[docker] MazeNET on Docker", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  const rt = ManagedRuntime.make(testLayer)
  const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof testLayer>>) =>
    rt.runPromise(effect)
  const runtime = <A, E>(f: (r: Effect.Effect.Success<typeof TopologyRuntime>) => Effect.Effect<A, E>) =>
    run(Effect.flatMap(TopologyRuntime, f))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-docker-topology-"))
  let topology: TopologyDetail = fixtureTopology(TID, NET)
  let deploySeconds = 0

  const { inNetns, tcp, ping, routesOf, engineMemberships, wanted } = dockerProbes(run, TID)

  const deckyRow = (name: string): DeckyRow => {
    const row = topology.deckies.find((d) => d.name === name)
    if (row === undefined) throw new Error(`no decky ${name}`)
    return row
  }
  const lanRow = (name: string): LanRow => {
    const row = topology.lans.find((l) => l.name === name)
    if (row === undefined) throw new Error(`no LAN ${name}`)
    return row
  }
  /** The decky with `patch` applied to its config (the database after an op). */
  const withDecky = (name: string, patch: (d: DeckyRow) => DeckyRow) => {
    topology = { ...topology, deckies: topology.deckies.map((d) => (d.name === name ? patch(d) : d)) }
    return deckyRow(name)
  }

  /** Everything this file may have made, by name and by comment; idempotent and quiet. */
  const cleanup = async () => {
    await runtime((r) => r.teardown(topology)).catch(() => {})
    await run(
      Effect.gen(function* () {
        const docker = yield* Docker
        for (const id of [TID, ORPHAN, FAILING]) {
          const prefix = `decnet_t_${id.slice(0, 8)}_`
          const cs = yield* docker.listContainers({ name: prefix, all: true })
          for (const c of cs) yield* docker.removeContainer(c.Id, { force: true }).pipe(Effect.ignore)
          const ns = yield* docker.listNetworks({ name: prefix })
          for (const n of ns) yield* docker.removeNetwork(n.Id).pipe(Effect.ignore)
        }
        yield* docker.removeContainer(OUTSIDE_BOX, { force: true }).pipe(Effect.ignore)
        yield* docker.removeNetwork(OUTSIDE_NET).pipe(Effect.ignore)
      })
    ).catch(() => {})
    for (const id of [TID, ORPHAN])
      for (const r of await iptablesRules(`decnet_t_${id.slice(0, 8)}_`))
        await spawnAsync("iptables", ["-w", "-D", DOCKER_USER, ...r.spec])
  }

  beforeAll(async () => {
    requireRoot("the [docker] topology tests")
    // The fixture's subnets must be free on this engine (the bridges are created with them).
    const taken = await run(
      Effect.map(
        Effect.flatMap(Docker, (d) => d.listNetworks()),
        (ns) => ns.flatMap((n) => n.IPAM.Config.map((p) => `${n.Name} ${p.Subnet ?? ""}`))
      )
    )
    const clash = taken.filter((t) => t.includes(` ${NET}.`))
    if (clash.length > 0) throw new Error(`${NET}.0.0/16 is in use on this engine: ${clash.join(", ")}`)
    const bundle = await buildDeckyBundle(tmp)
    await run(buildImages({ distro: "debian", bundlePath: bundle, progress: () => Effect.void }))
    const t0 = performance.now()
    await runtime((r) => r.deploy(topology))
    deploySeconds = (performance.now() - t0) / 1000
    process.stdout.write(
      `[docker] topology deploy: ${topology.deckies.length} deckies on ${topology.lans.length} LANs in ` +
        `${deploySeconds.toFixed(1)} s (${(deploySeconds / topology.deckies.length).toFixed(2)} s per decky, services ready)\n`
    )
  }, 900_000)

  afterAll(async () => {
    await cleanup()
    await rt.dispose()
    fs.rmSync(tmp, { recursive: true, force: true })
  }, 180_000)

  describe("[docker] MazeNET on Docker", () => {
    it("[docker] deploy: each base is on exactly its ips_by_lan networks at those addresses; DMZ open, others internal; inspect says running", async () => {
      for (const row of topology.deckies) expect(await engineMemberships(row.name)).toEqual(wanted(row))
      const nets = await run(
        Effect.flatMap(Docker, (d) => d.listNetworks({ labels: { [LABEL_TOPOLOGY]: TID } }))
      )
      expect(nets.map((n) => [n.Name, n.Internal, n.IPAM.Config[0]?.Subnet]).sort()).toEqual(
        topology.lans.map((l) => [networkName(TID, l.name), !l.is_dmz, l.subnet]).sort()
      )
      const gw = await run(
        Effect.flatMap(Docker, (d) => d.inspectContainer(baseContainerName(TID, "decky-002")))
      )
      expect(gw.HostConfig.Sysctls).toEqual({ "net.ipv4.ip_forward": "1" })
      expect(gw.HostConfig.CapAdd).toContain("NET_ADMIN")
      // The collector's label is on the services container only.
      const services = await run(
        Effect.flatMap(Docker, (d) =>
          d.listContainers({ labels: { [LABEL_SERVICE]: "true", [LABEL_TOPOLOGY]: TID } })
        )
      )
      expect(services.map(containerName).sort()).toEqual(
        topology.deckies.map((d) => servicesContainerName(TID, d.name)).sort()
      )
      const states = await runtime((r) => r.inspect(topology))
      expect(states).toEqual(
        topology.deckies.map((d) => ({ decky: d.name, state: "running", detail: "running" }))
      )
    })

    it("[docker] a deploy that fails half-way removes what it made (case 34: the engine refuses LAN-01's pool)", async () => {
      const other = fixtureTopology(FAILING, NET, [])
      const failing: TopologyDetail = {
        ...other,
        // LAN-00 is free and gets made; LAN-01 overlaps this file's topology, so the engine refuses it.
        lans: other.lans
          .filter((l) => l.name === "LAN-00" || l.name === "LAN-01")
          .map((l) => (l.name === "LAN-00" ? { ...l, subnet: `${NET}.100.0/24` } : l))
      }
      const result = await run(Effect.either(Effect.flatMap(TopologyRuntime, (r) => r.deploy(failing))))
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") expect(result.left.message).toMatch(/lan-01.*(overlap|in use)/i)
      const left = await run(
        Effect.flatMap(Docker, (d) => d.listNetworks({ name: `decnet_t_${FAILING.slice(0, 8)}_` }))
      )
      expect(left.map((n) => n.Name)).toEqual([])
    })

    it("[docker] routing through the L3 forwarders: LAN-01 → DMZ, DMZ → depth 2, child LAN → child LAN across the DMZ", async () => {
      // decky-003 (LAN-01) → decky-001 (DMZ) through decky-002.
      expect(await tcp("decky-003", ipOn(topology, "decky-001", "LAN-00"), 22)).toMatch(/^SSH-2\.0-/)
      // decky-001 (DMZ) → decky-006 (LAN-03) through decky-002 and decky-005.
      expect(await tcp("decky-001", ipOn(topology, "decky-006", "LAN-03"), 22)).toMatch(/^SSH-2\.0-/)
      // decky-006 (LAN-03) → decky-008 on LAN-05: LAN-03 → LAN-01 → DMZ → LAN-02 → LAN-05.
      expect(await tcp("decky-006", ipOn(topology, "decky-008", "LAN-05"), 6379, "PING\r\n")).toBe("+PONG\r")
      // traceroute shows the forwarders, in order.
      const trace = await inNetns("decky-006", [
        "busybox",
        "traceroute",
        "-n",
        "-w",
        "1",
        ipOn(topology, "decky-001", "LAN-00")
      ])
      const hops = trace.stdout
        .split("\n")
        .filter((l) => /^\s*\d+\s/.test(l))
        .map((l) => l.trim().split(/\s+/)[1])
      expect(hops).toEqual([
        ipOn(topology, "decky-005", "LAN-03"),
        ipOn(topology, "decky-002", "LAN-01"),
        ipOn(topology, "decky-001", "LAN-00")
      ])
      // LAN-06's bridge does not forward: its LAN is unreachable from the DMZ.
      expect(await tcp("decky-001", ipOn(topology, "decky-009", "LAN-06"), 6379, "PING\r\n")).toMatch(
        /^error/
      )
    })

    it("[docker] internal LANs have no way out: not by their routes, not even through their bridge's host gateway", async () => {
      await run(
        Effect.gen(function* () {
          const docker = yield* Docker
          yield* docker.createNetwork({ name: OUTSIDE_NET, ipam: [{ subnet: OUTSIDE_SUBNET }] })
          const id = yield* docker.createContainer({
            image: deckyImage("debian"),
            name: OUTSIDE_BOX,
            entrypoint: ["/bin/sleep"],
            cmd: ["infinity"],
            networks: [[OUTSIDE_NET, { ipv4Address: OUTSIDE_IP }]]
          })
          yield* docker.startContainer(id)
        })
      )
      // The address answers (the host reaches it), so a silence below is the topology's doing.
      expect((await spawnAsync("busybox", ["ping", "-c", "1", "-W", "2", OUTSIDE_IP])).status).toBe(0)
      // Pings do cross the maze (decky-003 → decky-001 through decky-002)…
      expect(await ping("decky-003", ipOn(topology, "decky-001", "LAN-00"))).toBe(true)
      // …but never leave it.
      for (const decky of ["decky-003", "decky-006", "decky-009"])
        expect(await ping(decky, OUTSIDE_IP)).toBe(false)
      // Even a route straight at LAN-01's host gateway: Docker drops what leaves an internal bridge.
      await inNetns("decky-003", ["ip", "route", "replace", OUTSIDE_SUBNET, "via", `${NET}.1.1`])
      expect(await ping("decky-003", OUTSIDE_IP)).toBe(false)
      await inNetns("decky-003", ["ip", "route", "del", OUTSIDE_SUBNET])
    })

    it("[docker] docker restart of a forwarder's base: with the keeper running, its routes come back and its services rejoin it; routing through it works again with no live op", async () => {
      // decky-006 (LAN-03) → decky-008 (LAN-05) goes through decky-005, decky-002 and decky-004: decky-002
      // forwards to LAN-05 by a route of its own (via decky-004 on the DMZ), which lives in its namespace.
      const path = () => tcp("decky-006", ipOn(topology, "decky-008", "LAN-05"), 6379, "PING\r\n")
      const own = () => tcp("decky-001", ipOn(topology, "decky-002", "LAN-00"), 6379, "PING\r\n")
      expect(await path()).toBe("+PONG\r")
      // "dst via gateway" (the interface names may come back in another order after a restart).
      const routes = async () => (await routesOf("decky-002")).map((l) => l.split(" dev ")[0]).sort()
      const planned = await routes()
      expect(planned).toContain(`${NET}.5.0/24 via ${ipOn(topology, "decky-004", "LAN-00")}`)
      const keeper = rt.runFork(
        keepDockerTopologies({
          live: Effect.sync(() => [topology]),
          get: (id) => Effect.sync(() => (id === TID ? Option.some(topology) : Option.none()))
        })
      )
      try {
        const base = baseContainerName(TID, "decky-002")
        const before = await run(Effect.flatMap(Docker, (d) => d.inspectContainer(base)))
        const restarted = await spawnAsync("docker", ["restart", base], { timeout: 60_000 })
        expect(restarted.status, restarted.stderr).toBe(0)
        const after = await run(Effect.flatMap(Docker, (d) => d.inspectContainer(base)))
        expect(after.State.Pid).not.toBe(before.State.Pid)
        // No live op from here: only the keeper acts. Routing through decky-002 works again…
        let answer = ""
        for (let i = 0; i < 30 && answer !== "+PONG\r"; i++) {
          answer = await path()
          if (answer !== "+PONG\r") await new Promise((r) => setTimeout(r, 500))
        }
        expect(answer).toBe("+PONG\r")
        // …with exactly the routes it had, and its own services answer in its new namespace.
        expect(await routes()).toEqual(planned)
        expect(await own()).toBe("+PONG\r")
        const states = await runtime((r) => r.inspect(topology))
        expect(states.find((s) => s.decky === "decky-002")).toEqual({
          decky: "decky-002",
          state: "running",
          detail: "running"
        })
      } finally {
        await rt.runPromise(Fiber.interrupt(keeper))
      }
    }, 240_000)

    it("[docker] DOCKER-USER: exactly one accept rule per bridge of the topology, same bridge in and out", async () => {
      const rules = await iptablesRules(`decnet_t_${TID.slice(0, 8)}_`)
      expect(rules.map((r) => r.comment).sort()).toEqual(
        topology.lans.map((l) => networkName(TID, l.name)).sort()
      )
      for (const r of rules) {
        const bridge = r.spec[1]
        expect(r.spec).toEqual([
          "-i",
          bridge,
          "-o",
          bridge,
          "-m",
          "comment",
          "--comment",
          r.comment,
          "-j",
          "ACCEPT"
        ])
      }
    })

    it("[docker] live ops converge: addLan, addDecky, attach, detach, updateServices, recreate, removeDecky, removeLan", async () => {
      // add_lan LAN-07, add_decky decky-010 homed there and forwarding.
      const lan7: LanRow = { ...lanRow("LAN-01"), id: "lan:LAN-07", name: "LAN-07", subnet: `${NET}.7.0/24` }
      topology = { ...topology, lans: [...topology.lans, lan7] }
      await runtime((r) => r.addLan(topology, lan7))
      const net7 = await run(Effect.flatMap(Docker, (d) => d.inspectNetwork(networkName(TID, "LAN-07"))))
      expect([net7.Internal, net7.IPAM.Config[0]?.Subnet]).toEqual([true, `${NET}.7.0/24`])
      const d10: DeckyRow = {
        ...deckyRow("decky-003"),
        uuid: "decky:decky-010",
        name: "decky-010",
        services: ["redis"],
        decky_config: { name: "decky-010", ips_by_lan: { "LAN-07": `${NET}.7.2` }, forwards_l3: true },
        ip: `${NET}.7.2`
      }
      topology = { ...topology, deckies: [...topology.deckies, d10] }
      await runtime((r) => r.addDecky(topology, d10))
      expect(await engineMemberships("decky-010")).toEqual({ [networkName(TID, "LAN-07")]: `${NET}.7.2` })
      expect(await tcp("decky-001", `${NET}.7.2`, 6379, "PING\r\n")).toMatch(/^error/)

      // attach_decky decky-010 → LAN-01: LAN-07 is now routed from everywhere.
      const attached = withDecky("decky-010", (d) => ({
        ...d,
        decky_config: { ...d.decky_config, ips_by_lan: { "LAN-07": `${NET}.7.2`, "LAN-01": `${NET}.1.6` } }
      }))
      await runtime((r) => r.attach(topology, attached, lanRow("LAN-01"), `${NET}.1.6`))
      await runtime((r) => r.attach(topology, attached, lanRow("LAN-01"), `${NET}.1.6`))
      expect(await engineMemberships("decky-010")).toEqual(wanted(attached))
      expect(await routesOf("decky-003")).toContain(`${NET}.7.0/24 via ${NET}.1.6 dev eth0`)
      expect(await tcp("decky-001", `${NET}.7.2`, 6379, "PING\r\n")).toBe("+PONG\r")

      // detach_decky: the membership and every route through it go.
      const detached = withDecky("decky-010", (d) => ({
        ...d,
        decky_config: { ...d.decky_config, ips_by_lan: { "LAN-07": `${NET}.7.2` } }
      }))
      await runtime((r) => r.detach(topology, detached, lanRow("LAN-01")))
      await runtime((r) => r.detach(topology, detached, lanRow("LAN-01")))
      expect(await engineMemberships("decky-010")).toEqual(wanted(detached))
      expect((await routesOf("decky-003")).filter((l) => l.startsWith(`${NET}.7.`))).toEqual([])

      // update_decky services: decky-003 gains redis; its namespace (and routes) stay.
      const routesBefore = await routesOf("decky-003")
      const updated = withDecky("decky-003", (d) => ({ ...d, services: ["ssh", "redis"] }))
      await runtime((r) => r.updateServices(topology, updated, ["redis"], []))
      const svc = await run(
        Effect.flatMap(Docker, (d) => d.inspectContainer(servicesContainerName(TID, "decky-003")))
      )
      expect(svc.Config.Labels[LABEL_SERVICES]).toBe("ssh,redis")
      expect(await routesOf("decky-003")).toEqual(routesBefore)
      expect(await tcp("decky-001", ipOn(topology, "decky-003", "LAN-01"), 6379, "PING\r\n")).toBe("+PONG\r")
      expect(await tcp("decky-001", ipOn(topology, "decky-003", "LAN-01"), 22)).toMatch(/^SSH-2\.0-/)

      // update_decky forwards_l3 false → true (force): decky-009 is recreated forwarding; LAN-06 opens.
      const flipped = withDecky("decky-009", (d) => ({
        ...d,
        decky_config: { ...d.decky_config, forwards_l3: true }
      }))
      await runtime((r) => r.recreate(topology, flipped))
      const gw9 = await run(
        Effect.flatMap(Docker, (d) => d.inspectContainer(baseContainerName(TID, "decky-009")))
      )
      expect(gw9.HostConfig.Sysctls).toEqual({ "net.ipv4.ip_forward": "1" })
      expect(await engineMemberships("decky-009")).toEqual(wanted(flipped))
      expect(await tcp("decky-001", ipOn(topology, "decky-009", "LAN-06"), 6379, "PING\r\n")).toBe("+PONG\r")

      // remove_decky, then remove_lan.
      topology = { ...topology, deckies: topology.deckies.filter((d) => d.name !== "decky-010") }
      await runtime((r) => r.removeDecky(topology, d10))
      topology = { ...topology, lans: topology.lans.filter((l) => l.name !== "LAN-07") }
      await runtime((r) => r.removeLan(topology, lan7))
      const left = await run(
        Effect.gen(function* () {
          const docker = yield* Docker
          const cs = yield* docker.listContainers({ name: baseContainerName(TID, "decky-010"), all: true })
          const ns = yield* docker.listNetworks({ name: networkName(TID, "LAN-07") })
          return [...cs.map(containerName), ...ns.map((n) => n.Name)]
        })
      )
      expect(left).toEqual([])
      expect((await iptablesRules(networkName(TID, "LAN-07"))).length).toBe(0)
      const states = await runtime((r) => r.inspect(topology))
      expect(states.every((s) => s.state === "running")).toBe(true)
    })

    it("[docker] reaper: removes an orphan topology's containers, networks and rules, and nothing else", async () => {
      const orphan8 = ORPHAN.slice(0, 8)
      const orphanNet = `decnet_t_${orphan8}_lan-00`
      const orphanBox = `decnet_t_${orphan8}_decky-001`
      await run(
        Effect.gen(function* () {
          const docker = yield* Docker
          const net = yield* docker.createNetwork({
            name: orphanNet,
            internal: true,
            ipam: [{ subnet: `${NET}.201.0/24` }]
          })
          const id = yield* docker.createContainer({
            image: deckyImage("debian"),
            name: orphanBox,
            entrypoint: ["/bin/sleep"],
            cmd: ["infinity"],
            networks: [[orphanNet, {}]]
          })
          yield* docker.startContainer(id)
          const bridge = `br-${net.slice(0, 12)}`
          yield* Effect.promise(() =>
            spawnAsync("iptables", [
              "-w",
              "-I",
              DOCKER_USER,
              "-i",
              bridge,
              "-o",
              bridge,
              "-m",
              "comment",
              "--comment",
              orphanNet,
              "-j",
              "ACCEPT"
            ])
          )
        })
      )
      // Other topologies on this engine (another test's) count as live: only this file's orphan may go.
      const others = await run(
        Effect.flatMap(Docker, (d) =>
          Effect.map(
            Effect.all([
              d.listContainers({ name: "decnet_t_", all: true }),
              d.listNetworks({ name: "decnet_t_" })
            ]),
            ([cs, ns]) =>
              [...cs.map(containerName), ...ns.map((n) => n.Name)]
                .map((n) => /^decnet_t_([0-9a-f]{8})_/.exec(n)?.[1])
                .filter((p): p is string => p !== undefined && p !== orphan8)
          )
        )
      )
      const report = await runtime((r) => r.reapOrphans([TID, ...others]))
      expect(report.orphan_prefixes).toEqual([orphan8])
      expect(report.containers_removed).toEqual([orphanBox])
      expect(report.networks_removed).toEqual([orphanNet])
      expect(report.errors).toEqual([])
      expect(await iptablesRules(`decnet_t_${orphan8}_`)).toEqual([])
      const states = await runtime((r) => r.inspect(topology))
      expect(states.every((s) => s.state === "running")).toBe(true)
      expect((await iptablesRules(`decnet_t_${TID.slice(0, 8)}_`)).length).toBe(topology.lans.length)
    })

    it("[docker] teardown leaves nothing: no container, network or DOCKER-USER rule with the prefix; twice is fine", async () => {
      await runtime((r) => r.teardown(topology))
      await runtime((r) => r.teardown(topology))
      const prefix = `decnet_t_${TID.slice(0, 8)}_`
      const left = await run(
        Effect.gen(function* () {
          const docker = yield* Docker
          const cs = yield* docker.listContainers({ name: prefix, all: true })
          const ns = yield* docker.listNetworks({ name: prefix })
          return [...cs.map(containerName), ...ns.map((n) => n.Name)]
        })
      )
      expect(left).toEqual([])
      expect(await iptablesRules(prefix)).toEqual([])
      const states = await runtime((r) => r.inspect(topology))
      expect(states.map((s) => s.detail)).toEqual(topology.deckies.map(() => "absent"))
    })
  })
}
