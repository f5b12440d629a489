// The Docker runtime's logic, without an engine or root: the pure planning (ip-range, MAC, container spec,
// network decisions) and the runtime over the recorded Docker fake with `ip` recorded instead of run.
// The same flows on the real engine, veth and macvlan are in docker-engine.test.ts ([docker]).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import * as fc from "fast-check"
import { osSysctls } from "../../src/catalog/index.js"
import { type ContainerSpec, Docker } from "../../src/docker/Docker.js"
import { DockerError } from "../../src/docker/DockerError.js"
import { DockerTest, DockerTestControl } from "../../src/docker/DockerTest.js"
import type { NetworkInfo } from "../../src/docker/Model.js"
import {
  coveringCidr,
  DockerRuntime,
  deckyContainerSpec,
  deckyMac,
  deckyPorts,
  IPVLAN_HELPER,
  LABEL_DECKY,
  LABEL_SERVICE,
  LABEL_SERVICES,
  LABEL_SPEC,
  LAN_NETWORK,
  lanDecision,
  lanNetworkSpec,
  MACVLAN_HELPER
} from "../../src/fleet/DockerRuntime.js"
import { startupOf } from "../../src/fleet/DeckyContainer.js"
import {
  HostNetwork,
  HostNetworkError,
  HostNetworkRecorder,
  hasNetAdmin
} from "../../src/fleet/HostNetwork.js"
import { deckyImage } from "../../src/fleet/Images.js"
import { Decky, Deployment } from "../../src/fleet/Model.js"
import { DeckyRuntime } from "../../src/fleet/Runtime.js"

type Slug = Decky["services"][number]

const decky = (
  name: string,
  ip: string,
  services: readonly [Slug, ...Array<Slug>],
  extra: Partial<Decky> = {}
) =>
  new Decky({
    name,
    ip,
    services,
    distro: "debian",
    base_image: "decnet-base:bookworm",
    build_base: "decnet-base:bookworm",
    hostname: `host-${name}`,
    archetype: null,
    service_config: {},
    nmap_os: "linux",
    mutate_interval: null,
    last_mutated: 0,
    last_login_attempt: 0,
    host_uuid: null,
    ...extra
  })

const deployment = (deckies: ReadonlyArray<Decky>, extra: Partial<Deployment> = {}) => {
  const [first, ...rest] = deckies
  if (first === undefined) throw new Error("a deployment needs a decky")
  return new Deployment({
    mode: "unihost",
    runtime: "docker",
    interface: "eth9",
    subnet: "192.0.2.0/24",
    gateway: "192.0.2.1",
    deckies: [first, ...rest],
    log_file: null,
    ipvlan: false,
    mutate_interval: null,
    ...extra
  })
}

const a = decky("decky-01", "192.0.2.10", ["ssh", "redis"])
const b = decky("decky-02", "192.0.2.11", ["smb", "rdp"], { nmap_os: "windows" })
const ipInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0)

describe("planning", () => {
  it("coveringCidr: the tightest prefix holding every address", () => {
    expect(coveringCidr(["10.0.0.5"])).toBe("10.0.0.5/32")
    expect(coveringCidr(["10.213.77.10", "10.213.77.11", "10.213.77.12"])).toBe("10.213.77.8/29")
    expect(coveringCidr(["192.168.1.0", "192.168.1.255"])).toBe("192.168.1.0/24")
    expect(coveringCidr(["0.0.0.0", "255.255.255.255"])).toBe("0.0.0.0/0")
  })

  it("coveringCidr (property): covers every address, and one bit longer would not", () => {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
    fc.assert(
      fc.property(ip, fc.array(ip, { maxLength: 8 }), (first, rest) => {
        const [net = "", bits = ""] = coveringCidr([first, ...rest]).split("/")
        const prefix = Number(bits)
        const within = (p: number, x: string) => p === 0 || ipInt(x) >>> (32 - p) === ipInt(net) >>> (32 - p)
        const all = [first, ...rest]
        expect(all.every((x) => within(prefix, x))).toBe(true)
        if (prefix < 32) expect(all.every((x) => within(prefix + 1, x))).toBe(false)
      })
    )
  })

  it("deckyMac: stable per name, locally administered unicast, different across names", () => {
    expect(deckyMac("decky-01")).toBe(deckyMac("decky-01"))
    expect(deckyMac("decky-01")).not.toBe(deckyMac("decky-02"))
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (name) => {
        const mac = deckyMac(name)
        expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
        const first = Number.parseInt(mac.slice(0, 2), 16)
        expect(first & 0x02).toBe(0x02) // locally administered
        expect(first & 0x01).toBe(0) // unicast
      })
    )
  })

  it("the LAN network: macvlan (or ipvlan l2) on the parent, with the deckies' ip-range", () => {
    expect(lanNetworkSpec(deployment([a, b]))).toEqual({
      name: LAN_NETWORK,
      driver: "macvlan",
      options: { parent: "eth9" },
      ipam: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1", ipRange: "192.0.2.10/31" }],
      labels: { "decnet.fleet.network": "true" }
    })
    expect(lanNetworkSpec(deployment([a], { ipvlan: true }))).toMatchObject({
      driver: "ipvlan",
      options: { parent: "eth9", ipvlan_mode: "l2" }
    })
  })

  it("the container: decnet decky with every service, IP + MAC, persona sysctls, labels, rotation, restart", () => {
    const withConfig = decky("decky-01", "192.0.2.10", ["ssh", "redis"], {
      // ftp's config is left over from before a mutation: not passed (decnet decky would refuse it).
      service_config: { ssh: { password: "hunter2" }, ftp: { banner: "x" } }
    })
    const { spec, hash } = deckyContainerSpec(withConfig, deployment([withConfig]), {
      ref: deckyImage("debian"),
      id: "sha256:1"
    })
    expect(spec).toMatchObject({
      image: "decnet-decky:debian",
      name: "decky-01",
      hostname: "host-decky-01",
      env: { NODE_NAME: "decky-01" },
      networks: [[LAN_NETWORK, { ipv4Address: "192.0.2.10", macAddress: deckyMac("decky-01") }]],
      sysctls: osSysctls("linux"),
      capAdd: ["NET_BIND_SERVICE"],
      restartPolicy: "unless-stopped",
      logConfig: { type: "json-file", config: { "max-size": "10m", "max-file": "5" } },
      labels: {
        [LABEL_SERVICE]: "true",
        [LABEL_DECKY]: "decky-01",
        [LABEL_SERVICES]: "ssh,redis",
        [LABEL_SPEC]: hash
      }
    })
    const cmd = spec.cmd ?? []
    expect(cmd.slice(0, 9)).toEqual([
      "decky",
      "--services",
      "ssh,redis",
      "--host",
      "192.0.2.10",
      "--name",
      "decky-01",
      "--hostname",
      "host-decky-01"
    ])
    expect(JSON.parse(cmd[cmd.indexOf("--config") + 1] ?? "")).toEqual({ ssh: { password: "hunter2" } })
    expect(cmd[cmd.indexOf("--instance-id") + 1]).toMatch(/^[0-9a-f]{16}$/)
    // No planted files: no --files; with some, the list goes to the container as JSON.
    expect(cmd).not.toContain("--files")
    const planted = new Decky({
      ...withConfig,
      files: [{ path: "/root/notes.txt", content_b64: "aGk=", mode: 420, mtime: null }]
    })
    const withFiles = deckyContainerSpec(planted, deployment([planted]), {
      ref: deckyImage("debian"),
      id: "sha256:1"
    })
    const fcmd = withFiles.spec.cmd ?? []
    expect(JSON.parse(fcmd[fcmd.indexOf("--files") + 1] ?? "")).toEqual([
      { path: "/root/notes.txt", content_b64: "aGk=", mode: 420, mtime: null }
    ])
    expect(withFiles.hash).not.toBe(hash)
    // The same decky and image → the same hash; other services or another image → another.
    const image = { ref: deckyImage("debian"), id: "sha256:1" }
    expect(deckyContainerSpec(withConfig, deployment([withConfig]), image).hash).toBe(hash)
    expect(
      deckyContainerSpec(withConfig, deployment([withConfig]), { ...image, id: "sha256:2" }).hash
    ).not.toBe(hash)
    const mutated = new Decky({ ...withConfig, services: ["ssh", "ftp"] })
    expect(deckyContainerSpec(mutated, deployment([mutated]), image).hash).not.toBe(hash)
    // A windows persona: TTL 128; ipvlan: no MAC of its own.
    expect(deckyContainerSpec(b, deployment([b]), image).spec.sysctls?.["net.ipv4.ip_default_ttl"]).toBe(
      "128"
    )
    expect(deckyContainerSpec(a, deployment([a], { ipvlan: true }), image).spec.networks).toEqual([
      [LAN_NETWORK, { ipv4Address: "192.0.2.10" }]
    ])
  })

  it("bound ports: every known port of every service on the decky's address", () => {
    expect(deckyPorts(["ssh", "smb", "tftp"], "192.0.2.10")).toEqual([
      { service: "ssh", proto: "tcp", known: 22, host: "192.0.2.10", port: 22 },
      { service: "smb", proto: "tcp", known: 445, host: "192.0.2.10", port: 445 },
      { service: "smb", proto: "tcp", known: 139, host: "192.0.2.10", port: 139 },
      { service: "tftp", proto: "udp", known: 69, host: "192.0.2.10", port: 69 }
    ])
  })

  it("startup lines: the service that announced itself as this decky", () => {
    const line =
      "<134>1 2026-01-01T00:00:00.000000+00:00 decky-01 redis - startup [relay@55555] redis server starting"
    expect(startupOf(line, "decky-01")).toEqual(Option.some("redis"))
    expect(startupOf(line, "decky-02")).toEqual(Option.none())
    expect(startupOf(line.replace(" startup ", " connect "), "decky-01")).toEqual(Option.none())
  })

  it("CAP_NET_ADMIN from /proc/self/status", () => {
    expect(hasNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n")).toBe(true)
    expect(hasNetAdmin("CapEff:\t0000000000000000\n")).toBe(false)
    expect(hasNetAdmin("CapEff:\t0000000000001000\n")).toBe(true)
  })
})

describe("network decisions (spec §2)", () => {
  const wanted = lanNetworkSpec(deployment([a, b]))
  const net = (over: Partial<NetworkInfo> = {}, containers = 0): NetworkInfo => ({
    Id: "n1",
    Name: LAN_NETWORK,
    Driver: "macvlan",
    Scope: "local",
    Internal: false,
    Attachable: false,
    EnableIPv6: false,
    Labels: {},
    Options: { parent: "eth9" },
    IPAM: {
      Driver: "default",
      Config: [{ Subnet: "192.0.2.0/24", Gateway: "192.0.2.1", IPRange: "192.0.2.10/31" }]
    },
    Containers: Object.fromEntries(
      Array.from({ length: containers }, (_, i) => [
        `c${i}`,
        { Name: `decky-${i}`, EndpointID: "e", MacAddress: "", IPv4Address: "", IPv6Address: "" }
      ])
    ),
    ...over
  })
  const drifted = {
    IPAM: {
      Driver: "default",
      Config: [{ Subnet: "192.0.2.0/24", Gateway: "192.0.2.1", IPRange: "192.0.2.0/28" }]
    }
  }

  it("absent → create; same driver, parent and pool → reuse", () => {
    expect(lanDecision(Option.none(), wanted)).toBe("create")
    expect(lanDecision(Option.some(net()), wanted)).toBe("reuse")
    expect(lanDecision(Option.some(net({}, 2)), wanted)).toBe("reuse")
  })

  it("drift: kept as it is while it has containers, recreated without", () => {
    expect(lanDecision(Option.some(net(drifted, 1)), wanted)).toBe("reuse-live")
    expect(lanDecision(Option.some(net(drifted)), wanted)).toBe("recreate")
    expect(lanDecision(Option.some(net({ Options: { parent: "eth0" } })), wanted)).toBe("recreate")
  })

  it("another driver is recreated even with containers (they are force-disconnected)", () => {
    expect(lanDecision(Option.some(net({ Driver: "ipvlan" }, 3)), wanted)).toBe("recreate")
  })
})

// ---- the runtime over the fakes --------------------------------------------------------------------

/** Startup lines for every service the spec's `decnet decky --services` names: the fake decky comes up. */
const startupLines = (spec: ContainerSpec) => {
  const cmd = spec.cmd ?? []
  const services = (cmd[cmd.indexOf("--services") + 1] ?? "").split(",")
  const name = cmd[cmd.indexOf("--name") + 1] ?? ""
  return services.map((s) => ({
    stream: "stdout" as const,
    line: `<134>1 2026-01-01T00:00:00.000000+00:00 ${name} ${s} - startup [relay@55555] ${s} server starting as ${name}`
  }))
}

/** `ip` as a machine with eth9 (192.0.2.254/24) would answer; links added and deleted are remembered. */
const ipMachine = () => {
  const links = new Map<string, { kind: string; parent: string }>()
  return (args: ReadonlyArray<string>) => {
    const line = args.join(" ")
    const show = /^-d -j link show dev (\S+)$/.exec(line)
    if (show !== null) {
      const l = links.get(show[1] ?? "")
      return l === undefined
        ? Effect.fail(new HostNetworkError({ args, code: 1, stderr: `Device "${show[1]}" does not exist.` }))
        : Effect.succeed(
            JSON.stringify([{ ifname: show[1], link: l.parent, linkinfo: { info_kind: l.kind } }])
          )
    }
    const add = /^link add (\S+) link (\S+) type (\S+)/.exec(line)
    if (add !== null) links.set(add[1] ?? "", { parent: add[2] ?? "", kind: add[3] ?? "" })
    const del = /^link del dev (\S+)$/.exec(line)
    if (del !== null) links.delete(del[1] ?? "")
    if (line === "-4 -o addr show dev eth9")
      return Effect.succeed("2: eth9    inet 192.0.2.254/24 brd 192.0.2.255 scope global eth9\n")
    return Effect.succeed("")
  }
}

const world = (options: { logs?: boolean; canAdmin?: boolean; images?: ReadonlyArray<string> } = {}) =>
  Effect.gen(function* () {
    const host = yield* HostNetworkRecorder(ipMachine(), options.canAdmin ?? true)
    const docker = DockerTest({
      images: options.images ?? [deckyImage("debian")],
      ...(options.logs === false ? {} : { logsFor: startupLines })
    })
    const layer = DockerRuntime({ readyTimeout: "300 millis" }).pipe(
      Layer.provideMerge(Layer.merge(docker, Layer.succeed(HostNetwork, host.service)))
    )
    return { layer, ipCalls: Effect.map(host.calls, (cs) => cs.map((c) => c.join(" "))) }
  })

describe("the runtime (recorded Docker fake, recorded ip)", () => {
  it.effect(
    "prepare: the opposite helper goes first, then the helper with the host IP and the route, then the network",
    () =>
      Effect.gen(function* () {
        const w = yield* world()
        const d = deployment([a, b])
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          const control = yield* DockerTestControl
          yield* runtime.prepare(d)
          const nets = (yield* control.snapshot).networks.filter((n) => n.Name === LAN_NETWORK)
          expect(nets.map((n) => [n.Driver, n.Options, n.IPAM.Config])).toEqual([
            [
              "macvlan",
              { parent: "eth9" },
              [{ Subnet: "192.0.2.0/24", Gateway: "192.0.2.1", IPRange: "192.0.2.10/31" }]
            ]
          ])
          const calls = yield* w.ipCalls
          expect(calls).toEqual([
            "link show dev eth9",
            "-4 -o addr show dev eth9",
            `-d -j link show dev ${IPVLAN_HELPER}`,
            `-d -j link show dev ${MACVLAN_HELPER}`,
            `link add ${MACVLAN_HELPER} link eth9 type macvlan mode bridge`,
            `-4 -o addr show dev ${MACVLAN_HELPER}`,
            `addr flush dev ${MACVLAN_HELPER}`,
            `addr add 192.0.2.254/32 dev ${MACVLAN_HELPER}`,
            `link set dev ${MACVLAN_HELPER} up`,
            `-4 -o route show dev ${MACVLAN_HELPER}`,
            `route replace 192.0.2.10/31 dev ${MACVLAN_HELPER}`
          ])
          // Again: the network is reused, not created twice.
          yield* runtime.prepare(d)
          const creates = (yield* control.calls).filter((c) => c.op === "createNetwork")
          expect(creates.length).toBe(1)
        }).pipe(Effect.provide(w.layer))
      })
  )

  it.effect(
    "prepare: a drifted network without containers is removed and recreated; with them it is kept",
    () =>
      Effect.gen(function* () {
        const w = yield* world()
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          const control = yield* DockerTestControl
          yield* runtime.prepare(deployment([a]))
          const first = (yield* control.snapshot).networks.find((n) => n.Name === LAN_NETWORK)?.Id
          yield* runtime.up(a, deployment([a]))
          yield* runtime.prepare(deployment([a, b]))
          const kept = (yield* control.snapshot).networks.find((n) => n.Name === LAN_NETWORK)
          expect([kept?.Id, kept?.IPAM.Config[0]?.IPRange]).toEqual([first, "192.0.2.10/32"])
          yield* runtime.down(a.name)
          yield* runtime.prepare(deployment([a, b]))
          const recreated = (yield* control.snapshot).networks.find((n) => n.Name === LAN_NETWORK)
          expect(recreated?.Id).not.toBe(first)
          expect(recreated?.IPAM.Config[0]?.IPRange).toBe("192.0.2.10/31")
        }).pipe(Effect.provide(w.layer))
      })
  )

  it.effect("prepare without root or CAP_NET_ADMIN fails with a clear error and changes nothing", () =>
    Effect.gen(function* () {
      const w = yield* world({ canAdmin: false })
      yield* Effect.gen(function* () {
        const r = yield* Effect.either((yield* DeckyRuntime).prepare(deployment([a])))
        expect(Either.isLeft(r) && r.left.message).toMatch(/needs root or CAP_NET_ADMIN/)
        expect(yield* w.ipCalls).toEqual([])
        expect((yield* (yield* DockerTestControl).calls).length).toBe(0)
      }).pipe(Effect.provide(w.layer))
    })
  )

  it.effect(
    "up: one container per decky; the same spec is kept, other services replace it; down removes it",
    () =>
      Effect.gen(function* () {
        const w = yield* world()
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          const control = yield* DockerTestControl
          const d = deployment([a, b])
          yield* runtime.prepare(d)
          const ports = yield* runtime.up(a, d)
          expect(ports.map((p) => `${p.service} ${p.host}:${p.port}`)).toEqual([
            "ssh 192.0.2.10:22",
            "redis 192.0.2.10:6379"
          ])
          const before = (yield* control.snapshot).containers.find((c) => c.Name === "/decky-01")
          yield* runtime.up(a, d)
          const creates = () =>
            Effect.map(control.calls, (cs) => cs.filter((c) => c.op === "createContainer").length)
          expect(yield* creates()).toBe(1)
          yield* runtime.up(new Decky({ ...a, services: ["ssh", "ftp"] }), d)
          expect(yield* creates()).toBe(2)
          const after = (yield* control.snapshot).containers.filter((c) => c.Name === "/decky-01")
          expect(after.length).toBe(1)
          expect(after[0]?.Id).not.toBe(before?.Id)
          expect(after[0]?.Config.Labels[LABEL_SERVICES]).toBe("ssh,ftp")
          expect(after[0]?.NetworkSettings.MacAddress).toBe(deckyMac("decky-01"))

          const status = yield* runtime.status
          expect(status.map((s) => [s.name, s.state, s.services.map((x) => x.state)])).toEqual([
            ["decky-01", "running", ["running", "running"]]
          ])
          yield* runtime.down("decky-01")
          yield* runtime.down("decky-01")
          expect((yield* control.snapshot).containers).toEqual([])
        }).pipe(Effect.provide(w.layer))
      })
  )

  it.effect(
    "up: a distro without an image runs on the debian one; no image at all says how to build it",
    () =>
      Effect.gen(function* () {
        const w = yield* world()
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          const control = yield* DockerTestControl
          const ubuntu = decky("decky-03", "192.0.2.12", ["redis"], { distro: "ubuntu22" })
          yield* runtime.prepare(deployment([ubuntu]))
          yield* runtime.up(ubuntu, deployment([ubuntu]))
          const c = (yield* control.snapshot).containers.find((x) => x.Name === "/decky-03")
          expect(c?.Config.Image).toBe(deckyImage("debian"))
        }).pipe(Effect.provide(w.layer))
        const empty = yield* world({ images: [] })
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          yield* runtime.prepare(deployment([a]))
          const r = yield* Effect.either(runtime.up(a, deployment([a])))
          expect(Either.isLeft(r) && r.left.message).toMatch(
            /decnet-decky:debian is missing; build it with: decnet images build/
          )
        }).pipe(Effect.provide(empty.layer))
      })
  )

  it.effect("up: a container that cannot start is removed again (nothing of the decky is left)", () =>
    Effect.gen(function* () {
      const w = yield* world()
      yield* Effect.gen(function* () {
        const runtime = yield* DeckyRuntime
        const control = yield* DockerTestControl
        yield* runtime.prepare(deployment([a]))
        yield* control.failNext(
          "startContainer",
          new DockerError({ op: "startContainer", reason: "engine", message: "Address already in use" })
        )
        const r = yield* Effect.either(runtime.up(a, deployment([a])))
        expect(Either.isLeft(r) && r.left.message).toBe("decky-01: start: Address already in use")
        expect((yield* control.snapshot).containers).toEqual([])
      }).pipe(Effect.provide(w.layer))
    })
  )

  it.live("up: a decky whose services never start is rolled back, naming what is missing", () =>
    Effect.gen(function* () {
      const w = yield* world({ logs: false })
      yield* Effect.gen(function* () {
        const runtime = yield* DeckyRuntime
        const control = yield* DockerTestControl
        yield* runtime.prepare(deployment([a]))
        const r = yield* Effect.either(runtime.up(a, deployment([a])))
        expect(Either.isLeft(r) && r.left.message).toMatch(
          /decky-01: not every service started within .* \(missing: ssh, redis\)/
        )
        expect((yield* control.snapshot).containers).toEqual([])
      }).pipe(Effect.provide(w.layer))
    })
  )

  it.effect("down refuses a container of that name that DECNET did not make", () =>
    Effect.gen(function* () {
      const w = yield* world()
      yield* Effect.gen(function* () {
        const runtime = yield* DeckyRuntime
        const control = yield* DockerTestControl
        const docker = yield* Docker
        yield* docker.createContainer({ image: deckyImage("debian"), name: "decky-09", networkMode: "none" })
        const r = yield* Effect.either(runtime.down("decky-09"))
        expect(Either.isLeft(r) && r.left.message).toMatch(/not a DECNET decky/)
        expect((yield* control.snapshot).containers.length).toBe(1)
      }).pipe(Effect.provide(w.layer))
    })
  )

  it.effect(
    "status: a stopped container is failed; release refuses while deckies are attached, then removes all",
    () =>
      Effect.gen(function* () {
        const w = yield* world()
        yield* Effect.gen(function* () {
          const runtime = yield* DeckyRuntime
          const control = yield* DockerTestControl
          const d = deployment([a])
          yield* runtime.prepare(d)
          yield* runtime.up(a, d)
          yield* control.exitContainer("decky-01", 1)
          const [s] = yield* runtime.status
          expect([s?.state, s?.error]).toEqual(["failed", expect.stringMatching(/^container exited/)])
          const refused = yield* Effect.either(runtime.release(d))
          expect(Either.isLeft(refused) && refused.left.message).toMatch(/still has containers \(decky-01\)/)
          yield* runtime.down("decky-01")
          yield* runtime.release(d)
          expect((yield* control.snapshot).networks.some((n) => n.Name === LAN_NETWORK)).toBe(false)
          expect(yield* w.ipCalls).toContain(`route del 192.0.2.10/32 dev ${MACVLAN_HELPER}`)
        }).pipe(Effect.provide(w.layer))
      })
  )
})
