/**
 * What the Docker topology runtime makes of a hydrated topology, as pure functions: resource names and
 * labels (spec/topology.md §6), the LAN networks, each decky's two containers, the routes through the
 * L3 forwarders, the DOCKER-USER rules, the teardown order and the reaper's prefix. `DockerTopology.ts`
 * applies them to the engine; the unit tests check them without one.
 *
 * A decky is two containers: the base (`decnet_t_<id8>_<decky>`, `sleep infinity`) owns the network
 * namespace (one address per LAN, NET_ADMIN, ip_forward, the routes), and the services container
 * (`…<decky>.svc`) runs `decnet decky` with all of the decky's services in that namespace, as the
 * fleet's one-process decky does. Routes and memberships live in the base, so they outlast a restart or
 * a service change of the services container.
 */
import { Either, Option, Schema } from "effect"
import type { ContainerSpec, PortBinding } from "../docker/Docker.js"
import { deckyLabelNames, deckyProcessSpec, LOG_OPTIONS, servicePorts } from "../fleet/DeckyContainer.js"
import { formatCidr, parseCidr, parseIpv4 } from "./Ipv4.js"
import type { DeckyRow, LanRow, TopologyDetail } from "./Model.js"
import { byName } from "./Order.js"
import { deckyNameOf, id8, runnableServices, TopologyRuntimeError, topologyInstanceId } from "./Runtime.js"

// ---- names and labels ----------------------------------------------------------------------------------

/** Every container and network of a topology starts with this, then `<id8>_` (the reaper's key). */
export const NAME_PREFIX = "decnet_t_"
/** The services container is the base's name plus this (decky names cannot contain a dot). */
export const SERVICES_SUFFIX = ".svc"

const DECKY_LABELS = deckyLabelNames("decnet.topology")
export const LABEL_TOPOLOGY = "decnet.topology.id"
export const LABEL_DECKY = DECKY_LABELS.decky
/** `base` (the namespace holder) or `services` (`decnet decky`). */
export const LABEL_ROLE = "decnet.topology.role"
/** `true` on the services container: the collector follows its stdout (src/collector/DockerSource.ts). */
export const LABEL_SERVICE = DECKY_LABELS.service
/** The services the container runs, comma-separated, in the decky's order. */
export const LABEL_SERVICES = DECKY_LABELS.services
/** On a LAN network: the LAN's name as the topology spells it. */
export const LABEL_LAN = "decnet.topology.lan"

/** The chain dockerd evaluates first in FORWARD and never rewrites: where an operator's rules go. */
export const DOCKER_USER = "DOCKER-USER"

export { id8 }
export const namePrefix = (topologyId: string): string => `${NAME_PREFIX}${id8(topologyId)}_`
export const networkName = (topologyId: string, lan: string): string =>
  `${namePrefix(topologyId)}${lan.toLowerCase()}`
export const baseContainerName = (topologyId: string, decky: string): string =>
  `${namePrefix(topologyId)}${decky}`
export const servicesContainerName = (topologyId: string, decky: string): string =>
  `${baseContainerName(topologyId, decky)}${SERVICES_SUFFIX}`

const PREFIX_RE = /^decnet_t_([0-9a-f]{8})_/
/** The topology prefix (`id[:8]`) a resource name carries, if it is one of ours. */
export const prefixOf = (name: string): Option.Option<string> =>
  Option.fromNullable(PREFIX_RE.exec(name)?.[1])

// ---- addresses -------------------------------------------------------------------------------------------

/** `a.b.c.d/p` with its host bits cleared (what the kernel shows as a route's `dst`). */
export const canonicalSubnet = (cidr: string): Option.Option<string> =>
  Option.map(parseCidr(cidr.trim(), { strict: false }), formatCidr)

// ---- the plan --------------------------------------------------------------------------------------------

export interface LanPlan {
  readonly name: string
  readonly network: string
  /** Canonical CIDR. */
  readonly subnet: string
  /** Every LAN but the DMZ is `internal` (no way out of the engine's host). */
  readonly internal: boolean
}

export interface DeckyPlan {
  readonly name: string
  readonly base: string
  readonly servicesContainer: string
  /** What `decnet decky` runs: the decky's services that have an emulator; empty: the base alone. */
  readonly services: ReadonlyArray<string>
  /** The decky's services left out: fleet singletons and catalog services not emulated yet. */
  readonly skipped: ReadonlyArray<string>
  /** Per-service config for those services only (`decnet decky` refuses config for others). */
  readonly serviceConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  /** One address per LAN, the home LAN first (the container's primary network). */
  readonly addresses: ReadonlyArray<{ readonly lan: string; readonly network: string; readonly ip: string }>
  readonly forwardsL3: boolean
}

export interface TopologyPlan {
  readonly topologyId: string
  readonly lans: ReadonlyArray<LanPlan>
  readonly deckies: ReadonlyArray<DeckyPlan>
}

/** Docker's name grammar without the dot, which the services container's suffix needs for itself. */
const DECKY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/
const LAN_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/

const refuse = (target: string | null, message: string) =>
  Either.left(new TopologyRuntimeError({ target, message }))

export const planLan = (topologyId: string, lan: LanRow): Either.Either<LanPlan, TopologyRuntimeError> => {
  const lower = lan.name.toLowerCase()
  if (!LAN_NAME.test(lower))
    return refuse(
      lan.name,
      `LAN '${lan.name}' cannot name a Docker network: use letters, digits, '_', '.' and '-' (64 at most)`
    )
  return Option.match(canonicalSubnet(lan.subnet), {
    onNone: () => refuse(lan.name, `LAN '${lan.name}' has no valid IPv4 subnet ('${lan.subnet}')`),
    onSome: (subnet) =>
      Either.right({
        name: lan.name,
        network: networkName(topologyId, lan.name),
        subnet,
        internal: !lan.is_dmz
      })
  })
}

export const planDecky = (
  topology: TopologyDetail,
  decky: DeckyRow
): Either.Either<DeckyPlan, TopologyRuntimeError> => {
  const topologyId = topology.topology.id
  const name = deckyNameOf(decky)
  if (!DECKY_NAME.test(name))
    return refuse(
      name,
      `decky '${name}' cannot name a Docker container: use letters, digits, '_' and '-' (64 at most, no '.')`
    )
  const config = decky.decky_config
  const ips = Object.entries(config?.ips_by_lan ?? {})
  if (ips.length === 0) return refuse(name, `decky '${name}' has no address on any LAN (ips_by_lan is empty)`)
  const addresses: Array<DeckyPlan["addresses"][number]> = []
  for (const [lanName, ip] of ips) {
    const lan = topology.lans.find((l) => l.name === lanName)
    if (lan === undefined) return refuse(name, `decky '${name}' references unknown LAN '${lanName}'`)
    if (Option.isNone(parseIpv4(ip)))
      return refuse(name, `decky '${name}' has no valid IPv4 address on '${lanName}'`)
    addresses.push({ lan: lanName, network: networkName(topologyId, lanName), ip })
  }
  // `decnet decky` refuses a slug it cannot run, which would take the decky's other services down with it.
  const { runnable: services, skipped } = runnableServices(decky.services)
  const serviceConfig = Object.fromEntries(
    Object.entries(config?.service_config ?? {}).filter(([slug]) => services.includes(slug))
  )
  const forwardsL3 =
    config?.forwards_l3 ?? topology.edges.some((e) => e.decky_uuid === decky.uuid && e.forwards_l3)
  return Either.right({
    name,
    base: baseContainerName(topologyId, name),
    servicesContainer: servicesContainerName(topologyId, name),
    services,
    skipped,
    serviceConfig,
    addresses,
    forwardsL3
  })
}

/** Plans the whole topology, or says which LAN or decky Docker cannot take, before any engine call. */
export const planTopology = (topology: TopologyDetail): Either.Either<TopologyPlan, TopologyRuntimeError> =>
  Either.gen(function* () {
    const topologyId = topology.topology.id
    if (!/^[0-9a-f]{8}/.test(topologyId))
      return yield* refuse(null, `topology id '${topologyId}' does not start with 8 hex digits (a uuid4)`)
    const lans: Array<LanPlan> = []
    for (const lan of topology.lans) {
      const plan = yield* planLan(topologyId, lan)
      const clash = lans.find((l) => l.network === plan.network)
      if (clash !== undefined)
        return yield* refuse(
          lan.name,
          `LANs '${clash.name}' and '${lan.name}' would share the network ${plan.network}`
        )
      lans.push(plan)
    }
    const deckies: Array<DeckyPlan> = []
    for (const decky of topology.deckies) deckies.push(yield* planDecky(topology, decky))
    return { topologyId, lans, deckies }
  })

// ---- routes ------------------------------------------------------------------------------------------------

export interface Route {
  /** Canonical CIDR. */
  readonly dst: string
  readonly via: string
}

/**
 * The routes each decky needs to reach every LAN it is not on through the L3 forwarders: a breadth-first
 * walk over the LANs from the decky's own, stepping through forwarding deckies (other than itself); each
 * LAN reached gets a route via the first forwarder on the way, at its address on the decky's LAN. Ties
 * go to the forwarder and LAN first by name, so the plan is the same on every run. In a tree (the
 * generator's default) the way back is the same path, so every flow is symmetric.
 */
export const planRoutes = (plan: TopologyPlan): ReadonlyMap<string, ReadonlyArray<Route>> => {
  const subnetOf = new Map(plan.lans.map((l) => [l.name, l.subnet]))
  const forwarders = plan.deckies.filter((d) => d.forwardsL3).sort(byName)
  const out = new Map<string, ReadonlyArray<Route>>()
  for (const decky of plan.deckies) {
    const own = decky.addresses.map((a) => a.lan).filter((l) => subnetOf.has(l))
    /** LAN → the next hop towards it (undefined for the decky's own LANs). */
    const hop = new Map<string, string | undefined>(own.map((l) => [l, undefined]))
    let frontier = [...own].sort()
    while (frontier.length > 0) {
      const next: Array<string> = []
      for (const lan of frontier) {
        for (const f of forwarders) {
          if (f.name === decky.name) continue
          const on = f.addresses.find((a) => a.lan === lan)
          if (on === undefined) continue
          const via = hop.get(lan) ?? on.ip
          for (const other of [...f.addresses].sort((a, b) => (a.lan < b.lan ? -1 : 1))) {
            if (hop.has(other.lan) || !subnetOf.has(other.lan)) continue
            hop.set(other.lan, via)
            next.push(other.lan)
          }
        }
      }
      frontier = next.sort()
    }
    const routes: Array<Route> = []
    for (const [lan, via] of hop) {
      const dst = subnetOf.get(lan)
      if (via !== undefined && dst !== undefined) routes.push({ dst, via })
    }
    out.set(
      decky.name,
      routes.sort((a, b) => (a.dst < b.dst ? -1 : 1))
    )
  }
  return out
}

/** The part of `ip -4 -j route show` the route sync reads. */
const IpRoutes = Schema.parseJson(
  Schema.Array(Schema.Struct({ dst: Schema.String, gateway: Schema.optional(Schema.String) }))
)
export const decodeRoutes = Schema.decodeUnknownEither(IpRoutes)

/**
 * What to change in a namespace whose `ip -j route` output is `current` to hold exactly `wanted` among
 * its gateway routes. Routes without a gateway (the connected subnets) and the default route (dockerd's)
 * are not ours and stay.
 */
export const routeChanges = (
  current: ReadonlyArray<{ readonly dst: string; readonly gateway?: string | undefined }>,
  wanted: ReadonlyArray<Route>
): { readonly replace: ReadonlyArray<Route>; readonly remove: ReadonlyArray<Route> } => {
  const have = new Map<string, string>()
  for (const r of current) {
    if (r.gateway === undefined || r.dst === "default") continue
    have.set(
      Option.getOrElse(canonicalSubnet(r.dst), () => r.dst),
      r.gateway
    )
  }
  const want = new Map(wanted.map((r) => [r.dst, r.via]))
  return {
    replace: wanted.filter((r) => have.get(r.dst) !== r.via),
    remove: [...have].filter(([dst]) => !want.has(dst)).map(([dst, via]) => ({ dst, via }))
  }
}

// ---- DOCKER-USER rules ---------------------------------------------------------------------------------

/**
 * The accept rule for one LAN's bridge: frames between two ports of the same bridge, whatever their
 * addresses. Docker drops a forwarded frame on an internal bridge whose source or destination is outside
 * the bridge's subnet; a forwarder's routed traffic is exactly that. Nothing between two bridges is
 * accepted, so the host itself never routes between LANs. The comment (the network's name) finds it again.
 */
export const bridgeRule = (bridge: string, comment: string): ReadonlyArray<string> => [
  "-i",
  bridge,
  "-o",
  bridge,
  "-m",
  "comment",
  "--comment",
  comment,
  "-j",
  "ACCEPT"
]

export interface ChainRule {
  /** The comment, i.e. the network name the rule was made for. */
  readonly comment: string
  /** The rule as `iptables -S` prints it, without `-A <chain>`: what `-D <chain>` takes. */
  readonly spec: ReadonlyArray<string>
}

/** Our rules in `iptables -S DOCKER-USER` output (comments starting with `decnet_t_`). */
export const parseChainRules = (listing: string): ReadonlyArray<ChainRule> =>
  listing.split("\n").flatMap((line) => {
    const words = line.trim().split(/\s+/)
    if (words[0] !== "-A" || words[1] !== DOCKER_USER) return []
    const at = words.indexOf("--comment")
    const comment = (words[at + 1] ?? "").replace(/^"|"$/g, "")
    return at >= 0 && comment.startsWith(NAME_PREFIX) ? [{ comment, spec: words.slice(2) }] : []
  })

/** The bridge interface of a bridge network: its `com.docker.network.bridge.name`, else `br-<id12>`. */
export const bridgeOf = (network: {
  readonly Id: string
  readonly Options: Readonly<Record<string, string>>
}) => network.Options["com.docker.network.bridge.name"] ?? `br-${network.Id.slice(0, 12)}`

// ---- containers ----------------------------------------------------------------------------------------------

export interface ContainerOptions {
  readonly image: string
  readonly stopTimeoutSeconds: number
  /** Publish a forwarding decky's service ports on this host address (spec §6 `ports`); none by default. */
  readonly publishHostIp?: string | undefined
}

/** Every known port of the services, published on `hostIp` as the same port (spec §6 `"p:p"`). */
export const publishedPorts = (services: ReadonlyArray<string>, hostIp: string): ReadonlyArray<PortBinding> =>
  servicePorts(services).map(
    (p): PortBinding => ({ containerPort: p.port, protocol: p.proto, hostIp, hostPort: p.port })
  )

/** The base: the decky's network namespace, on every LAN at its address, forwarding if it is a gateway. */
export const baseContainerSpec = (topologyId: string, d: DeckyPlan, o: ContainerOptions): ContainerSpec => ({
  image: o.image,
  name: d.base,
  hostname: d.name,
  entrypoint: ["/bin/sleep"],
  cmd: ["infinity"],
  labels: { [LABEL_TOPOLOGY]: topologyId, [LABEL_DECKY]: d.name, [LABEL_ROLE]: "base" },
  networks: d.addresses.map((a) => [a.network, { ipv4Address: a.ip }] as const),
  capAdd: ["NET_ADMIN"],
  ...(d.forwardsL3 ? { sysctls: { "net.ipv4.ip_forward": "1" } } : {}),
  ...(d.forwardsL3 && o.publishHostIp !== undefined
    ? { ports: publishedPorts(d.services, o.publishHostIp) }
    : {}),
  restartPolicy: "unless-stopped",
  logConfig: { type: "json-file", config: LOG_OPTIONS },
  // sleep ignores SIGTERM; the base is only ever removed with force.
  stopTimeoutSeconds: 1
})

/** The services: `decnet decky` in the base's namespace, listening on every address the decky has. */
export const servicesContainerSpec = (topologyId: string, d: DeckyPlan, o: ContainerOptions): ContainerSpec =>
  deckyProcessSpec(
    {
      image: o.image,
      container: d.servicesContainer,
      name: d.name,
      hostname: d.name,
      host: "0.0.0.0",
      services: d.services,
      config: d.serviceConfig,
      instanceId: topologyInstanceId(topologyId, d.name),
      labels: {
        [LABEL_TOPOLOGY]: topologyId,
        [LABEL_DECKY]: d.name,
        [LABEL_ROLE]: "services",
        [LABEL_SERVICE]: "true",
        [LABEL_SERVICES]: d.services.join(",")
      },
      stopTimeoutSeconds: o.stopTimeoutSeconds
    },
    { networkMode: `container:${d.base}` }
  )
