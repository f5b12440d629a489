/**
 * `DockerRuntime`, the production `DeckyRuntime`: one container per decky (`decnet decky` with all of its
 * services, from `decnet-decky:<distro>`), with its own IP and MAC on the `decnet_lan` macvlan (or ipvlan
 * L2) network, its OS sysctl profile and the `decnet.fleet.*` labels the collector discovers it by. The
 * host reaches its deckies through the hairpin helper interface (macvlan children cannot talk to their
 * parent). Network reuse/recreate follows spec/fleet.md §2; `up` is idempotent and rolls back what it
 * created when it fails. Docker is reached only through the `Docker` service, the host's interfaces
 * only through `HostNetwork` (iproute2).
 */
import { createHash } from "node:crypto"
import { Clock, Duration, Effect, Exit, Layer, Option, Ref, Schema, Stream } from "effect"
import { osSysctls } from "../catalog/index.js"
import type { LogLine } from "../docker/Demux.js"
import type { ContainerSpec, NetworkSpec } from "../docker/Docker.js"
import { Docker } from "../docker/Docker.js"
import { type DockerError, isNotFound } from "../docker/DockerError.js"
import {
  type ContainerDetails,
  type ContainerSummary,
  containerName,
  type NetworkInfo
} from "../docker/Model.js"
import { deckyLabelNames, deckyProcessSpec, servicePorts, startupOf } from "./DeckyContainer.js"
import { HostNetwork, HostNetworkError, HostNetworkLive } from "./HostNetwork.js"
import { deckyImage, FALLBACK_DISTRO } from "./Images.js"
import type { BoundPort, Decky, Deployment } from "./Model.js"
import { DeckyRuntime, DeckyRuntimeError, type DeckyRuntimeService, DeckyStatus } from "./Runtime.js"

// ---- names -------------------------------------------------------------------------------------------

export const LAN_NETWORK = "decnet_lan"
export const MACVLAN_HELPER = "decnet_macvlan0"
export const IPVLAN_HELPER = "decnet_ipvlan0"

const FLEET_LABELS = deckyLabelNames("decnet.fleet")
/** The collector discovers decky containers by this label (value `true`). */
export const LABEL_SERVICE = FLEET_LABELS.service
/** The decky's name. */
export const LABEL_DECKY = FLEET_LABELS.decky
/** The decky's services, comma-separated, in its order. */
export const LABEL_SERVICES = FLEET_LABELS.services
/** Hash of the container's whole spec and image id: an `up` with the same hash keeps the container. */
export const LABEL_SPEC = "decnet.fleet.spec"
/** On the `decnet_lan` network. */
export const LABEL_NETWORK = "decnet.fleet.network"

// ---- pure planning -------------------------------------------------------------------------------------

const toInt = (ip: string): number => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0)
const toIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

/** The tightest CIDR covering every address (spec §2: the LAN's ip-range). */
export const coveringCidr = (ips: readonly [string, ...Array<string>]): string => {
  const ns = ips.map(toInt)
  const lo = Math.min(...ns)
  const hi = Math.max(...ns)
  let prefix = 32
  while (prefix > 0 && lo >>> (32 - prefix) !== hi >>> (32 - prefix)) prefix--
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return `${toIp((lo & mask) >>> 0)}/${prefix}`
}

/** The `decnet_lan` network a deployment wants. */
export const lanNetworkSpec = (d: Deployment): NetworkSpec => ({
  name: LAN_NETWORK,
  driver: d.ipvlan ? "ipvlan" : "macvlan",
  options: d.ipvlan ? { parent: d.interface, ipvlan_mode: "l2" } : { parent: d.interface },
  ipam: [{ subnet: d.subnet, gateway: d.gateway, ipRange: coveringCidr(lanIps(d)) }],
  labels: { [LABEL_NETWORK]: "true" }
})

const lanIps = (d: Deployment): readonly [string, ...Array<string>] => {
  const [first, ...rest] = d.deckies
  return [first.ip, ...rest.map((x) => x.ip)]
}

export type LanDecision = "create" | "reuse" | "reuse-live" | "recreate"

/**
 * Spec §2: the same driver, parent and pool → reuse; the same driver with live containers → reuse as it
 * is (they keep running); otherwise (another driver, or drift without endpoints) → remove and recreate,
 * force-disconnecting whatever is attached.
 */
export const lanDecision = (existing: Option.Option<NetworkInfo>, wanted: NetworkSpec): LanDecision => {
  if (Option.isNone(existing)) return "create"
  const net = existing.value
  const want = wanted.ipam?.[0]
  const pool = net.IPAM.Config[0]
  const samePool =
    net.IPAM.Config.length === 1 &&
    (pool?.Subnet ?? "") === (want?.subnet ?? "") &&
    (pool?.Gateway ?? "") === (want?.gateway ?? "") &&
    (pool?.IPRange ?? "") === (want?.ipRange ?? "")
  const sameDriver = net.Driver === wanted.driver
  const sameParent = (net.Options.parent ?? "") === (wanted.options?.parent ?? "")
  if (sameDriver && samePool && sameParent) return "reuse"
  if (sameDriver && Object.keys(net.Containers).length > 0) return "reuse-live"
  return "recreate"
}

/** A stable, locally administered unicast MAC from the decky's name: a re-created decky keeps its MAC. */
export const deckyMac = (name: string): string => {
  const h = createHash("sha256").update(`decnet-mac:${name}`).digest()
  const bytes = [...h.subarray(0, 6)]
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":")
}

/** The persona seed's instance id: stable for a decky of a deployment, different across deployments. */
export const deckyInstanceId = (decky: Decky, d: Deployment): string =>
  createHash("sha256").update(`decnet-instance:${d.subnet}:${decky.name}`).digest("hex").slice(0, 16)

/** Every known port of the decky's services, on its own address. */
export const deckyPorts = (services: ReadonlyArray<string>, ip: string): ReadonlyArray<BoundPort> =>
  servicePorts(services).map((p): BoundPort => ({ ...p, known: p.port, host: ip }))

export interface DeckyContainerPlan {
  readonly spec: ContainerSpec
  /** The `decnet.fleet.spec` label: hash of the spec and the image id. */
  readonly hash: string
}

/** The decky's container: `decnet decky` with all its services on its IP, MAC, hostname and sysctls. */
export const deckyContainerSpec = (
  decky: Decky,
  d: Deployment,
  image: { readonly ref: string; readonly id: string },
  stopTimeoutSeconds = 5
): DeckyContainerPlan => {
  const services: ReadonlyArray<string> = decky.services
  const spec = deckyProcessSpec(
    {
      image: image.ref,
      container: decky.name,
      name: decky.name,
      hostname: decky.hostname,
      host: decky.ip,
      services,
      // `decnet decky` refuses config for a service it does not run (a mutation may leave some behind).
      config: Object.fromEntries(
        Object.entries(decky.service_config).filter(([slug]) => services.includes(slug))
      ),
      instanceId: deckyInstanceId(decky, d),
      files: decky.files,
      labels: { [LABEL_SERVICE]: "true", [LABEL_DECKY]: decky.name, [LABEL_SERVICES]: services.join(",") },
      stopTimeoutSeconds
    },
    {
      hostname: decky.hostname,
      // ipvlan shares the parent's MAC; macvlan gives each decky its own.
      networks: [
        [
          LAN_NETWORK,
          d.ipvlan ? { ipv4Address: decky.ip } : { ipv4Address: decky.ip, macAddress: deckyMac(decky.name) }
        ]
      ],
      sysctls: { ...osSysctls(decky.nmap_os) }
    }
  )
  const hash = createHash("sha256")
    .update(JSON.stringify({ image: image.id, spec }))
    .digest("hex")
  return { spec: { ...spec, labels: { ...spec.labels, [LABEL_SPEC]: hash } }, hash }
}

// ---- the runtime ----------------------------------------------------------------------------------------

/** The part of `ip -d -j link show` the helper check reads: the parent (`link`) and the kind. */
const IpLinks = Schema.parseJson(
  Schema.Array(
    Schema.Struct({
      link: Schema.optional(Schema.String),
      linkinfo: Schema.optional(Schema.Struct({ info_kind: Schema.optional(Schema.String) }))
    })
  )
)
const decodeLinks = Schema.decodeUnknown(IpLinks)

export interface DockerRuntimeOptions {
  /** The hairpin helper's address (default: the parent interface's first IPv4, as the spec's host IP). */
  readonly hostIp?: string | undefined
  /** How long `up` waits for every service's `startup` line (default 30 s). */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** SIGTERM grace before SIGKILL when a decky is stopped (default 5 s). */
  readonly stopTimeoutSeconds?: number | undefined
}

const STDERR_TAIL = 8

const NONE_SEEN: ReadonlySet<string> = new Set()

interface Readiness {
  readonly seen: ReadonlySet<string>
  /** The last stderr lines, for the error when the decky dies before it is up. */
  readonly stderr: ReadonlyArray<string>
}
const STATUS_LOG_LINES = 5_000

export const makeDockerRuntime = (
  options: DockerRuntimeOptions = {}
): Effect.Effect<DeckyRuntimeService, never, Docker | HostNetwork> =>
  Effect.gen(function* () {
    const docker = yield* Docker
    const host = yield* HostNetwork
    const readyTimeout = Duration.decode(options.readyTimeout ?? "30 seconds")
    const stopTimeoutSeconds = options.stopTimeoutSeconds ?? 5

    const err = (decky: string | null, message: string) => new DeckyRuntimeError({ decky, message })
    const dockerErr = (decky: string | null, what: string) => (e: DockerError) =>
      err(decky, `${decky ?? LAN_NETWORK}: ${what}: ${e.message}`)
    const ipErr = (what: string) => (e: HostNetworkError) => err(null, `${what}: ${e.message}`)

    /** `x`, or None when the engine says it does not exist. */
    const optional = <A>(effect: Effect.Effect<A, DockerError>) =>
      effect.pipe(
        Effect.map(Option.some),
        Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<A>()))
      )

    const requireNetAdmin = (what: string) =>
      Effect.flatMap(host.canAdminNetwork, (ok) =>
        ok
          ? Effect.void
          : Effect.fail(
              err(null, `the docker runtime needs root or CAP_NET_ADMIN to ${what}; run decnet as root`)
            )
      )

    // ---- the host helper ---------------------------------------------------------------------------

    const linkInfo = (name: string) =>
      host.ip(["-d", "-j", "link", "show", "dev", name]).pipe(
        Effect.flatMap((out) =>
          decodeLinks(out === "" ? "[]" : out).pipe(
            Effect.mapError(
              (e) =>
                new HostNetworkError({
                  args: ["-d", "-j", "link", "show", "dev", name],
                  code: 0,
                  stderr: e.message
                })
            )
          )
        ),
        Effect.map((links) =>
          Option.map(Option.fromNullable(links[0]), (l) => ({
            kind: l.linkinfo?.info_kind ?? "",
            parent: l.link ?? ""
          }))
        ),
        // `ip` says "Device … does not exist." (exit 1) for a missing link.
        Effect.catchIf(
          (e) => /does not exist|cannot find device/i.test(e.stderr),
          () => Effect.succeed(Option.none<{ readonly kind: string; readonly parent: string }>())
        )
      )

    const deleteLink = (name: string) =>
      Effect.flatMap(linkInfo(name), (info) =>
        Option.isNone(info) ? Effect.void : Effect.asVoid(host.ip(["link", "del", "dev", name]))
      )

    const firstIpv4 = (iface: string) =>
      host.ip(["-4", "-o", "addr", "show", "dev", iface]).pipe(
        Effect.mapError(ipErr(`reading the addresses of ${iface}`)),
        Effect.flatMap((out) => {
          const m = /\binet (\d{1,3}(?:\.\d{1,3}){3})\//.exec(out)
          return m?.[1] !== undefined
            ? Effect.succeed(m[1])
            : Effect.fail(
                err(
                  null,
                  `the LAN interface ${iface} has no IPv4 address, and the host helper takes the host's address on it; ` +
                    "give the interface an address (or the runtime a hostIp)"
                )
              )
        })
      )

    /** The hairpin helper with `hostIp/32` and a route to `ipRange`; true when this call created it. */
    const ensureHelper = (d: Deployment, hostIp: string, ipRange: string) =>
      Effect.gen(function* () {
        const name = d.ipvlan ? IPVLAN_HELPER : MACVLAN_HELPER
        const kind = d.ipvlan ? "ipvlan" : "macvlan"
        yield* deleteLink(d.ipvlan ? MACVLAN_HELPER : IPVLAN_HELPER)
        const current = yield* linkInfo(name)
        const matches = Option.match(current, {
          onNone: () => false,
          onSome: (l) => l.kind === kind && l.parent === d.interface
        })
        if (Option.isSome(current) && !matches) yield* host.ip(["link", "del", "dev", name])
        const created = !matches
        if (created)
          yield* host
            .ip(
              d.ipvlan
                ? ["link", "add", name, "link", d.interface, "type", "ipvlan", "mode", "l2"]
                : ["link", "add", name, "link", d.interface, "type", "macvlan", "mode", "bridge"]
            )
            .pipe(
              Effect.mapError((e): DeckyRuntimeError | HostNetworkError =>
                d.ipvlan && /unknown device type|not supported/i.test(e.stderr)
                  ? err(
                      null,
                      `ipvlan is not supported by this host's kernel (${e.message}); deploy without --ipvlan (macvlan)`
                    )
                  : e
              )
            )
        const configure = Effect.gen(function* () {
          const addrs = yield* host.ip(["-4", "-o", "addr", "show", "dev", name])
          const have = [...addrs.matchAll(/\binet (\S+)/g)].map((m) => m[1])
          if (have.length !== 1 || have[0] !== `${hostIp}/32`) {
            yield* host.ip(["addr", "flush", "dev", name])
            yield* host.ip(["addr", "add", `${hostIp}/32`, "dev", name])
          }
          yield* host.ip(["link", "set", "dev", name, "up"])
          const routes = yield* host.ip(["-4", "-o", "route", "show", "dev", name])
          for (const line of routes.split("\n")) {
            const dst = line.trim().split(/\s+/)[0]
            if (dst !== undefined && dst !== "" && dst !== ipRange)
              yield* host.ip(["route", "del", dst, "dev", name])
          }
          yield* host.ip(["route", "replace", ipRange, "dev", name])
        })
        yield* configure.pipe(
          Effect.tapError(() => (created ? deleteLink(name).pipe(Effect.ignore) : Effect.void))
        )
        return created
      }).pipe(
        Effect.mapError((e) =>
          e._tag === "DeckyRuntimeError" ? e : ipErr(`setting up the host helper interface`)(e)
        )
      )

    // ---- the LAN network ---------------------------------------------------------------------------

    /** The network as spec §2 wants it; true when this call created it. */
    const ensureLan = (spec: NetworkSpec) =>
      Effect.gen(function* () {
        const existing = yield* optional(docker.inspectNetwork(LAN_NETWORK))
        const decision = lanDecision(existing, spec)
        if (decision === "reuse") return false
        if (decision === "reuse-live") {
          yield* Effect.logWarning(
            `${LAN_NETWORK} differs from this deployment (driver ${spec.driver}, parent ${spec.options?.parent}, ` +
              `pool ${JSON.stringify(spec.ipam)}) but has live containers: reusing it as it is`
          )
          return false
        }
        if (decision === "recreate" && Option.isSome(existing)) {
          for (const id of Object.keys(existing.value.Containers))
            yield* docker
              .disconnectNetwork(LAN_NETWORK, id, { force: true })
              .pipe(Effect.catchIf(isNotFound, () => Effect.void))
          yield* docker.removeNetwork(existing.value.Id).pipe(Effect.catchIf(isNotFound, () => Effect.void))
          yield* Effect.logInfo(
            `${LAN_NETWORK}: removed (it no longer matched the deployment), recreating it`
          )
        }
        yield* docker.createNetwork(spec)
        return true
      }).pipe(Effect.mapError(dockerErr(null, "the LAN network")))

    const prepare = (d: Deployment) =>
      Effect.gen(function* () {
        yield* requireNetAdmin(
          `create the host helper interface ${d.ipvlan ? IPVLAN_HELPER : MACVLAN_HELPER}`
        )
        yield* host
          .ip(["link", "show", "dev", d.interface])
          .pipe(
            Effect.mapError((e) =>
              err(
                null,
                `the LAN parent interface '${d.interface}' is not there (${e.stderr}); choose another interface`
              )
            )
          )
        const spec = lanNetworkSpec(d)
        const ipRange = spec.ipam?.[0]?.ipRange ?? d.subnet
        const hostIp = options.hostIp ?? (yield* firstIpv4(d.interface))
        const helperCreated = yield* ensureHelper(d, hostIp, ipRange)
        yield* ensureLan(spec).pipe(
          Effect.tapError(() =>
            helperCreated
              ? deleteLink(d.ipvlan ? IPVLAN_HELPER : MACVLAN_HELPER).pipe(Effect.ignore)
              : Effect.void
          )
        )
        yield* Effect.logInfo(
          `${LAN_NETWORK} ready: ${spec.driver} on ${d.interface}, ${d.subnet} range ${ipRange}; host reaches it as ${hostIp}`
        )
      }).pipe(Effect.withSpan("DockerRuntime.prepare"))

    const release = (d: Deployment) =>
      Effect.gen(function* () {
        yield* requireNetAdmin("remove the host helper interface")
        const ipRange = coveringCidr(lanIps(d))
        for (const name of [MACVLAN_HELPER, IPVLAN_HELPER]) {
          const info = yield* linkInfo(name).pipe(Effect.mapError(ipErr(`reading ${name}`)))
          if (Option.isNone(info)) continue
          yield* host.ip(["route", "del", ipRange, "dev", name]).pipe(Effect.ignore)
          yield* host.ip(["link", "del", "dev", name]).pipe(Effect.mapError(ipErr(`removing ${name}`)))
        }
        const net = yield* optional(docker.inspectNetwork(LAN_NETWORK)).pipe(
          Effect.mapError(dockerErr(null, "inspect"))
        )
        if (Option.isNone(net)) return
        const attached = Object.values(net.value.Containers).map((c) => c.Name)
        if (attached.length > 0)
          return yield* err(
            null,
            `${LAN_NETWORK} still has containers (${attached.join(", ")}): take the deckies down first`
          )
        yield* docker.removeNetwork(net.value.Id).pipe(
          Effect.catchIf(isNotFound, () => Effect.void),
          Effect.mapError(dockerErr(null, "remove"))
        )
        yield* Effect.logInfo(`${LAN_NETWORK} and the host helper removed`)
      }).pipe(Effect.withSpan("DockerRuntime.release"))

    // ---- deckies -----------------------------------------------------------------------------------

    const resolveImage = (decky: Decky) =>
      Effect.gen(function* () {
        const wanted = deckyImage(decky.distro)
        const found = yield* optional(docker.inspectImage(wanted))
        if (Option.isSome(found)) return { ref: wanted, id: found.value.Id }
        const fallback = deckyImage(FALLBACK_DISTRO)
        if (wanted !== fallback) {
          const image = yield* optional(docker.inspectImage(fallback))
          if (Option.isSome(image)) {
            yield* Effect.logWarning(
              `decky ${decky.name}: there is no ${wanted} image (distro ${decky.distro}); running it on ${fallback}`
            )
            return { ref: fallback, id: image.value.Id }
          }
        }
        return yield* err(
          decky.name,
          `${decky.name}: the image ${fallback} is missing; build it with: decnet images build`
        )
      }).pipe(Effect.catchTag("DockerError", (e) => Effect.fail(dockerErr(decky.name, "image")(e))))

    /** The container named `name` if DECNET made it; a foreign container of that name is an error. */
    const ownContainer = (name: string) =>
      Effect.gen(function* () {
        const found = yield* optional(docker.inspectContainer(name)).pipe(
          Effect.mapError(dockerErr(name, "inspect"))
        )
        if (Option.isSome(found) && found.value.Config.Labels[LABEL_DECKY] !== name)
          return yield* err(
            name,
            `${name}: a container with this name exists that is not a DECNET decky; remove or rename it`
          )
        return found
      })

    const removeContainer = (c: ContainerDetails) =>
      docker.stopContainer(c.Id, { timeoutSeconds: stopTimeoutSeconds }).pipe(
        Effect.catchIf(isNotFound, () => Effect.void),
        Effect.zipRight(docker.removeContainer(c.Id, { force: true })),
        Effect.catchIf(isNotFound, () => Effect.void)
      )

    /** Follow the new container's output until every service said `startup`, or it exits, or time runs out. */
    const waitReady = (id: string, decky: Decky) =>
      Effect.gen(function* () {
        const expected: ReadonlyArray<string> = decky.services
        // Progress lives in a Ref, not the fold's state, so the timeout's message can name what is missing.
        const progress = yield* Ref.make<Readiness>({ seen: NONE_SEEN, stderr: [] })
        const missing = Effect.map(Ref.get(progress), (p) => expected.filter((s) => !p.seen.has(s)))
        const observe = (line: LogLine) =>
          Ref.updateAndGet(progress, (p): Readiness => {
            if (line.stream === "stderr")
              return { ...p, stderr: [...p.stderr, line.line].slice(-STDERR_TAIL) }
            return Option.match(startupOf(line.line, decky.name), {
              onNone: () => p,
              onSome: (service) =>
                expected.includes(service) ? { ...p, seen: new Set([...p.seen, service]) } : p
            })
          })
        const timedOut = yield* docker.containerLogs(id, { follow: true, stdout: true, stderr: true }).pipe(
          Stream.mapEffect(observe),
          Stream.takeUntil((p) => p.seen.size === expected.length),
          Stream.runDrain,
          Effect.mapError(dockerErr(decky.name, "reading its output")),
          Effect.timeoutTo({ duration: readyTimeout, onSuccess: () => false, onTimeout: () => true })
        )
        const left = yield* missing
        if (left.length === 0) return
        if (timedOut)
          return yield* err(
            decky.name,
            `${decky.name}: not every service started within ${Duration.format(readyTimeout)} (missing: ${left.join(", ")})`
          )
        // The output ended first: the decky stopped.
        const state = yield* docker
          .inspectContainer(id)
          .pipe(Effect.mapError(dockerErr(decky.name, "inspect")))
        const { stderr } = yield* Ref.get(progress)
        return yield* err(
          decky.name,
          `${decky.name}: the decky ${state.State.Running ? "closed its output" : `exited with code ${state.State.ExitCode}`} ` +
            `before ${left.join(", ")} started${stderr.length > 0 ? `:\n${stderr.map((l) => `  ${l}`).join("\n")}` : ""}`
        )
      })

    const up = (decky: Decky, d: Deployment) =>
      Effect.gen(function* () {
        const t0 = yield* Clock.currentTimeMillis
        const image = yield* resolveImage(decky)
        const plan = deckyContainerSpec(decky, d, image, stopTimeoutSeconds)
        const ports = deckyPorts(decky.services, decky.ip)
        const existing = yield* ownContainer(decky.name)
        if (Option.isSome(existing)) {
          if (existing.value.Config.Labels[LABEL_SPEC] === plan.hash && existing.value.State.Running) {
            yield* Effect.logDebug(`decky ${decky.name}: unchanged, kept`)
            return ports
          }
          yield* removeContainer(existing.value).pipe(
            Effect.mapError(dockerErr(decky.name, "replacing its container"))
          )
        }
        yield* Effect.acquireUseRelease(
          docker
            .createContainer(plan.spec)
            .pipe(
              Effect.mapError((e) =>
                isNotFound(e)
                  ? err(
                      decky.name,
                      `${decky.name}: ${e.message} (is ${LAN_NETWORK} prepared? deploy prepares it)`
                    )
                  : dockerErr(decky.name, "create")(e)
              )
            ),
          (id) =>
            docker
              .startContainer(id)
              .pipe(Effect.mapError(dockerErr(decky.name, "start")), Effect.zipRight(waitReady(id, decky))),
          // A decky comes up whole or not at all: what this call created goes again.
          (id, exit) =>
            Exit.isSuccess(exit)
              ? Effect.void
              : docker.removeContainer(id, { force: true }).pipe(Effect.ignore)
        )
        const seconds = ((yield* Clock.currentTimeMillis) - t0) / 1000
        yield* Effect.logInfo(
          `decky ${decky.name} up on ${decky.ip}${d.ipvlan ? "" : ` (${deckyMac(decky.name)})`} in ${seconds.toFixed(2)} s: ${decky.services.join(", ")}`
        )
        return ports
      }).pipe(Effect.withSpan("DockerRuntime.up", { attributes: { decky: decky.name } }))

    const down = (name: string) =>
      Effect.gen(function* () {
        const found = yield* ownContainer(name)
        if (Option.isNone(found)) return
        yield* removeContainer(found.value).pipe(Effect.mapError(dockerErr(name, "remove")))
        yield* Effect.logInfo(`decky ${name} down`)
      }).pipe(Effect.withSpan("DockerRuntime.down", { attributes: { decky: name } }))

    // ---- status ------------------------------------------------------------------------------------

    /** Services that logged `startup` since the container last started (the first lines after a start). */
    const startedServices = (id: string, name: string, services: ReadonlyArray<string>, since: number) =>
      docker.containerLogs(id, { stdout: true, stderr: false, since }).pipe(
        Stream.take(STATUS_LOG_LINES),
        Stream.runFoldWhile(
          NONE_SEEN,
          (seen) => seen.size < services.length,
          (seen, l) =>
            Option.match(startupOf(l.line, name), {
              onNone: () => seen,
              onSome: (s) => (services.includes(s) ? new Set([...seen, s]) : seen)
            })
        ),
        Effect.timeout("5 seconds"),
        Effect.orElseSucceed(() => NONE_SEEN)
      )

    const statusOf = (c: ContainerSummary) =>
      Effect.gen(function* () {
        const name = c.Labels[LABEL_DECKY] ?? containerName(c)
        const services = (c.Labels[LABEL_SERVICES] ?? "").split(",").filter((s) => s !== "")
        const ip = c.NetworkSettings.Networks[LAN_NETWORK]?.IPAddress ?? ""
        const ports = ip === "" ? [] : deckyPorts(services, ip)
        if (c.State !== "running")
          return Option.some(
            new DeckyStatus({
              name,
              state: "failed",
              services: services.map((service) => ({ service, state: "stopped" as const })),
              ports,
              error: `container ${c.State}: ${c.Status}`
            })
          )
        const inspected = yield* optional(docker.inspectContainer(c.Id))
        // Removed between the listing and now: not a decky any more.
        if (Option.isNone(inspected)) return Option.none<DeckyStatus>()
        const details = inspected.value
        const startedMs = Date.parse(details.State.StartedAt)
        const since = Number.isFinite(startedMs) ? Math.floor(startedMs / 1000) : 0
        const started = yield* startedServices(c.Id, name, services, since)
        const missing = services.filter((s) => !started.has(s))
        const young =
          Number.isFinite(startedMs) &&
          (yield* Clock.currentTimeMillis) - startedMs < Duration.toMillis(readyTimeout)
        return Option.some(
          new DeckyStatus({
            name,
            state: missing.length === 0 ? "running" : young ? "pending" : "degraded",
            services: services.map((service) => ({
              service,
              state: started.has(service) ? ("running" as const) : ("absent" as const)
            })),
            ports,
            error: missing.length === 0 ? null : `not started: ${missing.join(", ")}`
          })
        )
      })

    const status = Effect.gen(function* () {
      const containers = yield* docker.listContainers({ labels: { [LABEL_SERVICE]: "true" }, all: true })
      const rows = yield* Effect.forEach(containers, statusOf, { concurrency: 4 })
      return rows.flatMap(Option.toArray).sort((a, b) => a.name.localeCompare(b.name))
    }).pipe(Effect.mapError(dockerErr(null, "status")), Effect.withSpan("DockerRuntime.status"))

    return { kind: "docker", prepare, up, down, release, status } satisfies DeckyRuntimeService
  })

/** The Docker runtime over a given `HostNetwork` (tests record `ip` calls). */
export const DockerRuntime = (
  options: DockerRuntimeOptions = {}
): Layer.Layer<DeckyRuntime, never, Docker | HostNetwork> =>
  Layer.effect(DeckyRuntime, makeDockerRuntime(options))

/** The production layer: the Docker runtime with iproute2 for the host side. */
export const DockerRuntimeLive = (options: DockerRuntimeOptions = {}) =>
  DockerRuntime(options).pipe(Layer.provide(HostNetworkLive))
