/**
 * Fleet planning (spec/fleet.md §5 "Building", §6 `allocate_ips`, `build_deckies`): from CLI-style options or
 * a loaded INI to `Decky` values, with addresses, distros, hostnames and services chosen. Pure but for
 * Effect's `Random` (seed it for a reproducible fleet) and `Clock` (`last_mutated` of INI deckies).
 */
import { Chunk, Clock, Effect, Either, Option, ParseResult, Random, Schema } from "effect"
import {
  type Archetype,
  type CatalogNotFound,
  DISTRO_SLUGS,
  type Distro,
  getArchetype,
  getDistro,
  randomHostnameFor,
  SERVICE_NAMES,
  type ServiceSlug
} from "../catalog/index.js"
import type { IniConfig } from "./Ini.js"
import { DEFAULT_MUTATE_INTERVAL, Decky, Deployment, type RuntimeKind } from "./Model.js"

export const PlanErrorReason = Schema.Literal(
  /** A subnet, gateway, host address or `--ip-start` that does not parse. */
  "invalid_network",
  "invalid_option",
  "ip_exhausted",
  /** An explicit IP outside the subnet, reserved, or already taken (also by the running fleet). */
  "ip_conflict",
  /** A decky name already in the fleet, or twice in one deployment. */
  "name_conflict",
  "no_deckies",
  /** No --services, --archetype or --randomize-services. */
  "no_services",
  "unknown_service",
  /** A catalog service the chosen runtime cannot run. */
  "unavailable_service",
  "unknown_archetype",
  "unknown_distro"
)
export type PlanErrorReason = typeof PlanErrorReason.Type

export class PlanError extends Schema.TaggedError<PlanError>()("PlanError", {
  reason: PlanErrorReason,
  message: Schema.String
}) {}

const planError = (reason: PlanErrorReason, message: string) =>
  Either.left(new PlanError({ reason, message }))

// Messages quote operator (or web client) text; keep each one short.
const clip = (s: string, max = 64): string => (s.length > max ? `${s.slice(0, max)}…` : s)

const invalid = (message: string) => new PlanError({ reason: "invalid_option", message })

const fromCatalog =
  (reason: PlanErrorReason) =>
  (e: CatalogNotFound): PlanError =>
    new PlanError({ reason, message: e.message })

/** Which services a runtime can run (`isHoneypotSlug` for the in-process runtime); absent: all of them. */
export type Runnable = (slug: string) => boolean

/** The LAN the deckies join (discovered or from the INI's `[general]`). */
export interface PlanNetwork {
  /** CIDR; host bits may be set (`192.168.1.7/24` is 192.168.1.0/24). */
  readonly subnet: string
  readonly gateway: string
  /** This host's own address on it, never handed to a decky (null: none there, e.g. loopback). */
  readonly hostIp: string | null
}

// ---------------------------------------------------------------------------------------------------
// IPv4 arithmetic (addresses as unsigned 32-bit numbers)

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

export const parseIpv4 = (s: string): Option.Option<number> =>
  IPV4.test(s) ? Option.some(s.split(".").reduce((n, octet) => n * 256 + Number(octet), 0)) : Option.none()

export const formatIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

export interface Subnet {
  readonly network: number
  readonly broadcast: number
  readonly prefix: number
}

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

/** `a.b.c.d/nn`, `a.b.c.d/255.255.255.0` or a bare address (/32), host bits allowed (Python's strict=False). */
export const parseSubnet = (cidr: string): Option.Option<Subnet> => {
  const [addr = "", suffix, ...extra] = cidr.trim().split("/")
  if (extra.length > 0) return Option.none()
  return Option.flatMap(parseIpv4(addr), (ip) => {
    let prefix = 32
    if (suffix !== undefined) {
      if (/^\d{1,2}$/.test(suffix) && Number(suffix) <= 32) prefix = Number(suffix)
      else {
        const mask = Option.getOrUndefined(parseIpv4(suffix))
        const ones = mask === undefined ? -1 : Math.clz32(~mask >>> 0)
        if (mask === undefined || maskOf(ones) !== mask) return Option.none()
        prefix = ones
      }
    }
    const mask = maskOf(prefix)
    const network = (ip & mask) >>> 0
    return Option.some({ network, broadcast: (network | ~mask) >>> 0, prefix })
  })
}

const inSubnet = (net: Subnet, ip: number) => ip >= net.network && ip <= net.broadcast

const subnetOr = (subnet: string) =>
  Option.match(parseSubnet(subnet), {
    onNone: () =>
      planError(
        "invalid_network",
        `Invalid subnet '${clip(subnet)}': expected a CIDR such as 192.168.1.0/24`
      ),
    onSome: (net) => Either.right(net)
  })

const addressOr = (value: string, what: string) =>
  Option.match(parseIpv4(value), {
    onNone: () => planError("invalid_network", `Invalid ${what} '${clip(value)}': expected an IPv4 address`),
    onSome: (ip) => Either.right(ip)
  })

/** The addresses never handed out: network, broadcast, gateway, this host. */
const reservedOf = (net: Subnet, gateway: number, host: number | undefined): Set<number> =>
  new Set([net.network, net.broadcast, gateway, ...(host === undefined ? [] : [host])])

/** Host addresses in order from `start`, skipping `reserved`; lazily, so a /8 costs only what is taken. */
function* freeHosts(net: Subnet, reserved: ReadonlySet<number>, start: number): Generator<number> {
  for (let ip = Math.max(start, net.network + 1); ip < net.broadcast; ip++) if (!reserved.has(ip)) yield ip
}

/**
 * `allocate_ips`: `n` host addresses of `subnet` from `ipStart` (default: the first host) upwards, skipping
 * the network and broadcast addresses, the gateway and this host.
 */
export const allocateIps = (
  subnet: string,
  gateway: string,
  hostIp: string | null,
  n: number,
  ipStart?: string | null
): Effect.Effect<ReadonlyArray<string>, PlanError> =>
  Effect.gen(function* () {
    if (!Number.isSafeInteger(n) || n < 0)
      return yield* planError("invalid_option", `The number of deckies must be a whole number, got ${n}`)
    const net = yield* subnetOr(subnet)
    const gw = yield* addressOr(gateway, "gateway")
    const host = hostIp ? yield* addressOr(hostIp, "host IP") : undefined
    const start = ipStart ? yield* addressOr(ipStart, "--ip-start") : net.network + 1
    const out: Array<string> = []
    if (n > 0)
      for (const ip of freeHosts(net, reservedOf(net, gw, host), start)) {
        out.push(formatIpv4(ip))
        if (out.length === n) break
      }
    if (out.length < n)
      return yield* planError(
        "ip_exhausted",
        `Not enough free IPs in ${subnet} for ${n} deckies (found ${out.length}).`
      )
    return out
  })

// ---------------------------------------------------------------------------------------------------
// Services

/** Python's `repr(list_of_str)`, as the original's messages print lists: `['ssh', 'http']`. */
export const pyList = (items: ReadonlyArray<string>, max = 30): string => {
  const repr = (s: string) => {
    const q = s.includes("'") && !s.includes('"') ? '"' : "'"
    const body = clip(s).replace(/[\\\u0000-\u001f\u007f]|'|"/g, (c) => {
      if (c === "\\") return "\\\\"
      if (c === "'" || c === '"') return c === q ? `\\${c}` : c
      if (c === "\n") return "\\n"
      if (c === "\r") return "\\r"
      if (c === "\t") return "\\t"
      return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`
    })
    return `${q}${body}${q}`
  }
  const shown = items.slice(0, max).map(repr)
  if (items.length > max) shown.push("...")
  return `[${shown.join(", ")}]`
}

const isServiceName = (s: string): s is ServiceSlug => SERVICE_NAMES.some((n) => n === s)

const runnableNames = (runnable: Runnable | undefined): ReadonlyArray<ServiceSlug> =>
  runnable === undefined ? SERVICE_NAMES : SERVICE_NAMES.filter(runnable)

/** Trimmed, empty entries dropped, duplicates dropped (a service twice would bind its ports twice). */
const cleanList = (items: ReadonlyArray<string> | null | undefined): ReadonlyArray<string> => [
  ...new Set((items ?? []).map((s) => s.trim()).filter((s) => s !== ""))
]

/** Explicit services: each must be a (non-singleton) catalog service, and one the runtime can run. */
const checkExplicit = (
  services: ReadonlyArray<string>,
  runnable: Runnable | undefined,
  where: string,
  hint = ""
): Either.Either<ReadonlyArray<ServiceSlug>, PlanError> => {
  const unknown = services.filter((s) => !isServiceName(s))
  if (unknown.length > 0)
    return planError(
      "unknown_service",
      `Unknown service(s)${where}: ${pyList(unknown)}. Available: ${pyList(SERVICE_NAMES)}${hint}`
    )
  const known = services.filter(isServiceName)
  const unavailable = runnable === undefined ? [] : known.filter((s) => !runnable(s))
  if (unavailable.length > 0)
    return planError(
      "unavailable_service",
      `Service(s)${where} not available on this runtime: ${pyList(unavailable)}. ` +
        `It can run: ${pyList(runnableNames(runnable))}`
    )
  return Either.right(known)
}

/** An archetype's services the runtime can run; none at all is an error naming what it can. */
const archetypeServices = (
  arch: Archetype,
  runnable: Runnable | undefined,
  where: string
): Either.Either<ReadonlyArray<ServiceSlug>, PlanError> => {
  const usable = runnable === undefined ? arch.services : arch.services.filter(runnable)
  return usable.length > 0
    ? Either.right(usable)
    : planError(
        "unavailable_service",
        `Archetype '${arch.slug}'${where} has no service this runtime can run (it has ${pyList(arch.services)}). ` +
          `It can run: ${pyList(runnableNames(runnable))}`
      )
}

/** 1–3 distinct services from `pool`, in pool order. */
const randomServices = (pool: ReadonlyArray<ServiceSlug>): Effect.Effect<ReadonlyArray<ServiceSlug>> =>
  Effect.gen(function* () {
    const count = yield* Random.nextIntBetween(1, Math.min(3, pool.length) + 1)
    const chosen = new Set(Chunk.toReadonlyArray(Chunk.take(yield* Random.shuffle(pool), count)))
    return pool.filter((s) => chosen.has(s))
  })

const nonEmptyPool = (runnable: Runnable | undefined) => {
  const pool = runnableNames(runnable)
  return pool.length > 0
    ? Either.right(pool)
    : planError("unavailable_service", "This runtime can run none of the catalog's services")
}

const asNonEmpty = <A>(items: ReadonlyArray<A>): Option.Option<readonly [A, ...Array<A>]> => {
  const [first, ...rest] = items
  return first === undefined ? Option.none() : Option.some([first, ...rest])
}

// ---------------------------------------------------------------------------------------------------
// Deckies

interface DeckyInput {
  readonly name: string
  readonly ip: string
  readonly services: ReadonlyArray<ServiceSlug>
  readonly distro: Distro
  readonly hostname: string
  readonly archetype: string | null
  readonly service_config: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly nmap_os: string
  readonly mutate_interval: number | null
  readonly last_mutated: number
}

/**
 * Through the Schema, so a bad name or address from a hand-built IniConfig is a PlanError, not a throw.
 * `base_image` is the distro's catalog image; the docker runtime maps it to its own `decnet-decky:<distro>`.
 */
const makeDecky = (d: DeckyInput): Effect.Effect<Decky, PlanError> =>
  Schema.decodeUnknown(Decky)({
    name: d.name,
    ip: d.ip,
    services: d.services,
    distro: d.distro.slug,
    base_image: d.distro.image,
    build_base: d.distro.build_base,
    hostname: d.hostname,
    archetype: d.archetype,
    service_config: d.service_config,
    nmap_os: d.nmap_os,
    mutate_interval: d.mutate_interval,
    last_mutated: d.last_mutated,
    last_login_attempt: 0,
    host_uuid: null
  }).pipe(
    Effect.mapError((e) =>
      invalid(`Decky '${clip(d.name)}' is invalid: ${ParseResult.TreeFormatter.formatErrorSync(e)}`)
    )
  )

const distroOf = (slug: string | undefined): Effect.Effect<Distro, PlanError> =>
  getDistro(slug ?? "").pipe(Effect.mapError(fromCatalog("unknown_distro")))

const checkMutateInterval = (value: number | null | undefined): Either.Either<number | null, PlanError> =>
  value === null || value === undefined
    ? Either.right(null)
    : Number.isSafeInteger(value) && value >= 1
      ? Either.right(value)
      : planError("invalid_option", `The mutate interval must be a positive number of minutes, got ${value}`)

/** `decnet deploy` without an INI. */
export interface OptionsPlan {
  /** One decky per address (`allocateIps`), named `decky-01`, `decky-02`… */
  readonly ips: ReadonlyArray<string>
  /** `--services a,b`: every decky runs these. */
  readonly services?: ReadonlyArray<string> | null
  /** `--randomize-services`: 1–3 random services per decky, combinations not repeated where possible. */
  readonly randomizeServices?: boolean
  /** `--distro a,b`: cycled over the deckies. */
  readonly distros?: ReadonlyArray<string> | null
  /** `--randomize-distros`. */
  readonly randomizeDistros?: boolean
  /** `--archetype`: its services (unless --services), its preferred distros cycled, its nmap_os. */
  readonly archetype?: string | null
  /** `--mutate-interval` (minutes), set on every decky; null: none. */
  readonly mutateInterval?: number | null
  /** Restrict chosen services to those the runtime can run (explicit others are an error). */
  readonly runnable?: Runnable
}

/** Random service sets repeat only after this many draws found nothing new (the original's bound). */
const MAX_COMBO_RETRIES = 20

/** `build_deckies`: a fleet from CLI flags. Fails before drawing anything when an option is bad. */
export const planFromOptions = (
  options: OptionsPlan
): Effect.Effect<readonly [Decky, ...Array<Decky>], PlanError> =>
  Effect.gen(function* () {
    const services = cleanList(options.services)
    const explicit = services.length > 0 ? yield* checkExplicit(services, options.runnable, "") : undefined
    const arch = options.archetype
      ? yield* getArchetype(options.archetype).pipe(Effect.mapError(fromCatalog("unknown_archetype")))
      : undefined
    if (explicit === undefined && !options.randomizeServices && arch === undefined)
      return yield* planError("no_services", "Specify --services, --archetype, or --randomize-services.")
    const distros = cleanList(options.distros)
    for (const slug of distros) yield* getDistro(slug).pipe(Effect.mapError(fromCatalog("unknown_distro")))
    const mutateInterval = yield* checkMutateInterval(options.mutateInterval)
    const fromArchetype =
      explicit === undefined && arch !== undefined
        ? yield* archetypeServices(arch, options.runnable, "")
        : undefined
    const pool = explicit ?? fromArchetype ?? (yield* nonEmptyPool(options.runnable))
    const ips = options.ips
    if (ips.length === 0) return yield* planError("no_deckies", "At least one decky is required.")
    const seen = new Set<string>()
    for (const ip of ips) {
      yield* addressOr(ip, "decky IP")
      if (seen.has(ip)) return yield* planError("ip_conflict", `The IP ${ip} is given to two deckies`)
      seen.add(ip)
    }

    const usedCombos = new Set<string>()
    const deckies: Array<Decky> = []
    for (const [i, ip] of ips.entries()) {
      const slug = distros.length > 0 ? distros[i % distros.length] : undefined
      const distro = yield* distroOf(
        slug !== undefined
          ? slug
          : options.randomizeDistros
            ? yield* Random.choice(DISTRO_SLUGS)
            : arch !== undefined
              ? arch.preferred_distros[i % arch.preferred_distros.length]
              : DISTRO_SLUGS[i % DISTRO_SLUGS.length]
      )
      const hostname = yield* randomHostnameFor(distro.slug)
      let chosen = explicit ?? fromArchetype
      if (chosen === undefined) {
        for (let attempt = 1; ; attempt++) {
          chosen = yield* randomServices(pool)
          if (!usedCombos.has(chosen.join(",")) || attempt > MAX_COMBO_RETRIES) break
        }
        usedCombos.add(chosen.join(","))
      }
      deckies.push(
        yield* makeDecky({
          name: `decky-${String(i + 1).padStart(2, "0")}`,
          ip,
          services: chosen,
          distro,
          hostname,
          archetype: arch?.slug ?? null,
          service_config: {},
          nmap_os: arch?.nmap_os ?? "linux",
          mutate_interval: mutateInterval,
          last_mutated: 0
        })
      )
    }
    return yield* Option.match(asNonEmpty(deckies), {
      onNone: () => planError("no_deckies", "At least one decky is required."),
      onSome: (ds) => Either.right(ds)
    })
  }).pipe(Effect.withSpan("Plan.planFromOptions"))

export interface IniPlanOptions {
  /** The CLI's `--mutate-interval`: when not null it wins over every section's `mutate_interval=`. */
  readonly mutateInterval?: number | null
  /** The running fleet, for an additive deploy: its names and addresses are taken. */
  readonly existing?: ReadonlyArray<Decky>
  readonly runnable?: Runnable
}

/**
 * `build_deckies_from_ini`: the INI's deckies on `network`. Explicit IPs are checked (in the subnet, not
 * reserved, not taken twice or by the running fleet), the rest are handed out in host order. Distro: the
 * archetype's preferred list (else every distro) indexed by the running decky count.
 */
export const planFromIni = (
  ini: IniConfig,
  network: PlanNetwork,
  options: IniPlanOptions = {}
): Effect.Effect<readonly [Decky, ...Array<Decky>], PlanError> =>
  Effect.gen(function* () {
    const net = yield* subnetOr(network.subnet)
    const gw = yield* addressOr(network.gateway, "gateway")
    const host = network.hostIp ? yield* addressOr(network.hostIp, "host IP") : undefined
    const cliInterval = yield* checkMutateInterval(options.mutateInterval)
    const existing = options.existing ?? []
    const existingNames = new Set(existing.map((d) => d.name))
    const taken = new Map<number, string>()
    for (const d of existing) {
      const ip = Option.getOrUndefined(parseIpv4(d.ip))
      if (ip !== undefined) taken.set(ip, `decky '${d.name}' of the running fleet`)
    }

    const reserved = reservedOf(net, gw, host)
    for (const spec of ini.deckies) {
      if (existingNames.has(spec.name))
        return yield* planError("name_conflict", `Decky name '${clip(spec.name)}' is already in the fleet`)
      if (spec.ip === null) continue
      const where = `[${clip(spec.name)}] ip=${clip(spec.ip)}`
      const ip = yield* Option.match(parseIpv4(spec.ip), {
        onNone: () => planError("ip_conflict", `${where} is not an IPv4 address`),
        onSome: (n) => Either.right(n)
      })
      if (!inSubnet(net, ip)) return yield* planError("ip_conflict", `${where} is outside ${network.subnet}`)
      if (ip === net.network || ip === net.broadcast)
        return yield* planError(
          "ip_conflict",
          `${where} is the network or broadcast address of ${network.subnet}`
        )
      if (ip === gw) return yield* planError("ip_conflict", `${where} is the gateway`)
      if (ip === host) return yield* planError("ip_conflict", `${where} is this host's own address`)
      const holder = taken.get(ip)
      if (holder !== undefined)
        return yield* planError("ip_conflict", `${where} is already used by ${holder}`)
      taken.set(ip, `[${clip(spec.name)}]`)
    }
    for (const ip of taken.keys()) reserved.add(ip)
    const autoPool = freeHosts(net, reserved, net.network + 1)
    const customNames = new Set(ini.custom_services.map((c) => c.name))
    const now = (yield* Clock.currentTimeMillis) / 1000

    const deckies: Array<Decky> = []
    for (const spec of ini.deckies) {
      const where = ` in [${clip(spec.name)}]`
      const arch = spec.archetype
        ? yield* getArchetype(spec.archetype).pipe(Effect.mapError(fromCatalog("unknown_archetype")))
        : undefined
      const distros = arch?.preferred_distros ?? DISTRO_SLUGS
      const distro = yield* distroOf(distros[deckies.length % distros.length])
      const hostname = yield* randomHostnameFor(distro.slug)
      let ip = spec.ip
      if (ip === null) {
        const next = autoPool.next()
        if (next.done === true)
          return yield* planError(
            "ip_exhausted",
            `Not enough free IPs in ${network.subnet} while assigning IP for '${clip(spec.name)}'.`
          )
        ip = formatIpv4(next.value)
      }
      const listed = cleanList(spec.services)
      const custom = listed.filter((s) => customNames.has(s))
      const hint =
        custom.length > 0
          ? ` (${pyList(custom)} ${custom.length > 1 ? "are" : "is"} [custom-*] services, which are parsed but not run yet)`
          : ""
      const services =
        listed.length > 0
          ? yield* checkExplicit(listed, options.runnable, where, hint)
          : arch !== undefined
            ? yield* archetypeServices(arch, options.runnable, ` of [${clip(spec.name)}]`)
            : yield* randomServices(yield* nonEmptyPool(options.runnable))
      deckies.push(
        yield* makeDecky({
          name: spec.name,
          ip,
          services,
          distro,
          hostname,
          archetype: arch?.slug ?? null,
          service_config: spec.service_config,
          nmap_os: spec.nmap_os ?? arch?.nmap_os ?? "linux",
          mutate_interval: cliInterval ?? spec.mutate_interval,
          last_mutated: now
        })
      )
    }
    return yield* Option.match(asNonEmpty(deckies), {
      onNone: () => planError("no_deckies", "INI must contain at least one decky section"),
      onSome: (ds) => Either.right(ds)
    })
  }).pipe(Effect.withSpan("Plan.planFromIni"))

// ---------------------------------------------------------------------------------------------------
// Deployment

export interface DeploymentInput {
  /** Default `unihost`. */
  readonly mode?: "unihost" | "swarm"
  readonly runtime: RuntimeKind
  readonly interface: string
  readonly subnet: string
  readonly gateway: string
  /** The planned deckies; for an additive deploy, the running fleet's followed by the new ones. */
  readonly deckies: ReadonlyArray<Decky>
  /** Default null (the collector's DECNET_INGEST_LOG_FILE). */
  readonly log_file?: string | null
  readonly ipvlan?: boolean
  /** Fleet-wide rotation in minutes; default 30 (`DEFAULT_MUTATE_INTERVAL`), null for none. */
  readonly mutate_interval?: number | null
}

/** The `Deployment` value to store: at least one decky, names and addresses unique across the fleet. */
export const makeDeployment = (input: DeploymentInput): Effect.Effect<Deployment, PlanError> =>
  Effect.gen(function* () {
    const names = new Set<string>()
    const ips = new Map<string, string>()
    for (const d of input.deckies) {
      if (names.has(d.name)) return yield* planError("name_conflict", `Duplicate decky name '${d.name}'`)
      names.add(d.name)
      const other = ips.get(d.ip)
      if (other !== undefined)
        return yield* planError("ip_conflict", `Deckies '${other}' and '${d.name}' share the IP ${d.ip}`)
      ips.set(d.ip, d.name)
    }
    const deckies = yield* Option.match(asNonEmpty(input.deckies), {
      onNone: () => planError("no_deckies", "A deployment needs at least one decky."),
      onSome: (ds) => Either.right(ds)
    })
    const mutateInterval = yield* checkMutateInterval(
      input.mutate_interval === undefined ? DEFAULT_MUTATE_INTERVAL : input.mutate_interval
    )
    return yield* Schema.decodeUnknown(Deployment)({
      mode: input.mode ?? "unihost",
      runtime: input.runtime,
      interface: input.interface,
      subnet: input.subnet,
      gateway: input.gateway,
      deckies,
      log_file: input.log_file ?? null,
      ipvlan: input.ipvlan ?? false,
      mutate_interval: mutateInterval
    }).pipe(
      Effect.mapError((e) =>
        invalid(`The deployment is invalid: ${ParseResult.TreeFormatter.formatErrorSync(e)}`)
      )
    )
  })
