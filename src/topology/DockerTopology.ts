/**
 * `DockerTopology`: the `TopologyRuntime` on a Docker engine (spec/topology.md §6, §8), through the
 * `Docker` service only (no compose). One bridge network per LAN (internal for all but the DMZ), two
 * containers per decky (the base holding its multi-homed namespace, the services container running
 * `decnet decky`; see DockerTopologyPlan.ts), and on the host the DOCKER-USER accept rules and in-namespace
 * routes that let L3 forwarders route between LANs (TopologyHost). Every operation is idempotent; deploy
 * removes what it created when it fails. docs/topology.md "Docker runtime" says why it is built this way.
 */
import { Context, Duration, Effect, Either, Layer, Option, Ref, Stream } from "effect"
import { type ContainerSpec, Docker } from "../docker/Docker.js"
import { type DockerError, isConflict, isNotFound } from "../docker/DockerError.js"
import { type ContainerDetails, type ContainerSummary, containerName } from "../docker/Model.js"
import { startupOf } from "../fleet/DeckyContainer.js"
import { deckyImage, FALLBACK_DISTRO } from "../fleet/Images.js"
import {
  baseContainerName,
  baseContainerSpec,
  bridgeOf,
  bridgeRule,
  type ContainerOptions,
  canonicalSubnet,
  DOCKER_USER,
  type DeckyPlan,
  decodeRoutes,
  LABEL_LAN,
  LABEL_ROLE,
  LABEL_TOPOLOGY,
  type LanPlan,
  NAME_PREFIX,
  namePrefix,
  networkName,
  parseChainRules,
  planDecky,
  planLan,
  planRoutes,
  planTopology,
  prefixOf,
  type Route,
  routeChanges,
  servicesContainerName,
  servicesContainerSpec,
  type TopologyPlan
} from "./DockerTopologyPlan.js"
import type { DeckyRow, LanRow, TopologyDetail } from "./Model.js"
import { teardownOrder } from "./Order.js"
import {
  type DeckyMaterialState,
  deckyNameOf,
  nothingReaped,
  type ReapReport,
  TopologyRuntime,
  TopologyRuntimeError,
  type TopologyRuntimeService
} from "./Runtime.js"
import { TopologyHost, type TopologyHostError, TopologyHostLive } from "./TopologyHost.js"

export interface DockerTopologyOptions {
  /** The image both containers of a decky run (default `decnet-decky:debian`, `decnet images build`). */
  readonly image?: string | undefined
  /** How long deploy and the live ops wait for every service's `startup` line (default 30 s). */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** SIGTERM grace of the services container before SIGKILL (default 5 s). */
  readonly stopTimeoutSeconds?: number | undefined
  /** Publish the forwarding deckies' service ports on this host address (spec §6); default: none. */
  readonly publishHostIp?: string | undefined
  /** Deckies created, routed or inspected at once (default 4). */
  readonly concurrency?: number | undefined
}

interface Created {
  readonly networks: ReadonlyArray<string>
  readonly containers: ReadonlyArray<string>
  readonly rules: ReadonlyArray<ReadonlyArray<string>>
}

const HOST_HINT = "the Docker topology runtime runs iptables and nsenter as root on the engine's host"

/**
 * What brings a deployed topology back after the engine restarted one of its bases (`docker restart`, an
 * engine restart): Docker gives the base a new network namespace, with its addresses and sysctls but
 * without the routes this runtime added, and the services container is left in the old one, which has only
 * `lo`. The keeper (DockerKeeper.ts) calls it on each base's start.
 */
export interface DockerTopologyRepairService {
  /**
   * Restart every services container that started before its base (into the base's new namespace), then
   * sync the rules and every running base's routes. Idempotent; returns the deckies whose services restarted.
   */
  readonly repair: (topology: TopologyDetail) => Effect.Effect<ReadonlyArray<string>, TopologyRuntimeError>
}

export class DockerTopologyRepair extends Context.Tag("decnet/DockerTopologyRepair")<
  DockerTopologyRepair,
  DockerTopologyRepairService
>() {}

export const makeDockerTopology = (
  options: DockerTopologyOptions = {}
): Effect.Effect<TopologyRuntimeService, never, Docker | TopologyHost> =>
  Effect.map(makeDockerTopologyParts(options), (parts) => parts.runtime)

const makeDockerTopologyParts = (
  options: DockerTopologyOptions
): Effect.Effect<
  { readonly runtime: TopologyRuntimeService; readonly repair: DockerTopologyRepairService },
  never,
  Docker | TopologyHost
> =>
  Effect.gen(function* () {
    const docker = yield* Docker
    const host = yield* TopologyHost
    const image = options.image ?? deckyImage(FALLBACK_DISTRO)
    const readyTimeout = Duration.decode(options.readyTimeout ?? "30 seconds")
    const concurrency = options.concurrency ?? 4
    const containerOptions: ContainerOptions = {
      image,
      stopTimeoutSeconds: options.stopTimeoutSeconds ?? 5,
      publishHostIp: options.publishHostIp
    }

    const err = (target: string | null, message: string) => new TopologyRuntimeError({ target, message })
    const dockerErr = (target: string | null, what: string) => (e: DockerError) =>
      err(target, `${what}: ${e.message}`)
    const hostErr = (target: string | null, what: string) => (e: TopologyHostError) =>
      err(target, `${what}: ${e.message} (${HOST_HINT})`)
    const fromEither = <A>(e: Either.Either<A, TopologyRuntimeError>) =>
      Either.match(e, { onLeft: Effect.fail, onRight: Effect.succeed })

    /** `x`, or None when the engine says it does not exist. */
    const optional = <A>(effect: Effect.Effect<A, DockerError>) =>
      effect.pipe(
        Effect.map(Option.some),
        Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<A>()))
      )
    const ignoreNotFound = (effect: Effect.Effect<void, DockerError>) =>
      effect.pipe(Effect.catchIf(isNotFound, () => Effect.void))

    const checkImage = docker.inspectImage(image).pipe(
      Effect.asVoid,
      Effect.catchTag("DockerError", (e) =>
        Effect.fail(
          isNotFound(e)
            ? err(null, `the image ${image} is missing; build it with: decnet images build`)
            : dockerErr(null, `image ${image}`)(e)
        )
      )
    )

    // ---- networks --------------------------------------------------------------------------------------

    /** The LAN's bridge as planned; true when this call created it. Another topology's network is an error. */
    const ensureNetwork = (topologyId: string, lan: LanPlan) =>
      Effect.gen(function* () {
        const existing = yield* optional(docker.inspectNetwork(lan.network))
        if (Option.isSome(existing)) {
          const n = existing.value
          if (n.Labels[LABEL_TOPOLOGY] !== topologyId)
            return yield* err(
              lan.name,
              `a network named ${lan.network} exists that is not this topology's; remove it (or reap orphans)`
            )
          const pool = n.IPAM.Config[0]?.Subnet ?? ""
          const same =
            n.Driver === "bridge" &&
            n.Internal === lan.internal &&
            n.IPAM.Config.length === 1 &&
            Option.getOrElse(canonicalSubnet(pool), () => pool) === lan.subnet
          if (same) return false
          for (const id of Object.keys(n.Containers))
            yield* ignoreNotFound(docker.disconnectNetwork(n.Id, id, { force: true }))
          yield* ignoreNotFound(docker.removeNetwork(n.Id))
          yield* Effect.logInfo(`${lan.network}: removed (it no longer matched the LAN), recreating it`)
        }
        yield* docker.createNetwork({
          name: lan.network,
          driver: "bridge",
          internal: lan.internal,
          labels: { [LABEL_TOPOLOGY]: topologyId, [LABEL_LAN]: lan.name },
          ipam: [{ subnet: lan.subnet }]
        })
        return true
      }).pipe(
        Effect.catchTag("DockerError", (e) => Effect.fail(dockerErr(lan.name, `network ${lan.network}`)(e)))
      )

    /** Remove a network, force-disconnecting whatever is still on it; gone already is success. */
    const dropNetwork = (name: string) =>
      Effect.gen(function* () {
        const found = yield* optional(docker.inspectNetwork(name))
        if (Option.isNone(found)) return false
        for (const id of Object.keys(found.value.Containers))
          yield* ignoreNotFound(docker.disconnectNetwork(found.value.Id, id, { force: true }))
        yield* ignoreNotFound(docker.removeNetwork(found.value.Id))
        return true
      })

    // ---- containers ------------------------------------------------------------------------------------

    /** The container named `name` if this topology made it; any other container of that name is an error. */
    const ownContainer = (topologyId: string, name: string) =>
      Effect.gen(function* () {
        const found = yield* optional(docker.inspectContainer(name)).pipe(
          Effect.mapError(dockerErr(name, `inspect ${name}`))
        )
        if (Option.isSome(found) && found.value.Config.Labels[LABEL_TOPOLOGY] !== topologyId)
          return yield* err(name, `a container named ${name} exists that is not this topology's; remove it`)
        return found
      })

    const removeServices = (topologyId: string, name: string) =>
      Effect.gen(function* () {
        const found = yield* ownContainer(topologyId, name)
        if (Option.isNone(found)) return
        yield* ignoreNotFound(
          docker.stopContainer(found.value.Id, { timeoutSeconds: containerOptions.stopTimeoutSeconds })
        ).pipe(
          Effect.zipRight(ignoreNotFound(docker.removeContainer(found.value.Id, { force: true }))),
          Effect.mapError(dockerErr(name, `remove ${name}`))
        )
      })

    const removeBase = (topologyId: string, name: string) =>
      Effect.gen(function* () {
        const found = yield* ownContainer(topologyId, name)
        if (Option.isNone(found)) return
        yield* ignoreNotFound(docker.removeContainer(found.value.Id, { force: true })).pipe(
          Effect.mapError(dockerErr(name, `remove ${name}`))
        )
      })

    const removeDeckyContainers = (topologyId: string, decky: string) =>
      removeServices(topologyId, servicesContainerName(topologyId, decky)).pipe(
        Effect.zipRight(removeBase(topologyId, baseContainerName(topologyId, decky)))
      )

    const createStarted = (spec: ContainerSpec, track: (id: string) => Effect.Effect<void>) =>
      Effect.gen(function* () {
        const id = yield* docker.createContainer(spec)
        yield* track(id)
        yield* docker.startContainer(id)
        return id
      })

    const createServices = (topologyId: string, d: DeckyPlan, track: (id: string) => Effect.Effect<void>) =>
      d.services.length === 0
        ? Effect.void
        : createStarted(servicesContainerSpec(topologyId, d, containerOptions), track).pipe(
            Effect.asVoid,
            Effect.mapError(dockerErr(d.name, `services container ${d.servicesContainer}`))
          )

    /** Both containers of a decky, started; a leftover of this topology with the same name is replaced. */
    const createDecky = (topologyId: string, d: DeckyPlan, track: (id: string) => Effect.Effect<void>) =>
      Effect.gen(function* () {
        if (d.skipped.length > 0)
          yield* Effect.logWarning(
            `decky ${d.name}: ${d.skipped.join(", ")} not run (no emulator for it yet, or a fleet singleton)`
          )
        yield* removeDeckyContainers(topologyId, d.name)
        yield* createStarted(baseContainerSpec(topologyId, d, containerOptions), track).pipe(
          Effect.mapError((e) =>
            isNotFound(e)
              ? err(d.name, `base container ${d.base}: ${e.message} (is every LAN of the decky deployed?)`)
              : dockerErr(d.name, `base container ${d.base}`)(e)
          )
        )
        yield* createServices(topologyId, d, track)
      }).pipe(Effect.withSpan("DockerTopology.createDecky", { attributes: { decky: d.name } }))

    /** Until every service said `startup`, the container stopped, or the time ran out; never fails. */
    const waitReady = (d: DeckyPlan) =>
      Effect.gen(function* () {
        if (d.services.length === 0) return
        const seen = yield* Ref.make<ReadonlySet<string>>(new Set())
        const outcome = yield* docker
          .containerLogs(d.servicesContainer, { follow: true, stdout: true, stderr: false })
          .pipe(
            Stream.mapEffect((line) =>
              Option.match(startupOf(line.line, d.name), {
                onNone: () => Ref.get(seen),
                onSome: (s) =>
                  Ref.updateAndGet(seen, (xs) => (d.services.includes(s) ? new Set([...xs, s]) : xs))
              })
            ),
            Stream.takeUntil((xs) => xs.size >= d.services.length),
            Stream.runDrain,
            Effect.timeoutTo({
              duration: readyTimeout,
              onSuccess: () => "ended",
              onTimeout: () => "timeout"
            }),
            Effect.either
          )
        const started = yield* Ref.get(seen)
        const missing = d.services.filter((s) => !started.has(s))
        if (missing.length === 0) return
        const why = Either.isLeft(outcome)
          ? `its output could not be read (${outcome.left.message})`
          : outcome.right === "timeout"
            ? `not within ${Duration.format(readyTimeout)}`
            : "the services container stopped"
        yield* Effect.logWarning(`decky ${d.name}: ${missing.join(", ")} did not start: ${why}`)
      })

    const waitAllReady = (deckies: ReadonlyArray<DeckyPlan>) =>
      Effect.forEach(deckies, waitReady, { concurrency: "unbounded", discard: true })

    // ---- the host: DOCKER-USER rules and routes ---------------------------------------------------------

    const listRules = (prefix: string) =>
      host
        .iptables(["-S", DOCKER_USER])
        .pipe(Effect.map((out) => parseChainRules(out).filter((r) => r.comment.startsWith(prefix))))

    const deleteRule = (spec: ReadonlyArray<string>) => host.iptables(["-D", DOCKER_USER, ...spec])

    /**
     * The topology's accept rules, exactly one per LAN bridge when it has a forwarder and none otherwise;
     * returns the rules it added. Without a forwarder, a host where iptables cannot run is no error.
     */
    const syncRules = (plan: TopologyPlan) =>
      Effect.gen(function* () {
        const routed = plan.deckies.some((d) => d.forwardsL3)
        const listed = yield* Effect.either(listRules(namePrefix(plan.topologyId)))
        if (Either.isLeft(listed)) {
          if (!routed) return []
          return yield* hostErr(null, "listing the DOCKER-USER chain")(listed.left)
        }
        const wanted: Array<ReadonlyArray<string>> = []
        if (routed)
          for (const lan of plan.lans) {
            const net = yield* docker
              .inspectNetwork(lan.network)
              .pipe(Effect.mapError(dockerErr(lan.name, `network ${lan.network}`)))
            wanted.push(bridgeRule(bridgeOf(net), lan.network))
          }
        const key = (spec: ReadonlyArray<string>) => spec.join(" ")
        const want = new Set(wanted.map(key))
        const have = new Set(listed.right.map((r) => key(r.spec)))
        for (const r of listed.right)
          if (!want.has(key(r.spec)))
            yield* deleteRule(r.spec).pipe(Effect.mapError(hostErr(r.comment, "removing a DOCKER-USER rule")))
        const added = wanted.filter((spec) => !have.has(key(spec)))
        for (const spec of added)
          yield* host
            .iptables(["-I", DOCKER_USER, ...spec])
            .pipe(Effect.mapError(hostErr(null, "adding a DOCKER-USER rule")))
        return added
      })

    /** The base's init process, when it runs (the routes live in its network namespace). */
    const basePid = (name: string) =>
      optional(docker.inspectContainer(name)).pipe(
        Effect.map((c) =>
          Option.flatMap(c, (x) =>
            x.State.Running && x.State.Pid > 0 ? Option.some(x.State.Pid) : Option.none()
          )
        ),
        Effect.mapError(dockerErr(name, `inspect ${name}`))
      )

    const syncDeckyRoutes = (d: DeckyPlan, wanted: ReadonlyArray<Route>) =>
      Effect.gen(function* () {
        const pid = yield* basePid(d.base)
        if (Option.isNone(pid)) return
        const inNs = (args: ReadonlyArray<string>) =>
          host.ipInNetns(pid.value, args).pipe(Effect.mapError(hostErr(d.name, `routes of ${d.name}`)))
        const listed = yield* Effect.either(inNs(["-4", "-j", "route", "show"]))
        if (Either.isLeft(listed)) {
          // Nothing to add: a host without nsenter/root is fine for a topology without forwarders.
          if (wanted.length === 0) return
          return yield* listed.left
        }
        const current = yield* Either.match(decodeRoutes(listed.right), {
          onLeft: (e) =>
            Effect.fail(err(d.name, `routes of ${d.name}: unreadable ip -j output: ${e.message}`)),
          onRight: Effect.succeed
        })
        const changes = routeChanges(current, wanted)
        for (const r of changes.remove) yield* inNs(["route", "del", r.dst, "via", r.via])
        for (const r of changes.replace) yield* inNs(["route", "replace", r.dst, "via", r.via])
      })

    const syncRoutes = (plan: TopologyPlan) => {
      const routes = planRoutes(plan)
      return Effect.forEach(plan.deckies, (d) => syncDeckyRoutes(d, routes.get(d.name) ?? []), {
        concurrency,
        discard: true
      })
    }

    /** Make the host match the topology: rules for its bridges, routes in every running decky. */
    const syncHost = (plan: TopologyPlan) =>
      syncRules(plan).pipe(
        Effect.tap(() => syncRoutes(plan)),
        Effect.withSpan("DockerTopology.syncHost")
      )

    // ---- deploy, inspect, teardown ---------------------------------------------------------------------

    const rollback = (created: Created) =>
      Effect.gen(function* () {
        for (const id of created.containers)
          yield* docker.removeContainer(id, { force: true }).pipe(Effect.ignore)
        for (const spec of created.rules) yield* deleteRule(spec).pipe(Effect.ignore)
        for (const name of [...created.networks].reverse()) yield* dropNetwork(name).pipe(Effect.ignore)
        yield* Effect.logInfo(
          `topology rollback: removed ${created.containers.length} container(s), ${created.rules.length} rule(s), ` +
            `${created.networks.length} network(s)`
        )
      })

    const deploy = Effect.fn("DockerTopology.deploy")(function* (topology: TopologyDetail) {
      const plan = yield* fromEither(planTopology(topology))
      yield* checkImage
      const created = yield* Ref.make<Created>({ networks: [], containers: [], rules: [] })
      const track = (id: string) => Ref.update(created, (c) => ({ ...c, containers: [...c.containers, id] }))
      yield* Effect.gen(function* () {
        for (const lan of plan.lans)
          if (yield* ensureNetwork(plan.topologyId, lan))
            yield* Ref.update(created, (c) => ({ ...c, networks: [...c.networks, lan.network] }))
        yield* Effect.forEach(plan.deckies, (d) => createDecky(plan.topologyId, d, track), {
          concurrency,
          discard: true
        })
        const rules = yield* syncRules(plan)
        yield* Ref.update(created, (c) => ({ ...c, rules }))
        yield* syncRoutes(plan)
      }).pipe(Effect.onError(() => Effect.flatMap(Ref.get(created), rollback)))
      yield* waitAllReady(plan.deckies)
    })

    const stateOf = (c: ContainerDetails) => `${c.State.Status} (exit=${c.State.ExitCode})`

    const inspect = Effect.fn("DockerTopology.inspect")(function* (topology: TopologyDetail) {
      const topologyId = topology.topology.id
      const listed = yield* docker
        .listContainers({ labels: { [LABEL_TOPOLOGY]: topologyId }, all: true })
        .pipe(Effect.mapError(dockerErr(null, "docker list failed")))
      const byName = new Map<string, ContainerSummary>(listed.map((c) => [containerName(c), c]))
      const stateOfNamed = (name: string) =>
        Effect.gen(function* () {
          const c = byName.get(name)
          if (c === undefined) return Option.some("absent")
          if (c.State === "running") return Option.none<string>()
          const details = yield* optional(docker.inspectContainer(c.Id)).pipe(
            Effect.mapError(dockerErr(name, `inspect ${name}`))
          )
          return Option.some(Option.match(details, { onNone: () => "absent", onSome: stateOf }))
        })
      return yield* Effect.forEach(
        topology.deckies,
        (row) =>
          Effect.gen(function* () {
            const name = deckyNameOf(row)
            const planned = planDecky(topology, row)
            if (Either.isLeft(planned))
              return {
                decky: name,
                state: "failed",
                detail: planned.left.message
              } satisfies DeckyMaterialState
            const d = planned.right
            const base = yield* stateOfNamed(d.base)
            if (Option.isSome(base)) return { decky: name, state: "failed", detail: base.value } as const
            if (d.services.length > 0) {
              const services = yield* stateOfNamed(d.servicesContainer)
              if (Option.isSome(services))
                return { decky: name, state: "failed", detail: `services ${services.value}` } as const
            }
            return { decky: name, state: "running", detail: "running" } as const
          }),
        { concurrency }
      )
    })

    const teardown = Effect.fn("DockerTopology.teardown")(function* (topology: TopologyDetail) {
      const topologyId = topology.topology.id
      const errors: Array<string> = []
      const note = (what: string) => (e: { readonly message: string }) =>
        Effect.sync(() => void errors.push(`${what}: ${e.message}`))
      const containers = yield* docker
        .listContainers({ labels: { [LABEL_TOPOLOGY]: topologyId }, all: true })
        .pipe(Effect.mapError(dockerErr(null, "docker list failed")))
      // Services first: they live in their base's namespace.
      const ordered = [
        ...containers.filter((c) => c.Labels[LABEL_ROLE] !== "base"),
        ...containers.filter((c) => c.Labels[LABEL_ROLE] === "base")
      ]
      for (const c of ordered)
        yield* ignoreNotFound(docker.removeContainer(c.Id, { force: true })).pipe(
          Effect.catchAll(note(`container '${containerName(c)}'`))
        )
      const rules = yield* Effect.either(listRules(namePrefix(topologyId)))
      if (Either.isRight(rules))
        for (const r of rules.right)
          yield* deleteRule(r.spec).pipe(Effect.catchAll(note(`DOCKER-USER rule '${r.comment}'`)))
      const lanNetworks = teardownOrder(topology.lans).map((l) => networkName(topologyId, l))
      // Networks of LANs the rows no longer have (a removed LAN whose network outlived it) go first.
      const labelled = yield* docker
        .listNetworks({ labels: { [LABEL_TOPOLOGY]: topologyId } })
        .pipe(Effect.mapError(dockerErr(null, "docker list failed")))
      const leftovers = labelled.map((n) => n.Name).filter((n) => !lanNetworks.includes(n))
      for (const name of [...leftovers.sort(), ...lanNetworks])
        yield* dropNetwork(name).pipe(Effect.catchAll(note(`network '${name}'`)))
      if (errors.length > 0) return yield* err(null, `teardown left: ${errors.join("; ")}`)
    })

    // ---- live edits -------------------------------------------------------------------------------------

    const noTrack = () => Effect.void

    const addLan = Effect.fn("DockerTopology.addLan")(function* (topology: TopologyDetail, lan: LanRow) {
      const plan = yield* fromEither(planTopology(topology))
      const lanPlan = yield* fromEither(planLan(plan.topologyId, lan))
      yield* ensureNetwork(plan.topologyId, lanPlan)
      yield* syncHost(plan)
    })

    const removeLan = Effect.fn("DockerTopology.removeLan")(function* (
      topology: TopologyDetail,
      lan: LanRow
    ) {
      const plan = yield* fromEither(planTopology(topology))
      const name = networkName(plan.topologyId, lan.name)
      yield* dropNetwork(name).pipe(Effect.mapError(dockerErr(lan.name, `network ${name}`)))
      yield* syncHost(plan)
    })

    const addDecky = Effect.fn("DockerTopology.addDecky")(function* (
      topology: TopologyDetail,
      decky: DeckyRow
    ) {
      const plan = yield* fromEither(planTopology(topology))
      const d = yield* fromEither(planDecky(topology, decky))
      yield* checkImage
      const made = yield* Ref.make<ReadonlyArray<string>>([])
      yield* createDecky(plan.topologyId, d, (id) => Ref.update(made, (xs) => [...xs, id])).pipe(
        Effect.onError(() =>
          Effect.flatMap(Ref.get(made), (ids) =>
            Effect.forEach(ids, (id) => docker.removeContainer(id, { force: true }).pipe(Effect.ignore))
          )
        )
      )
      yield* syncHost(plan)
      yield* waitReady(d)
    })

    const removeDecky = Effect.fn("DockerTopology.removeDecky")(function* (
      topology: TopologyDetail,
      decky: DeckyRow
    ) {
      const plan = yield* fromEither(planTopology(topology))
      yield* removeDeckyContainers(plan.topologyId, deckyNameOf(decky))
      yield* syncHost(plan)
    })

    const onNetwork = (base: string, network: string) =>
      optional(docker.inspectContainer(base)).pipe(
        Effect.map(Option.map((c) => Object.hasOwn(c.NetworkSettings.Networks, network))),
        Effect.mapError(dockerErr(base, `inspect ${base}`))
      )

    const attach = Effect.fn("DockerTopology.attach")(function* (
      topology: TopologyDetail,
      decky: DeckyRow,
      lan: LanRow,
      ip: string
    ) {
      const plan = yield* fromEither(planTopology(topology))
      const name = deckyNameOf(decky)
      const base = baseContainerName(plan.topologyId, name)
      const network = networkName(plan.topologyId, lan.name)
      const member = yield* onNetwork(base, network)
      if (Option.isNone(member))
        return yield* err(name, `decky '${name}' is not deployed (no container ${base})`)
      if (!member.value) {
        // A route this decky had towards the LAN would shadow the LAN's own once it is on it.
        const subnet = canonicalSubnet(lan.subnet)
        const pid = yield* basePid(base)
        if (Option.isSome(pid) && Option.isSome(subnet))
          yield* host.ipInNetns(pid.value, ["route", "del", subnet.value]).pipe(Effect.ignore)
        // The engine answers "conflict" both for "already on it" (success) and for an address in use.
        const refused = yield* docker.connectNetwork(network, base, { ipv4Address: ip }).pipe(
          Effect.as(Option.none<DockerError>()),
          Effect.catchIf(isConflict, (e) => Effect.succeed(Option.some(e))),
          Effect.mapError(dockerErr(name, `attach to ${network}`))
        )
        if (Option.isSome(refused) && !Option.getOrElse(yield* onNetwork(base, network), () => false))
          return yield* dockerErr(name, `attach to ${network}`)(refused.value)
      }
      yield* syncHost(plan)
    })

    const detach = Effect.fn("DockerTopology.detach")(function* (
      topology: TopologyDetail,
      decky: DeckyRow,
      lan: LanRow
    ) {
      const plan = yield* fromEither(planTopology(topology))
      const name = deckyNameOf(decky)
      const base = baseContainerName(plan.topologyId, name)
      const network = networkName(plan.topologyId, lan.name)
      const member = yield* onNetwork(base, network)
      if (Option.getOrElse(member, () => false))
        yield* ignoreNotFound(docker.disconnectNetwork(network, base)).pipe(
          Effect.mapError(dockerErr(name, `detach from ${network}`))
        )
      yield* syncHost(plan)
    })

    const updateServices = Effect.fn("DockerTopology.updateServices")(function* (
      topology: TopologyDetail,
      decky: DeckyRow,
      added: ReadonlyArray<string>,
      removed: ReadonlyArray<string>
    ) {
      if (added.length === 0 && removed.length === 0) return
      const plan = yield* fromEither(planTopology(topology))
      const d = yield* fromEither(planDecky(topology, decky))
      yield* checkImage
      const base = yield* ownContainer(plan.topologyId, d.base)
      if (Option.isNone(base) || !base.value.State.Running) {
        // The namespace is gone too: the whole decky comes back.
        yield* createDecky(plan.topologyId, d, noTrack)
        yield* syncHost(plan)
      } else {
        // One process serves all the decky's services: it restarts with the new list; the namespace
        // (addresses, routes) stays.
        yield* removeServices(plan.topologyId, d.servicesContainer)
        yield* createServices(plan.topologyId, d, noTrack)
      }
      yield* waitReady(d)
    })

    const recreate = Effect.fn("DockerTopology.recreate")(function* (
      topology: TopologyDetail,
      decky: DeckyRow
    ) {
      const plan = yield* fromEither(planTopology(topology))
      const d = yield* fromEither(planDecky(topology, decky))
      yield* checkImage
      yield* createDecky(plan.topologyId, d, noTrack)
      yield* syncHost(plan)
      yield* waitReady(d)
    })

    // ---- after a base restarted -------------------------------------------------------------------------

    /** Since when a container runs (ms), if it does. */
    const runningSince = (name: string) =>
      optional(docker.inspectContainer(name)).pipe(
        Effect.map((c) =>
          Option.flatMap(c, (x) => {
            const at = Date.parse(x.State.StartedAt)
            return x.State.Running && Number.isFinite(at) ? Option.some({ id: x.Id, at }) : Option.none()
          })
        ),
        Effect.mapError(dockerErr(name, `inspect ${name}`))
      )

    /** The services container back in its base's namespace, when it started before the base did. */
    const rejoin = (d: DeckyPlan) =>
      Effect.gen(function* () {
        if (d.services.length === 0) return false
        const base = yield* runningSince(d.base)
        const services = yield* runningSince(d.servicesContainer)
        if (Option.isNone(base) || Option.isNone(services) || services.value.at >= base.value.at) return false
        yield* docker
          .stopContainer(services.value.id, { timeoutSeconds: containerOptions.stopTimeoutSeconds })
          .pipe(
            Effect.zipRight(docker.startContainer(services.value.id)),
            Effect.mapError(dockerErr(d.name, `restarting ${d.servicesContainer}`))
          )
        yield* Effect.logInfo(`decky ${d.name}: its base restarted; ${d.servicesContainer} restarted into it`)
        return true
      })

    const repair = Effect.fn("DockerTopology.repair")(function* (topology: TopologyDetail) {
      const plan = yield* fromEither(planTopology(topology))
      const rejoined = yield* Effect.forEach(
        plan.deckies,
        (d) => Effect.map(rejoin(d), (r) => (r ? [d.name] : [])),
        {
          concurrency
        }
      )
      yield* syncHost(plan)
      return rejoined.flat()
    })

    // ---- the reaper ---------------------------------------------------------------------------------------

    const reapOrphans = (liveTopologyIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const { live_prefixes: live } = nothingReaped(liveTopologyIds)
        const listed = yield* Effect.either(
          Effect.all([
            docker.listContainers({ name: NAME_PREFIX, all: true }),
            docker.listNetworks({ name: NAME_PREFIX })
          ])
        )
        if (Either.isLeft(listed))
          return nothingReaped(liveTopologyIds, [`docker list failed: ${listed.left.message}`])
        const [containers, networks] = listed.right
        const orphanOf = (name: string) => Option.filter(prefixOf(name), (p) => !live.includes(p))
        const rules = yield* Effect.either(listRules(NAME_PREFIX))
        const orphanRules = Either.isRight(rules)
          ? rules.right.filter((r) => Option.isSome(orphanOf(r.comment)))
          : []
        const orphanContainers = containers
          .map((c) => ({ id: c.Id, name: containerName(c) }))
          .filter((c) => Option.isSome(orphanOf(c.name)))
          .sort((a, b) => (a.name < b.name ? -1 : 1))
        const orphanNetworks = networks
          .map((n) => ({ id: n.Id, name: n.Name }))
          .filter((n) => Option.isSome(orphanOf(n.name)))
          .sort((a, b) => (a.name < b.name ? -1 : 1))
        const prefixes = new Set<string>()
        for (const x of [
          ...orphanContainers,
          ...orphanNetworks,
          ...orphanRules.map((r) => ({ name: r.comment }))
        ])
          Option.map(prefixOf(x.name), (p) => prefixes.add(p))
        const errors: Array<string> = []
        const containersRemoved: Array<string> = []
        for (const c of orphanContainers)
          yield* ignoreNotFound(docker.removeContainer(c.id, { force: true })).pipe(
            Effect.match({
              onFailure: (e) => void errors.push(`container '${c.name}': ${e.message}`),
              onSuccess: () => void containersRemoved.push(c.name)
            })
          )
        const networksRemoved: Array<string> = []
        for (const n of orphanNetworks)
          yield* ignoreNotFound(docker.removeNetwork(n.id)).pipe(
            Effect.match({
              onFailure: (e) => void errors.push(`network '${n.name}': ${e.message}`),
              onSuccess: () => void networksRemoved.push(n.name)
            })
          )
        for (const r of orphanRules)
          yield* deleteRule(r.spec).pipe(
            Effect.catchAll((e) =>
              Effect.sync(() => void errors.push(`DOCKER-USER rule '${r.comment}': ${e.message}`))
            )
          )
        if (orphanContainers.length + orphanNetworks.length + orphanRules.length > 0)
          yield* Effect.logInfo(
            `reaper: removed ${containersRemoved.length} container(s), ${networksRemoved.length} network(s), ` +
              `${orphanRules.length} rule(s) of ${[...prefixes].sort().join(", ")}`
          )
        return {
          live_prefixes: live,
          orphan_prefixes: [...prefixes].sort(),
          containers_removed: containersRemoved,
          networks_removed: networksRemoved,
          errors
        } satisfies ReapReport
      }).pipe(Effect.withSpan("DockerTopology.reapOrphans"))

    const runtime: TopologyRuntimeService = {
      kind: "docker",
      deploy,
      inspect,
      teardown,
      addLan,
      removeLan,
      addDecky,
      removeDecky,
      attach,
      detach,
      updateServices,
      recreate,
      reapOrphans
    }
    return { runtime, repair: { repair } }
  })

/**
 * The Docker topology runtime over a given `TopologyHost` (unit tests record the host commands), with its
 * repair after a base restart (`DockerTopologyRepair`, for the keeper).
 */
export const DockerTopology = (
  options: DockerTopologyOptions = {}
): Layer.Layer<TopologyRuntime | DockerTopologyRepair, never, Docker | TopologyHost> =>
  Layer.effectContext(
    Effect.map(makeDockerTopologyParts(options), (parts) =>
      Context.make(TopologyRuntime, parts.runtime).pipe(Context.add(DockerTopologyRepair, parts.repair))
    )
  )

/** The production layer: iptables and nsenter run on this host (needs a CommandExecutor, e.g. NodeContext). */
export const DockerTopologyLive = (options: DockerTopologyOptions = {}) =>
  DockerTopology(options).pipe(Layer.provide(TopologyHostLive))
