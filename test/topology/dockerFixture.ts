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
import type { DeckyRow, EdgeRow, LanRow, TopologyDetail } from "../../src/topology/Model.js"

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
