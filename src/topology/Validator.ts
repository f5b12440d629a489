/**
 * The pre-deploy validator (spec/topology.md §4): independent rules over a hydrated topology, each
 * returning its issues, so the editor can show any one of them inline. `validate` runs the standing rules
 * in order; the deployer refuses a topology with any error, the mutator re-checks a subset after each
 * live edit, and the gateway rule runs only where an operator turns a decky into a gateway.
 */
import { Either, Option } from "effect"
import { SERVICE_NAMES } from "../catalog/Services.js"
import { TopologyValidationError, type ValidationIssue } from "./Errors.js"
import { type Cidr, contains, formatCidr, overlaps, parseCidr, parseIpv4 } from "./Ipv4.js"

/** The part of a hydrated topology (`TopologyDetail`) the rules read. */
export interface HydratedTopology {
  readonly lans: ReadonlyArray<{
    readonly id: string
    readonly name: string
    readonly subnet: string
    readonly is_dmz: boolean
  }>
  readonly deckies: ReadonlyArray<{
    readonly uuid: string
    readonly name: string
    readonly services: ReadonlyArray<string>
    readonly decky_config: {
      readonly ips_by_lan?: Readonly<Record<string, string>> | undefined
      readonly forwards_l3?: boolean | undefined
      readonly service_config?: Readonly<Record<string, unknown>> | undefined
    } | null
  }>
  readonly edges: ReadonlyArray<{
    readonly decky_uuid: string
    readonly lan_id: string
    readonly is_bridge: boolean
  }>
}

export type ValidationRule = (h: HydratedTopology) => ReadonlyArray<ValidationIssue>

const error = (code: string, message: string, target: Record<string, unknown> = {}): ValidationIssue => ({
  severity: "error",
  code,
  message,
  target
})

// ---- rules ----------------------------------------------------------------------------------------------

export const checkExactlyOneDmz: ValidationRule = (h) => {
  const dmzs = h.lans.filter((lan) => lan.is_dmz)
  if (dmzs.length === 1) return []
  if (dmzs.length === 0) return [error("DMZ_MISSING", "no LAN is marked is_dmz=true")]
  return [
    error("DMZ_MULTIPLE", `${dmzs.length} LANs marked is_dmz=true; exactly one allowed`, {
      lans: dmzs.map((lan) => lan.name)
    })
  ]
}

/** Two LANs are adjacent when a decky sits on both; every LAN must be reachable from the (first) DMZ. */
export const checkAllLansConnectedToDmz: ValidationRule = (h) => {
  const dmz = h.lans.find((lan) => lan.is_dmz)
  if (dmz === undefined) return [] // checkExactlyOneDmz reports it
  const adjacent = new Map<string, Set<string>>(h.lans.map((lan) => [lan.id, new Set<string>()]))
  const lansOf = new Map<string, Set<string>>()
  for (const edge of h.edges) {
    if (!adjacent.has(edge.lan_id)) continue
    const lans = lansOf.get(edge.decky_uuid) ?? new Set<string>()
    lans.add(edge.lan_id)
    lansOf.set(edge.decky_uuid, lans)
  }
  for (const lans of lansOf.values()) {
    for (const a of lans) for (const b of lans) if (a !== b) adjacent.get(a)?.add(b)
  }
  const reachable = new Set([dmz.id])
  let frontier = [dmz.id]
  while (frontier.length > 0) {
    const next: Array<string> = []
    for (const id of frontier) {
      for (const peer of adjacent.get(id) ?? []) {
        if (!reachable.has(peer)) {
          reachable.add(peer)
          next.push(peer)
        }
      }
    }
    frontier = next
  }
  const orphans = h.lans.filter((lan) => !reachable.has(lan.id)).map((lan) => lan.name)
  return orphans.length === 0
    ? []
    : [error("DMZ_ORPHAN", `LAN(s) have no bridge path to the DMZ: ${orphans.join(", ")}`, { lans: orphans })]
}

export const checkNoOrphanDeckies: ValidationRule = (h) => {
  const attached = new Set(h.edges.map((edge) => edge.decky_uuid))
  return h.deckies
    .filter((decky) => !attached.has(decky.uuid))
    .map((decky) => error("DECKY_ORPHAN", `decky '${decky.name}' has no LAN edges`, { decky: decky.name }))
}

/** One issue per repeat of a name (a name used three times gives two). */
export const checkNamesUnique: ValidationRule = (h) => {
  const repeats = (names: ReadonlyArray<string>) => {
    const seen = new Set<string>()
    return names.filter((name) => {
      if (seen.has(name)) return true
      seen.add(name)
      return false
    })
  }
  return [
    ...repeats(h.lans.map((lan) => lan.name)).map((lan) =>
      error("LAN_NAME_DUP", `duplicate LAN name '${lan}'`, { lan })
    ),
    ...repeats(h.deckies.map((decky) => decky.name)).map((decky) =>
      error("DECKY_NAME_DUP", `duplicate decky name '${decky}'`, { decky })
    )
  ]
}

/**
 * Over every decky's `ips_by_lan`: the LAN must exist, the address and the LAN's subnet must parse (the
 * subnet strictly), the address should lie inside the subnet, and no address may be claimed twice in a
 * LAN. An address outside its subnet is still counted for collisions.
 */
export const checkNoIpCollisions: ValidationRule = (h) => {
  const lansByName = new Map(h.lans.map((lan) => [lan.name, lan]))
  const claimed = new Map<string, Map<string, string>>() // LAN name → address → first decky
  const issues: Array<ValidationIssue> = []
  for (const decky of h.deckies) {
    for (const [lanName, ip] of Object.entries(decky.decky_config?.ips_by_lan ?? {})) {
      const lan = lansByName.get(lanName)
      if (lan === undefined) {
        issues.push(
          error("IP_UNKNOWN_LAN", `decky '${decky.name}' claims IP in unknown LAN '${lanName}'`, {
            decky: decky.name,
            lan: lanName
          })
        )
        continue
      }
      const address = parseIpv4(ip)
      const subnet = parseCidr(lan.subnet, { strict: true })
      if (Option.isNone(address) || Option.isNone(subnet)) {
        issues.push(
          error("IP_MALFORMED", `decky '${decky.name}': malformed IP '${ip}'`, { decky: decky.name, ip })
        )
        continue
      }
      if (!contains(subnet.value, address.value)) {
        issues.push(
          error(
            "IP_OUT_OF_SUBNET",
            `${ip} not inside ${formatCidr(subnet.value)} (decky '${decky.name}', LAN '${lanName}')`,
            { decky: decky.name, lan: lanName, ip }
          )
        )
      }
      const bucket = claimed.get(lanName) ?? new Map<string, string>()
      claimed.set(lanName, bucket)
      const first = bucket.get(ip)
      if (first === undefined) bucket.set(ip, decky.name)
      else {
        issues.push(
          error(
            "IP_COLLISION",
            `IP ${ip} claimed by both '${first}' and '${decky.name}' in LAN '${lanName}'`,
            {
              lan: lanName,
              ip,
              deckies: [first, decky.name]
            }
          )
        )
      }
    }
  }
  return issues
}

/** Subnets parse strictly (no host bits); one issue per overlapping pair, in LAN order. */
export const checkNoSubnetOverlap: ValidationRule = (h) => {
  const issues: Array<ValidationIssue> = []
  const nets: Array<readonly [string, Cidr]> = []
  for (const lan of h.lans) {
    Option.match(parseCidr(lan.subnet, { strict: true }), {
      onNone: () =>
        issues.push(
          error("SUBNET_MALFORMED", `LAN '${lan.name}': malformed subnet '${lan.subnet}'`, { lan: lan.name })
        ),
      onSome: (cidr) => nets.push([lan.name, cidr])
    })
  }
  nets.forEach(([nameA, a], i) => {
    for (const [nameB, b] of nets.slice(i + 1)) {
      if (overlaps(a, b)) {
        issues.push(
          error(
            "SUBNET_OVERLAP",
            `LAN '${nameA}' (${formatCidr(a)}) overlaps LAN '${nameB}' (${formatCidr(b)})`,
            { lans: [nameA, nameB] }
          )
        )
      }
    }
  })
  return issues
}

/** A decky may run any registered service except the fleet singletons. */
export const checkServicesKnown: ValidationRule = (h) => {
  const known = new Set<string>(SERVICE_NAMES)
  return h.deckies.flatMap((decky) =>
    decky.services
      .filter((service) => !known.has(service))
      .map((service) =>
        error("UNKNOWN_SERVICE", `decky '${decky.name}': unknown service '${service}'`, {
          decky: decky.name,
          service
        })
      )
  )
}

export const checkServiceConfigShape: ValidationRule = (h) =>
  h.deckies.flatMap((decky) => {
    const declared = new Set(decky.services)
    return Object.keys(decky.decky_config?.service_config ?? {})
      .filter((service) => !declared.has(service))
      .map((service) =>
        error(
          "SERVICE_CFG_UNDECLARED",
          `decky '${decky.name}': service_config for '${service}' but service not in services list`,
          { decky: decky.name, service }
        )
      )
  })

/**
 * A gateway (a decky whose config forwards L3, and so publishes its ports on the host) must home in a DMZ.
 * The home is the first non-bridge edge, else the first edge. Not a standing rule: the generator's internal
 * bridges forward too and home on their own LAN. It runs where an operator turns forwarding on.
 */
export const checkGatewayHomedInDmz: ValidationRule = (h) => {
  const lansById = new Map(h.lans.map((lan) => [lan.id, lan]))
  const dmzNames = h.lans
    .filter((lan) => lan.is_dmz)
    .map((lan) => lan.name)
    .sort()
  const home = new Map<string, string>() // decky uuid → LAN id
  for (const edge of h.edges)
    if (!edge.is_bridge && !home.has(edge.decky_uuid)) home.set(edge.decky_uuid, edge.lan_id)
  for (const edge of h.edges) if (!home.has(edge.decky_uuid)) home.set(edge.decky_uuid, edge.lan_id)
  const allowed = dmzNames.length > 0 ? dmzNames.join(", ") : "(no DMZ defined)"
  return h.deckies.flatMap((decky) => {
    if (decky.decky_config?.forwards_l3 !== true) return []
    const lanId = home.get(decky.uuid)
    const lan = lanId === undefined ? undefined : lansById.get(lanId)
    if (lan?.is_dmz === true) return []
    const lanName = lanId === undefined ? "(no home LAN)" : (lan?.name ?? lanId)
    return [
      error(
        "GATEWAY_NOT_IN_DMZ",
        `gateway decky '${decky.name}' is on LAN '${lanName}'; gateways must home in a DMZ LAN (${allowed})`,
        { decky: decky.name, lan: lanName }
      )
    ]
  })
}

// ---- rule sets ------------------------------------------------------------------------------------------

/** The standing rules, in the order `validate` reports them. */
export const RULES: ReadonlyArray<ValidationRule> = [
  checkExactlyOneDmz,
  checkAllLansConnectedToDmz,
  checkNoOrphanDeckies,
  checkNamesUnique,
  checkNoIpCollisions,
  checkNoSubnetOverlap,
  checkServicesKnown,
  checkServiceConfigShape
]

/** What the mutator re-checks after a live edit: the shape rules (DMZ, orphans) are left out on purpose. */
export const POST_APPLY_CHECKS: ReadonlyArray<ValidationRule> = [
  checkNamesUnique,
  checkNoIpCollisions,
  checkNoSubnetOverlap,
  checkServicesKnown,
  checkServiceConfigShape
]

export const runRules = (
  rules: ReadonlyArray<ValidationRule>,
  h: HydratedTopology
): ReadonlyArray<ValidationIssue> => rules.flatMap((rule) => rule(h))

/** Every standing rule's issues, in rule order (empty: valid). */
export const validate = (h: HydratedTopology): ReadonlyArray<ValidationIssue> => runRules(RULES, h)

export const validatePostApply = (h: HydratedTopology): ReadonlyArray<ValidationIssue> =>
  runRules(POST_APPLY_CHECKS, h)

export const errors = (issues: ReadonlyArray<ValidationIssue>): ReadonlyArray<ValidationIssue> =>
  issues.filter((issue) => issue.severity === "error")

/** The issues back when none is an error (warnings pass), else the error that lists them. */
export const requireNoErrors = (
  issues: ReadonlyArray<ValidationIssue>
): Either.Either<ReadonlyArray<ValidationIssue>, TopologyValidationError> =>
  errors(issues).length === 0 ? Either.right(issues) : Either.left(new TopologyValidationError({ issues }))
