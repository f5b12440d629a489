// A depth-2, branching-2 topology built by hand, shaped as the generator shapes one (spec §2: LAN-00 the
// DMZ with one home decky; each child LAN's bridge homed in it and attached to its parent), for the Docker
// runtime's tests. Every child bridge forwards except LAN-06's, so routing through forwarders, between two
// child LANs and around a non-forwarding bridge are all there:
//
//   LAN-00 (DMZ)  decky-001                 ← decky-002 (LAN-01 gw), decky-004 (LAN-02 gw)
//   LAN-01        decky-002 gw, decky-003   ← decky-005 (LAN-03 gw), decky-007 (LAN-04 gw)
//   LAN-02        decky-004 gw              ← decky-008 (LAN-05 gw), decky-009 (LAN-06, not forwarding)
//   LAN-03        decky-005 gw, decky-006
//   LAN-04        decky-007 gw
//   LAN-05        decky-008 gw
//   LAN-06        decky-009 (bridge, no forwarding)
import { Effect } from "effect"
import { Docker } from "../../src/docker/Docker.js"
import { containerName } from "../../src/docker/Model.js"
import { deckyImage } from "../../src/fleet/Images.js"
import {
  baseContainerName,
  DOCKER_USER,
  networkName,
  parseChainRules
} from "../../src/topology/DockerTopologyPlan.js"
import type { DeckyRow, EdgeRow, LanRow, TopologyDetail } from "../../src/topology/Model.js"
import { spawnAsync } from "../support/spawn.js"

export interface FixtureDecky {
  readonly name: string
  readonly services: ReadonlyArray<string>
  /** LAN name → host octet, home LAN first. */
  readonly on: ReadonlyArray<readonly [lan: string, octet: number]>
  readonly forwards: boolean
}

export const FIXTURE_LANS: ReadonlyArray<readonly [name: string, third: number]> = [
  ["LAN-00", 0],
  ["LAN-01", 1],
  ["LAN-02", 2],
  ["LAN-03", 3],
  ["LAN-04", 4],
  ["LAN-05", 5],
  ["LAN-06", 6]
]

export const FIXTURE_DECKIES: ReadonlyArray<FixtureDecky> = [
  { name: "decky-001", services: ["ssh", "http"], on: [["LAN-00", 2]], forwards: false },
  {
    name: "decky-002",
    services: ["redis"],
    on: [
      ["LAN-01", 2],
      ["LAN-00", 3]
    ],
    forwards: true
  },
  { name: "decky-003", services: ["ssh"], on: [["LAN-01", 3]], forwards: false },
  {
    name: "decky-004",
    services: ["redis"],
    on: [
      ["LAN-02", 2],
      ["LAN-00", 4]
    ],
    forwards: true
  },
  {
    name: "decky-005",
    services: ["redis"],
    on: [
      ["LAN-03", 2],
      ["LAN-01", 4]
    ],
    forwards: true
  },
  { name: "decky-006", services: ["ssh"], on: [["LAN-03", 3]], forwards: false },
  {
    name: "decky-007",
    services: ["redis"],
    on: [
      ["LAN-04", 2],
      ["LAN-01", 5]
    ],
    forwards: true
  },
  {
    name: "decky-008",
    services: ["redis"],
    on: [
      ["LAN-05", 2],
      ["LAN-02", 3]
    ],
    forwards: true
  },
  {
    name: "decky-009",
    services: ["redis"],
    on: [
      ["LAN-06", 2],
      ["LAN-02", 4]
    ],
    forwards: false
  }
]

/** The topology as `hydrate` returns it, its LANs under `<net>.<third>.0/24` (e.g. net `10.231`). */
export const fixtureTopology = (
  topologyId: string,
  net: string,
  deckies: ReadonlyArray<FixtureDecky> = FIXTURE_DECKIES
): TopologyDetail => {
  const now = new Date(0)
  const subnetOf = new Map(FIXTURE_LANS.map(([name, third]) => [name, `${net}.${third}.0/24`]))
  const lans: Array<LanRow> = FIXTURE_LANS.map(([name]) => ({
    id: `lan:${name}`,
    topology_id: topologyId,
    name,
    subnet: subnetOf.get(name) ?? "",
    is_dmz: name === "LAN-00",
    docker_network_id: null,
    x: null,
    y: null
  }))
  const ipOf = (lan: string, octet: number) => `${net}.${FIXTURE_LANS.find(([n]) => n === lan)?.[1]}.${octet}`
  const rows: Array<DeckyRow> = deckies.map((d) => ({
    uuid: `decky:${d.name}`,
    topology_id: topologyId,
    name: d.name,
    services: d.services,
    decky_config: {
      name: d.name,
      services: d.services,
      ips_by_lan: Object.fromEntries(d.on.map(([lan, octet]) => [lan, ipOf(lan, octet)])),
      forwards_l3: d.forwards,
      service_config: {}
    },
    ip: d.on[0] === undefined ? null : ipOf(d.on[0][0], d.on[0][1]),
    state: "pending",
    last_error: null,
    x: null,
    y: null
  }))
  const edges: Array<EdgeRow> = deckies.flatMap((d) =>
    d.on.map(([lan]) => ({
      id: `edge:${d.name}:${lan}`,
      topology_id: topologyId,
      decky_uuid: `decky:${d.name}`,
      lan_id: `lan:${lan}`,
      is_bridge: d.on.length > 1,
      forwards_l3: d.forwards
    }))
  )
  return {
    topology: {
      id: topologyId,
      name: `fixture-${topologyId.slice(0, 8)}`,
      mode: "unihost",
      target_host_uuid: null,
      status: "deploying",
      version: 1,
      needs_resync: false,
      created_at: now,
      status_changed_at: now,
      email_personas: "[]",
      language_default: "en"
    },
    lans,
    deckies: rows,
    edges
  }
}

/** The address of `decky` on `lan` in a fixture topology. */
export const ipOn = (topology: TopologyDetail, decky: string, lan: string): string => {
  const ip = topology.deckies.find((d) => d.name === decky)?.decky_config?.ips_by_lan?.[lan]
  if (ip === undefined) throw new Error(`${decky} has no address on ${lan}`)
  return ip
}

/** A TCP exchange from inside a namespace: connect, send, print what came back up to the first newline. */
export const TCP_CLIENT = `
const net = require("node:net")
const [host, port, send] = process.argv.slice(1)
const s = net.connect({ host, port: Number(port), timeout: 4000 })
let out = ""
s.on("connect", () => { if (send) s.write(send) })
s.on("data", (d) => { out += d; if (out.includes("\\n")) { process.stdout.write(out.split("\\n")[0]); process.exit(0) } })
s.on("timeout", () => { process.stderr.write("timeout"); process.exit(2) })
s.on("error", (e) => { process.stderr.write(e.code || e.message); process.exit(1) })
`

/** The DOCKER-USER rules whose comment starts with `prefix`. */
export const iptablesRules = async (prefix: string) => {
  const listed = await spawnAsync("iptables", ["-w", "-S", DOCKER_USER])
  return parseChainRules(listed.stdout).filter((r) => r.comment.startsWith(prefix))
}

/** Runs an effect needing the engine (a test file's ManagedRuntime). */
export type RunDocker = <A, E>(effect: Effect.Effect<A, E, Docker>) => Promise<A>

/** Probes into a deployed topology's containers, from inside their namespaces (nsenter, as root). */
export const dockerProbes = (run: RunDocker, topologyId: string) => {
  const pidOf = async (container: string) => {
    const c = await run(Effect.flatMap(Docker, (d) => d.inspectContainer(container)))
    if (!c.State.Running) throw new Error(`${container} is not running (${c.State.Status})`)
    return c.State.Pid
  }
  const inNetns = async (decky: string, argv: ReadonlyArray<string>, timeout = 15_000) =>
    spawnAsync(
      "nsenter",
      [`--net=/proc/${await pidOf(baseContainerName(topologyId, decky))}/ns/net`, ...argv],
      {
        timeout
      }
    )
  /** The first line a TCP server at ip:port answers `from` a decky (after `send`), or the error. */
  const tcp = async (from: string, ip: string, port: number, send = "") => {
    const r = await inNetns(from, [process.execPath, "-e", TCP_CLIENT, ip, String(port), send])
    return r.status === 0 ? r.stdout : `error: ${r.stderr || r.status}`
  }
  const ping = async (from: string, ip: string) =>
    (await inNetns(from, ["busybox", "ping", "-c", "1", "-W", "2", ip])).status === 0
  const routesOf = async (decky: string) =>
    (await inNetns(decky, ["ip", "-4", "route", "show"])).stdout
      .split("\n")
      .filter((l) => l.includes(" via ") && !l.startsWith("default"))
      .map((l) => l.trim())
  /** Network name → address of a decky's base container, as the engine has it. */
  const engineMemberships = async (decky: string) => {
    const c = await run(
      Effect.flatMap(Docker, (d) => d.inspectContainer(baseContainerName(topologyId, decky)))
    )
    return Object.fromEntries(
      Object.entries(c.NetworkSettings.Networks).map(([net, ep]) => [net, ep.IPAddress])
    )
  }
  /** Network name → address a decky's row asks for. */
  const wanted = (row: DeckyRow) =>
    Object.fromEntries(
      Object.entries(row.decky_config?.ips_by_lan ?? {}).map(([lan, ip]) => [
        networkName(topologyId, lan),
        ip
      ])
    )
  /** Names of the containers and networks left with the topology's prefix. */
  const leftovers = () => {
    const prefix = `decnet_t_${topologyId.slice(0, 8)}_`
    return run(
      Effect.gen(function* () {
        const docker = yield* Docker
        const cs = yield* docker.listContainers({ name: prefix, all: true })
        const ns = yield* docker.listNetworks({ name: prefix })
        return [...cs.map(containerName), ...ns.map((n) => n.Name)]
      })
    )
  }
  /** Removes every container, network and DOCKER-USER rule with the topology's prefix; quiet. */
  const sweep = async () => {
    const prefix = `decnet_t_${topologyId.slice(0, 8)}_`
    await run(
      Effect.gen(function* () {
        const docker = yield* Docker
        const cs = yield* docker.listContainers({ name: prefix, all: true })
        for (const c of cs) yield* docker.removeContainer(c.Id, { force: true }).pipe(Effect.ignore)
        const ns = yield* docker.listNetworks({ name: prefix })
        for (const n of ns) yield* docker.removeNetwork(n.Id).pipe(Effect.ignore)
      })
    ).catch(() => {})
    for (const r of await iptablesRules(prefix).catch(() => []))
      await spawnAsync("iptables", ["-w", "-D", DOCKER_USER, ...r.spec])
  }
  return { pidOf, inNetns, tcp, ping, routesOf, engineMemberships, wanted, leftovers, sweep }
}

/** A plain container on a network of its own outside every topology, for isolation checks; returns its removal. */
export const outsideBox = async (run: RunDocker, name: string, subnet: string, ip: string) => {
  const remove = () =>
    run(
      Effect.gen(function* () {
        const docker = yield* Docker
        yield* docker.removeContainer(name, { force: true }).pipe(Effect.ignore)
        yield* docker.removeNetwork(name).pipe(Effect.ignore)
      })
    ).catch(() => {})
  await run(
    Effect.gen(function* () {
      const docker = yield* Docker
      yield* docker.createNetwork({ name, ipam: [{ subnet }] })
      const id = yield* docker.createContainer({
        image: deckyImage("debian"),
        name,
        entrypoint: ["/bin/sleep"],
        cmd: ["infinity"],
        networks: [[name, { ipv4Address: ip }]]
      })
      yield* docker.startContainer(id)
    })
  )
  return remove
}
