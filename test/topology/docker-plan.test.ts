// The Docker topology runtime without an engine or root: the pure planning (names, labels, container specs,
// routes through forwarders, DOCKER-USER rules, teardown order, the reaper's prefix) and the runtime over the
// in-memory Docker fake with iptables/nsenter recorded (spec/topology.md §11 cases 23–27, 34, 57, 62).
// The same flows on the real engine are in docker.test.ts ([docker]).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Schedule } from "effect"
import { Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { DockerTest, DockerTestControl } from "../../src/docker/DockerTest.js"
import { deckyImage } from "../../src/fleet/Images.js"
import { type KeptTopologies, keepDockerTopologies } from "../../src/topology/DockerKeeper.js"
import { DockerTopology, type DockerTopologyRepair } from "../../src/topology/DockerTopology.js"
import {
  baseContainerName,
  baseContainerSpec,
  bridgeRule,
  canonicalSubnet,
  LABEL_DECKY,
  LABEL_ROLE,
  LABEL_SERVICE,
  LABEL_SERVICES,
  LABEL_TOPOLOGY,
  networkName,
  parseChainRules,
  planRoutes,
  planTopology,
  prefixOf,
  routeChanges,
  servicesContainerName,
  servicesContainerSpec
} from "../../src/topology/DockerTopologyPlan.js"
import type { LanRow } from "../../src/topology/Model.js"
import { TopologyRuntime } from "../../src/topology/Runtime.js"
import { TopologyHost, TopologyHostRecorder } from "../../src/topology/TopologyHost.js"
import { fixtureTopology, ipOn } from "./dockerFixture.js"

const TID = "0a1b2c3d-0000-4000-8000-000000000001"
const topology = fixtureTopology(TID, "10.231")
const IMAGE = deckyImage("debian")

const planOf = (t = topology) =>
  Either.getOrElse(planTopology(t), (e) => {
    throw new Error(e.message)
  })

const lan = (name: string, is_dmz = false): LanRow => ({
  id: `lan:${name}`,
  topology_id: TID,
  name,
  subnet: "10.0.0.0/24",
  is_dmz,
  docker_network_id: null,
  x: null,
  y: null
})

describe("names", () => {
  it("networks and containers carry decnet_t_<id8>_; LAN names lowercased (cases 23, 24)", () => {
    expect(networkName(TID, "LAN-01")).toBe("decnet_t_0a1b2c3d_lan-01")
    expect(baseContainerName(TID, "decky-001")).toBe("decnet_t_0a1b2c3d_decky-001")
    expect(servicesContainerName(TID, "decky-001")).toBe("decnet_t_0a1b2c3d_decky-001.svc")
  })

  it("prefixOf parses decnet_t_<8 hex>_… (a trailing _ alone too) and rejects the rest (case 62)", () => {
    expect(prefixOf("decnet_t_0a1b2c3d_lan-00")).toEqual(Option.some("0a1b2c3d"))
    expect(prefixOf("decnet_t_0a1b2c3d_")).toEqual(Option.some("0a1b2c3d"))
    for (const bad of [
      "decnet_t_0a1b2c3_x",
      "decnet_t_0A1B2C3D_x",
      "decnet_t_0a1b2c3d",
      "decky-01",
      "x_decnet_t_0a1b2c3d_"
    ])
      expect(prefixOf(bad)).toEqual(Option.none())
  })

  it("canonicalSubnet clears host bits and refuses what is not a CIDR", () => {
    expect(canonicalSubnet("10.1.2.3/24")).toEqual(Option.some("10.1.2.0/24"))
    expect(canonicalSubnet("10.1.2.0/16")).toEqual(Option.some("10.1.0.0/16"))
    // A bare address is a /32 (how `ip -j route` prints a host route's dst).
    expect(canonicalSubnet("10.1.2.7")).toEqual(Option.some("10.1.2.7/32"))
    for (const bad of ["10.1.2.0/33", "10.1.256.0/24", "x/24", "10.1.2.0/24/1"])
      expect(canonicalSubnet(bad)).toEqual(Option.none())
  })
})

describe("planning", () => {
  it("one network per LAN, internal for all but the DMZ (case 23)", () => {
    const plan = planOf()
    expect(plan.lans.map((l) => [l.network, l.subnet, l.internal])).toEqual([
      ["decnet_t_0a1b2c3d_lan-00", "10.231.0.0/24", false],
      ["decnet_t_0a1b2c3d_lan-01", "10.231.1.0/24", true],
      ["decnet_t_0a1b2c3d_lan-02", "10.231.2.0/24", true],
      ["decnet_t_0a1b2c3d_lan-03", "10.231.3.0/24", true],
      ["decnet_t_0a1b2c3d_lan-04", "10.231.4.0/24", true],
      ["decnet_t_0a1b2c3d_lan-05", "10.231.5.0/24", true],
      ["decnet_t_0a1b2c3d_lan-06", "10.231.6.0/24", true]
    ])
  })

  it("the base: every ips_by_lan entry in order, NET_ADMIN, ip_forward on forwarders, labels (cases 24–26)", () => {
    const plan = planOf()
    const gw = plan.deckies.find((d) => d.name === "decky-002")
    const leaf = plan.deckies.find((d) => d.name === "decky-003")
    if (gw === undefined || leaf === undefined) throw new Error("fixture")
    const spec = baseContainerSpec(TID, gw, { image: IMAGE, stopTimeoutSeconds: 5 })
    expect(spec.name).toBe("decnet_t_0a1b2c3d_decky-002")
    expect(spec.hostname).toBe("decky-002")
    expect(spec.networks).toEqual([
      ["decnet_t_0a1b2c3d_lan-01", { ipv4Address: "10.231.1.2" }],
      ["decnet_t_0a1b2c3d_lan-00", { ipv4Address: "10.231.0.3" }]
    ])
    expect(spec.capAdd).toContain("NET_ADMIN")
    expect(spec.sysctls).toEqual({ "net.ipv4.ip_forward": "1" })
    expect(spec.ports).toBeUndefined()
    expect(spec.labels).toEqual({ [LABEL_TOPOLOGY]: TID, [LABEL_DECKY]: "decky-002", [LABEL_ROLE]: "base" })
    expect(spec.logConfig).toEqual({ type: "json-file", config: { "max-size": "10m", "max-file": "5" } })
    expect(spec.restartPolicy).toBe("unless-stopped")
    const leafSpec = baseContainerSpec(TID, leaf, { image: IMAGE, stopTimeoutSeconds: 5 })
    expect(leafSpec.sysctls).toBeUndefined()
    expect(leafSpec.capAdd).toContain("NET_ADMIN")
    // A gateway's ports are published only when the operator names a host address.
    const published = baseContainerSpec(TID, gw, {
      image: IMAGE,
      stopTimeoutSeconds: 5,
      publishHostIp: "192.0.2.1"
    })
    expect(published.ports).toEqual([
      { containerPort: 6379, protocol: "tcp", hostIp: "192.0.2.1", hostPort: 6379 }
    ])
    expect(
      baseContainerSpec(TID, leaf, { image: IMAGE, stopTimeoutSeconds: 5, publishHostIp: "192.0.2.1" }).ports
    ).toBeUndefined()
  })

  it("the services container: decnet decky with every service in the base's namespace; collector labels (case 26)", () => {
    const d = planOf().deckies.find((x) => x.name === "decky-001")
    if (d === undefined) throw new Error("fixture")
    const spec = servicesContainerSpec(TID, d, { image: IMAGE, stopTimeoutSeconds: 5 })
    expect(spec.name).toBe("decnet_t_0a1b2c3d_decky-001.svc")
    expect(spec.networkMode).toBe("container:decnet_t_0a1b2c3d_decky-001")
    expect(spec.networks).toBeUndefined()
    expect(spec.cmd?.slice(0, 8)).toEqual([
      "decky",
      "--services",
      "ssh,http",
      "--host",
      "0.0.0.0",
      "--name",
      "decky-001",
      "--hostname"
    ])
    expect(spec.labels).toEqual({
      [LABEL_TOPOLOGY]: TID,
      [LABEL_DECKY]: "decky-001",
      [LABEL_ROLE]: "services",
      [LABEL_SERVICE]: "true",
      [LABEL_SERVICES]: "ssh,http"
    })
    // The base never carries the collector's label.
    const base = baseContainerSpec(TID, d, { image: IMAGE, stopTimeoutSeconds: 5 })
    expect(base.labels?.[LABEL_SERVICE]).toBeUndefined()
  })

  it("decnet decky runs only the services it can emulate; the rest (not emulated yet, fleet singletons) are skipped", () => {
    const mixed = {
      ...topology,
      deckies: topology.deckies.map((d) =>
        d.name === "decky-003" ? { ...d, services: ["ssh", "tftp", "sniffer", "redis"] } : d
      )
    }
    const d = planOf(mixed).deckies.find((x) => x.name === "decky-003")
    expect([d?.services, d?.skipped]).toEqual([
      ["ssh", "redis"],
      ["tftp", "sniffer"]
    ])
  })

  it("refuses, before any engine call, what Docker cannot take", () => {
    const refused = (t: typeof topology) =>
      Either.match(planTopology(t), { onLeft: (e) => e.message, onRight: () => "" })
    const unknownLan = {
      ...topology,
      deckies: topology.deckies.map((d) =>
        d.name === "decky-003"
          ? { ...d, decky_config: { ...d.decky_config, ips_by_lan: { "LAN-99": "10.9.9.9" } } }
          : d
      )
    }
    expect(refused(unknownLan)).toBe("decky 'decky-003' references unknown LAN 'LAN-99'")
    const dotted = {
      ...topology,
      deckies: topology.deckies.map((d) =>
        d.name === "decky-003" ? { ...d, name: "a.b", decky_config: { ...d.decky_config, name: "a.b" } } : d
      )
    }
    expect(refused(dotted)).toMatch(/decky 'a\.b' cannot name a Docker container/)
    const clash = { ...topology, lans: [...topology.lans, { ...lan("lan-01"), subnet: "10.231.9.0/24" }] }
    expect(refused(clash)).toMatch(
      /LANs 'LAN-01' and 'lan-01' would share the network decnet_t_0a1b2c3d_lan-01/
    )
    expect(refused({ ...topology, topology: { ...topology.topology, id: "not-hex" } })).toMatch(
      /8 hex digits/
    )
  })
})

describe("routes through the L3 forwarders", () => {
  const routes = planRoutes(planOf())
  const of = (decky: string) => (routes.get(decky) ?? []).map((r) => `${r.dst} via ${r.via}`)

  it("the DMZ decky reaches every LAN a forwarder leads to, through the gateway of that branch", () => {
    expect(of("decky-001")).toEqual([
      "10.231.1.0/24 via 10.231.0.3",
      "10.231.2.0/24 via 10.231.0.4",
      "10.231.3.0/24 via 10.231.0.3",
      "10.231.4.0/24 via 10.231.0.3",
      "10.231.5.0/24 via 10.231.0.4"
    ])
  })

  it("a depth-2 leaf goes out through its own LAN's forwarder for everything", () => {
    expect(of("decky-006")).toEqual(
      ["0", "1", "2", "4", "5"].map((k) => `10.231.${k}.0/24 via ${ipOn(topology, "decky-005", "LAN-03")}`)
    )
  })

  it("a forwarder routes onwards through the next forwarder, never through itself", () => {
    expect(of("decky-005")).toEqual([
      "10.231.0.0/24 via 10.231.1.2",
      "10.231.2.0/24 via 10.231.1.2",
      "10.231.4.0/24 via 10.231.1.5",
      "10.231.5.0/24 via 10.231.1.2"
    ])
  })

  it("a non-forwarding bridge's LAN is reached by nobody; the bridge itself still routes out", () => {
    for (const [decky, rs] of routes)
      if (decky !== "decky-009") expect(rs.map((r) => r.dst)).not.toContain("10.231.6.0/24")
    expect(of("decky-009")).toEqual([
      "10.231.0.0/24 via 10.231.2.2",
      "10.231.1.0/24 via 10.231.2.2",
      "10.231.3.0/24 via 10.231.2.2",
      "10.231.4.0/24 via 10.231.2.2",
      "10.231.5.0/24 via 10.231.2.3"
    ])
  })

  it("every path is symmetric: each hop's route back leads to where the packet came from", () => {
    // Walk from every decky to every address it has a route for, hop by hop, and back.
    const plan = planOf()
    const home = (ip: string) => plan.deckies.find((d) => d.addresses.some((a) => a.ip === ip))
    const next = (decky: string, dst: string): string | undefined => {
      const d = plan.deckies.find((x) => x.name === decky)
      const lanOfDst = plan.lans.find((l) => l.subnet === `${dst.split(".").slice(0, 3).join(".")}.0/24`)
      if (d === undefined || lanOfDst === undefined) return undefined
      if (d.addresses.some((a) => a.lan === lanOfDst.name)) return undefined // directly connected
      return routes.get(decky)?.find((r) => r.dst === lanOfDst.subnet)?.via
    }
    const path = (from: string, dst: string) => {
      const hops: Array<string> = []
      let at = from
      for (let i = 0; i < 10; i++) {
        const via = next(at, dst)
        if (via === undefined) return hops
        const hop = home(via)?.name
        if (hop === undefined) throw new Error(`no decky has ${via}`)
        hops.push(hop)
        at = hop
      }
      throw new Error("routing loop")
    }
    expect(path("decky-006", ipOn(topology, "decky-009", "LAN-02"))).toEqual([
      "decky-005",
      "decky-002",
      "decky-004"
    ])
    expect(path("decky-009", ipOn(topology, "decky-006", "LAN-03"))).toEqual([
      "decky-004",
      "decky-002",
      "decky-005"
    ])
  })

  it("route sync: only gateway routes other than the default are ours; changed ones replaced, stale removed", () => {
    const current = [
      { dst: "default", gateway: "10.231.3.1" },
      { dst: "10.231.3.0/24" },
      { dst: "10.231.0.0/24", gateway: "10.231.3.9" },
      { dst: "10.231.1.0/24", gateway: "10.231.3.2" },
      { dst: "10.231.8.0/24", gateway: "10.231.3.2" }
    ]
    const wanted = [
      { dst: "10.231.0.0/24", via: "10.231.3.2" },
      { dst: "10.231.1.0/24", via: "10.231.3.2" },
      { dst: "10.231.2.0/24", via: "10.231.3.2" }
    ]
    expect(routeChanges(current, wanted)).toEqual({
      replace: [wanted[0], wanted[2]],
      remove: [{ dst: "10.231.8.0/24", via: "10.231.3.2" }]
    })
  })
})

describe("DOCKER-USER rules", () => {
  it("a rule per bridge, same bridge in and out, found again by its comment in iptables -S", () => {
    const rule = bridgeRule("br-0123456789ab", "decnet_t_0a1b2c3d_lan-01")
    const listing = [
      "-N DOCKER-USER",
      `-A DOCKER-USER ${rule.join(" ")}`,
      "-A DOCKER-USER -i eth0 -m comment --comment someone-else -j DROP",
      "-A DOCKER-USER -j RETURN"
    ].join("\n")
    expect(parseChainRules(listing)).toEqual([{ comment: "decnet_t_0a1b2c3d_lan-01", spec: rule }])
  })
})

// ---- the runtime over the Docker fake -------------------------------------------------------------------

/** iptables as a list of rules, routes per pid: enough of the host for the runtime's sync. */
const fakeHost = () => {
  const rules: Array<string> = []
  const routes = new Map<string, Array<{ dst: string; gateway?: string }>>()
  return TopologyHostRecorder((argv) => {
    if (argv[0] === "iptables") {
      const [, , op, , ...spec] = argv
      if (op === "-S")
        return Effect.succeed(
          ["-N DOCKER-USER", ...rules.map((r) => `-A DOCKER-USER ${r}`), "-A DOCKER-USER -j RETURN"].join(
            "\n"
          )
        )
      if (op === "-I") rules.unshift(spec.join(" "))
      if (op === "-D") rules.splice(rules.indexOf(spec.join(" ")), 1)
      return Effect.succeed("")
    }
    const ns = argv[1] ?? ""
    const table = routes.get(ns) ?? []
    routes.set(ns, table)
    const [, , , verb, action, dst, , via] = argv
    if (verb === "-4") return Effect.succeed(JSON.stringify(table))
    if (action === "replace" && dst !== undefined && via !== undefined) {
      const i = table.findIndex((r) => r.dst === dst)
      if (i >= 0) table.splice(i, 1)
      table.push({ dst, gateway: via })
    }
    if (action === "del") {
      const i = table.findIndex((r) => r.dst === dst)
      if (i >= 0) table.splice(i, 1)
    }
    return Effect.succeed("")
  }).pipe(
    Effect.map((h) => ({
      ...h,
      rules: () => [...rules],
      /** What a restart does to a namespace's routes: they are gone. */
      dropRoutes: (pid: number) => void routes.delete(`--net=/proc/${pid}/ns/net`)
    }))
  )
}

const startupLines = (spec: { readonly cmd?: ReadonlyArray<string> | undefined }) => {
  const cmd = spec.cmd ?? []
  const name = cmd[cmd.indexOf("--name") + 1] ?? ""
  const services = (cmd[cmd.indexOf("--services") + 1] ?? "").split(",")
  return cmd[0] === "decky"
    ? services.map((s) => ({
        stream: "stdout" as const,
        line: `<134>1 2026-01-01T00:00:00Z ${name} ${s} - startup - listening`
      }))
    : []
}

const harness = Effect.gen(function* () {
  const host = yield* fakeHost()
  const layer = DockerTopology({ readyTimeout: "2 seconds" }).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        DockerTest({ images: [IMAGE], logsFor: startupLines }),
        Layer.succeed(TopologyHost, host.service)
      )
    )
  )
  return { host, layer }
})

const withRuntime = <A, E>(
  f: (
    h: Effect.Effect.Success<typeof harness>["host"]
  ) => Effect.Effect<A, E, TopologyRuntime | DockerTopologyRepair | Docker | DockerTestControl>
) => Effect.flatMap(harness, ({ host, layer }) => Effect.provide(f(host), layer))

describe("the runtime over the Docker fake", () => {
  it.effect(
    "deploy: networks, 2 containers per decky, one rule per bridge, routes in every base; inspect: all running",
    () =>
      withRuntime((host) =>
        Effect.gen(function* () {
          const rt = yield* TopologyRuntime
          const control = yield* DockerTestControl
          yield* rt.deploy(topology)
          const snap = yield* control.snapshot
          expect(
            snap.networks.filter((n) => n.Name.startsWith("decnet_t_")).map((n) => [n.Name, n.Internal])
          ).toHaveLength(7)
          expect(snap.containers).toHaveLength(18)
          expect(host.rules()).toHaveLength(7)
          const calls = yield* host.calls
          const replaced = calls.filter((c) => c.includes("replace")).length
          expect(replaced).toBe([...planRoutes(planOf()).values()].reduce((n, rs) => n + rs.length, 0))
          const states = yield* rt.inspect(topology)
          expect(states.every((s) => s.state === "running")).toBe(true)
          // A second sync changes nothing (idempotent).
          yield* host.calls.pipe(Effect.map((c) => c.length))
          const before = (yield* host.calls).length
          yield* rt.addLan(topology, topology.lans[0] ?? lan("x"))
          const after = (yield* host.calls).slice(before)
          expect(after.filter((c) => c.includes("replace") || c.includes("-I") || c.includes("-D"))).toEqual(
            []
          )
        })
      )
  )

  it.effect(
    "a network-create failure: the deploy fails, every network it made is gone, no container was made (case 34)",
    () =>
      withRuntime((host) =>
        Effect.gen(function* () {
          const rt = yield* TopologyRuntime
          const control = yield* DockerTestControl
          const docker = yield* Docker
          // LAN-02's name is taken by a network that is not this topology's: LAN-00 and LAN-01 were made first.
          yield* docker.createNetwork({
            name: networkName(TID, "LAN-02"),
            ipam: [{ subnet: "10.97.0.0/24" }]
          })
          const result = yield* Effect.either(rt.deploy(topology))
          expect(Either.isLeft(result) && result.left.message).toMatch(
            /a network named decnet_t_0a1b2c3d_lan-02 exists that is not this topology's/
          )
          const created = (yield* control.calls).filter((c) => c.op === "createNetwork").length
          expect(created).toBe(3)
          const snap = yield* control.snapshot
          expect(snap.networks.filter((n) => n.Name.startsWith("decnet_t_")).map((n) => n.Name)).toEqual([
            networkName(TID, "LAN-02")
          ])
          expect(snap.containers).toEqual([])
          expect(host.rules()).toEqual([])
        })
      )
  )

  it.effect("a network-create failure: the deploy fails with the engine's reason, nothing is left", () =>
    withRuntime(() =>
      Effect.gen(function* () {
        const rt = yield* TopologyRuntime
        const control = yield* DockerTestControl
        yield* control.failNext(
          "createNetwork",
          new DockerError({
            op: "createNetwork",
            reason: "conflict",
            message: "Pool overlaps with other one on this address space"
          })
        )
        const result = yield* Effect.either(rt.deploy(topology))
        expect(Either.isLeft(result) && result.left.message).toMatch(
          /network decnet_t_0a1b2c3d_lan-00: Pool overlaps/
        )
        const snap = yield* control.snapshot
        expect(snap.networks.filter((n) => n.Name.startsWith("decnet_t_"))).toEqual([])
        expect(snap.containers).toEqual([])
      })
    )
  )

  it.effect(
    "a container failure mid-deploy: everything created is removed (containers, rules, networks)",
    () =>
      withRuntime((host) =>
        Effect.gen(function* () {
          const rt = yield* TopologyRuntime
          const control = yield* DockerTestControl
          yield* control.failNext(
            "startContainer",
            new DockerError({ op: "startContainer", reason: "engine", message: "boom" })
          )
          const result = yield* Effect.either(rt.deploy(topology))
          expect(Either.isLeft(result) && result.left.message).toMatch(/boom/)
          const snap = yield* control.snapshot
          expect(snap.containers).toEqual([])
          expect(snap.networks.filter((n) => n.Name.startsWith("decnet_t_"))).toEqual([])
          expect(host.rules()).toEqual([])
        })
      )
  )

  it.effect("teardown: services, bases, rules, then LANs leaf-first with the DMZ last; twice is fine", () =>
    withRuntime((host) =>
      Effect.gen(function* () {
        const rt = yield* TopologyRuntime
        const control = yield* DockerTestControl
        yield* rt.deploy(topology)
        yield* control.clearCalls
        yield* rt.teardown(topology)
        const calls = yield* control.calls
        const removedNetworks = calls.filter((c) => c.op === "removeNetwork").length
        expect(removedNetworks).toBe(7)
        const inspected = calls.filter((c) => c.op === "inspectNetwork").map((c) => c.args[0])
        expect(inspected).toEqual(
          ["LAN-06", "LAN-05", "LAN-04", "LAN-03", "LAN-02", "LAN-01", "LAN-00"].map((l) =>
            networkName(TID, l)
          )
        )
        const snap = yield* control.snapshot
        expect(snap.containers).toEqual([])
        expect(snap.networks.filter((n) => n.Name.startsWith("decnet_t_"))).toEqual([])
        expect(host.rules()).toEqual([])
        yield* rt.teardown(topology)
        const states = yield* rt.inspect(topology)
        expect(states.map((s) => s.detail)).toEqual(topology.deckies.map(() => "absent"))
      })
    )
  )

  it.effect("inspect: a stopped services container fails the decky with its exit code", () =>
    withRuntime(() =>
      Effect.gen(function* () {
        const rt = yield* TopologyRuntime
        const control = yield* DockerTestControl
        yield* rt.deploy(topology)
        yield* control.exitContainer(servicesContainerName(TID, "decky-003"), 1)
        yield* control.exitContainer(baseContainerName(TID, "decky-006"), 137)
        const states = yield* rt.inspect(topology)
        expect(states.find((s) => s.decky === "decky-003")).toEqual({
          decky: "decky-003",
          state: "failed",
          detail: "services exited (exit=1)"
        })
        expect(states.find((s) => s.decky === "decky-006")).toEqual({
          decky: "decky-006",
          state: "failed",
          detail: "exited (exit=137)"
        })
        expect(states.filter((s) => s.state === "running")).toHaveLength(7)
      })
    )
  )

  it.effect(
    "attach: one connect with the address; already connected is success; detach disconnects (case 57)",
    () =>
      withRuntime(() =>
        Effect.gen(function* () {
          const rt = yield* TopologyRuntime
          const control = yield* DockerTestControl
          const docker = yield* Docker
          yield* rt.deploy(topology)
          const decky = topology.deckies.find((d) => d.name === "decky-003")
          const lan2 = topology.lans.find((l) => l.name === "LAN-02")
          if (decky === undefined || lan2 === undefined) throw new Error("fixture")
          yield* control.clearCalls
          yield* rt.attach(topology, decky, lan2, "10.231.2.9")
          yield* rt.attach(topology, decky, lan2, "10.231.2.9")
          const connects = (yield* control.calls).filter((c) => c.op === "connectNetwork")
          expect(connects).toEqual([
            {
              op: "connectNetwork",
              args: [
                networkName(TID, "LAN-02"),
                baseContainerName(TID, "decky-003"),
                { ipv4Address: "10.231.2.9" }
              ]
            }
          ])
          const on = yield* docker.inspectContainer(baseContainerName(TID, "decky-003"))
          expect(on.NetworkSettings.Networks[networkName(TID, "LAN-02")]?.IPAddress).toBe("10.231.2.9")
          yield* rt.detach(topology, decky, lan2)
          yield* rt.detach(topology, decky, lan2)
          const off = yield* docker.inspectContainer(baseContainerName(TID, "decky-003"))
          expect(Object.keys(off.NetworkSettings.Networks)).toEqual([networkName(TID, "LAN-01")])
        })
      )
  )

  it.effect(
    "reaper: only orphan prefixes go; per-resource errors are collected; a list failure is reported (case 62)",
    () =>
      withRuntime(() =>
        Effect.gen(function* () {
          const rt = yield* TopologyRuntime
          const control = yield* DockerTestControl
          const docker = yield* Docker
          yield* rt.deploy(topology)
          yield* docker.createNetwork({
            name: "decnet_t_deadbeef_lan-00",
            ipam: [{ subnet: "10.99.0.0/24" }]
          })
          yield* docker.createNetwork({
            name: "decnet_t_deadbeef_lan-01",
            ipam: [{ subnet: "10.99.1.0/24" }]
          })
          yield* docker.createContainer({
            image: IMAGE,
            name: "decnet_t_deadbeef_decky-001",
            networks: [["decnet_t_deadbeef_lan-01", {}]]
          })
          yield* docker.createNetwork({ name: "someone-elses", ipam: [{ subnet: "10.98.0.0/24" }] })
          // The first network removal fails: reported, and the sweep goes on.
          yield* control.failNext(
            "removeNetwork",
            new DockerError({ op: "removeNetwork", reason: "conflict", message: "has active endpoints" })
          )
          const report = yield* rt.reapOrphans([TID, "11111111-aaaa"])
          expect(report).toEqual({
            live_prefixes: ["0a1b2c3d", "11111111"],
            orphan_prefixes: ["deadbeef"],
            containers_removed: ["decnet_t_deadbeef_decky-001"],
            networks_removed: ["decnet_t_deadbeef_lan-01"],
            errors: ["network 'decnet_t_deadbeef_lan-00': has active endpoints"]
          })
          const snap = yield* control.snapshot
          expect(snap.containers).toHaveLength(18)
          expect(snap.networks.map((n) => n.Name)).toContain("someone-elses")
          yield* control.failNext(
            "listContainers",
            new DockerError({ op: "listContainers", reason: "unreachable", message: "no engine" })
          )
          const failed = yield* rt.reapOrphans([TID])
          expect(failed.errors).toEqual(["docker list failed: no engine"])
          expect(failed.containers_removed).toEqual([])
        })
      )
  )

  it.live(
    "a base the engine restarts: the keeper restarts its services into the new namespace and puts its routes back, with no live op",
    () =>
      withRuntime((host) =>
        Effect.scoped(
          Effect.gen(function* () {
            const rt = yield* TopologyRuntime
            const docker = yield* Docker
            const control = yield* DockerTestControl
            yield* rt.deploy(topology)
            const kept: KeptTopologies = {
              live: Effect.succeed([topology]),
              get: (id) => Effect.succeed(id === TID ? Option.some(topology) : Option.none())
            }
            yield* Effect.forkScoped(keepDockerTopologies(kept))
            // Until the keeper follows the engine (its catch-up has run by then).
            yield* control.calls.pipe(
              Effect.filterOrFail((cs) => cs.some((c) => c.op === "events")),
              Effect.retry(Schedule.spaced("10 millis")),
              Effect.timeout("10 seconds")
            )
            yield* Effect.sleep("20 millis")
            const before = (yield* host.calls).length
            yield* control.clearCalls
            // `docker restart` of decky-002's base: a new namespace, without the routes.
            const base = baseContainerName(TID, "decky-002")
            const pid = (yield* docker.inspectContainer(base)).State.Pid
            yield* docker.stopContainer(base)
            host.dropRoutes(pid)
            yield* docker.startContainer(base)

            const wanted = planRoutes(planOf()).get("decky-002") ?? []
            expect(wanted.length).toBeGreaterThan(0)
            const replaced = Effect.map(host.calls, (cs) =>
              cs
                .slice(before)
                .filter((c) => c[1] === `--net=/proc/${pid}/ns/net` && c.includes("replace"))
                .map((c) => `${c[5]} via ${c[7]}`)
            )
            const back = yield* replaced.pipe(
              Effect.filterOrFail((rs) => rs.length >= wanted.length),
              Effect.retry(Schedule.spaced("10 millis")),
              Effect.timeout("10 seconds")
            )
            expect([...back].sort()).toEqual(wanted.map((r) => `${r.dst} via ${r.via}`).sort())
            // Its services container was left in the old namespace: restarted into the new one, and only it.
            const restarted = (yield* control.calls)
              .filter((c) => c.op === "stopContainer" || c.op === "startContainer")
              .map((c) => `${c.op} ${String(c.args[0])}`)
            const svc = yield* docker.inspectContainer(servicesContainerName(TID, "decky-002"))
            expect(restarted).toEqual([
              `stopContainer ${base}`,
              `startContainer ${base}`,
              `stopContainer ${svc.Id}`,
              `startContainer ${svc.Id}`
            ])
            expect(svc.State.Running).toBe(true)
          })
        )
      )
  )
})
