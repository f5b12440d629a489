/**
 * `DockerTest`: an in-memory engine for unit tests of code that uses `Docker` (fleet planning, teardown,
 * collectors). Containers, networks and images live in maps; every call is recorded for assertions;
 * failures are the same `DockerError`s the live layer produces (built through the same classifier).
 * It runs nothing: a started container only changes state, and its output is whatever the test scripts.
 */
import { createHash } from "node:crypto"
import { Context, Deferred, Effect, Either, Layer, PubSub, Ref, Stream } from "effect"
import { planConnect, planCreate } from "./CreatePlan.js"
import type { LogLine } from "./Demux.js"
import {
  BUILD_OUTPUT_TAIL,
  type BuildOptions,
  type ContainerSpec,
  Docker,
  type DockerService,
  type EndpointSpec,
  type EventsOptions,
  type LogsOptions
} from "./Docker.js"
import { DockerError, fromCause, unreachableMessage } from "./DockerError.js"
import { type LabelSelector, matchesLabels } from "./Filters.js"
import type {
  ContainerDetails,
  ContainerSummary,
  EndpointInfo,
  EngineEvent,
  ImageDetails,
  ImageSummary,
  NetworkInfo,
  ProgressEvent
} from "./Model.js"

/** One recorded call: the method name and the arguments it was given (streams as `"<stream>"`). */
export interface DockerCall {
  readonly op: keyof DockerService
  readonly args: ReadonlyArray<unknown>
}

export interface DockerTestOptions {
  /** API version the fake reports and plans requests for (default `1.41`, Debian's engine). */
  readonly apiVersion?: string
  /** false: every call fails as if no engine listened at `address`. */
  readonly reachable?: boolean
  /** Shown in the unreachable message (default `unix:///var/run/docker.sock`). */
  readonly address?: string
  /** Images present from the start, as `repo:tag` (`busybox` → `busybox:latest`). */
  readonly images?: ReadonlyArray<string>
  /** Output a container has when started, by spec (default none). */
  readonly logsFor?: (spec: ContainerSpec) => ReadonlyArray<LogLine>
}

interface FakeEndpoint {
  readonly networkId: string
  readonly endpointId: string
  readonly ipAddress: string
  readonly macAddress: string
  readonly aliases: ReadonlyArray<string>
}

interface FakeContainer {
  readonly id: string
  readonly name: string
  readonly spec: ContainerSpec
  readonly imageId: string
  readonly created: number
  status: "created" | "running" | "exited"
  exitCode: number
  startedAt: string
  finishedAt: string
  readonly networks: Map<string, FakeEndpoint>
  readonly logs: Array<LogLine>
  readonly output: PubSub.PubSub<LogLine>
  exited: Deferred.Deferred<number>
}

interface FakeNetwork {
  readonly id: string
  readonly name: string
  readonly driver: string
  readonly internal: boolean
  readonly attachable: boolean
  readonly enableIPv6: boolean
  readonly labels: Record<string, string>
  readonly options: Record<string, string>
  readonly ipam: ReadonlyArray<{ Subnet?: string; Gateway?: string; IPRange?: string }>
  readonly predefined: boolean
}

interface FakeImage {
  readonly id: string
  repoTags: Array<string>
  readonly labels: Record<string, string>
  readonly cmd: ReadonlyArray<string>
  readonly size: number
  readonly created: number
}

/** What the fake holds right now, for assertions. */
export interface DockerTestSnapshot {
  readonly containers: ReadonlyArray<ContainerDetails>
  readonly networks: ReadonlyArray<NetworkInfo>
  readonly images: ReadonlyArray<ImageSummary>
}

export interface DockerTestControlService {
  readonly calls: Effect.Effect<ReadonlyArray<DockerCall>>
  readonly clearCalls: Effect.Effect<void>
  /** Add an image as `repo:tag`; returns its id. */
  readonly addImage: (
    ref: string,
    options?: { readonly labels?: Record<string, string> }
  ) => Effect.Effect<string>
  /** Append output to a container (by id or name); followers of its logs see it at once. */
  readonly appendLogs: (container: string, lines: ReadonlyArray<LogLine>) => Effect.Effect<void, DockerError>
  /** The container exits by itself with this code (a crash, or a one-shot command finishing). */
  readonly exitContainer: (container: string, exitCode: number) => Effect.Effect<void, DockerError>
  /** The next call of `op` fails with `error` (once). */
  readonly failNext: (op: keyof DockerService, error: DockerError) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<DockerTestSnapshot>
}

export class DockerTestControl extends Context.Tag("decnet/DockerTestControl")<
  DockerTestControl,
  DockerTestControlService
>() {}

const hex = (seed: string): string => createHash("sha256").update(seed).digest("hex")
const normalizeRef = (ref: string): string => (/:[^/]+$/.test(ref) ? ref : `${ref}:latest`)
const iso = (ms: number): string => new Date(ms).toISOString()
const ZERO_TIME = "0001-01-01T00:00:00Z"

export const makeDockerTest = (
  options: DockerTestOptions = {}
): Effect.Effect<{ readonly docker: DockerService; readonly control: DockerTestControlService }> =>
  Effect.gen(function* () {
    const apiVersion = options.apiVersion ?? "1.41"
    const address = options.address ?? "unix:///var/run/docker.sock"
    const calls = yield* Ref.make<ReadonlyArray<DockerCall>>([])
    const failures = yield* Ref.make(new Map<string, DockerError>())
    const bus = yield* PubSub.unbounded<{ readonly seq: number; readonly event: EngineEvent }>()
    // Kept so `events({ since })` replays, as the engine does; bounded like any log.
    const history: Array<{ readonly seq: number; readonly event: EngineEvent }> = []
    let eventSeq = 0
    let serial = 0
    const nextId = (kind: string) => hex(`${kind}-${++serial}`)

    const images = new Map<string, FakeImage>()
    const containers = new Map<string, FakeContainer>()
    const networks = new Map<string, FakeNetwork>()
    for (const [name, driver] of [
      ["bridge", "bridge"],
      ["host", "host"],
      ["none", "null"]
    ] as const) {
      const id = nextId(`network-${name}`)
      networks.set(id, {
        id,
        name,
        driver,
        internal: false,
        attachable: false,
        enableIPv6: false,
        labels: {},
        options: {},
        ipam: name === "bridge" ? [{ Subnet: "172.17.0.0/16", Gateway: "172.17.0.1" }] : [],
        predefined: true
      })
    }

    /** The engine's error for `status`, classified exactly as the live layer classifies a real one. */
    const engineError = (op: string, target: string, status: number, message: string): DockerError =>
      fromCause(op, address, { statusCode: status, json: { message } }, target)

    /** Record the call, then apply reachability and injected failures. */
    const enter = (op: keyof DockerService, args: ReadonlyArray<unknown>) =>
      Effect.gen(function* () {
        yield* Ref.update(calls, (xs) => [...xs, { op, args }])
        if (options.reachable === false) {
          return yield* Effect.fail(
            new DockerError({ op, reason: "unreachable", message: unreachableMessage(address) })
          )
        }
        const injected = yield* Ref.modify(failures, (m) => {
          const e = m.get(op)
          if (e === undefined) return [undefined, m]
          const next = new Map(m)
          next.delete(op)
          return [e, next]
        })
        if (injected !== undefined) return yield* Effect.fail(injected)
      })

    const publish = (Type: string, Action: string, ID: string, Attributes: Record<string, string>) =>
      Effect.suspend(() => {
        const now = Date.now()
        const entry = {
          seq: ++eventSeq,
          event: {
            Type,
            Action,
            Actor: { ID, Attributes },
            time: Math.floor(now / 1000),
            timeNano: now * 1e6
          }
        }
        history.push(entry)
        if (history.length > 1000) history.shift()
        return PubSub.publish(bus, entry)
      })

    // ---- lookups ---------------------------------------------------------------------------------
    const findImage = (ref: string): FakeImage | undefined => {
      const bare = ref.startsWith("sha256:") ? ref.slice(7) : ref
      for (const img of images.values()) {
        if (img.id === ref || img.repoTags.includes(normalizeRef(ref))) return img
        if (bare.length >= 12 && img.id.slice(7).startsWith(bare)) return img
      }
      return undefined
    }
    const findContainer = (ref: string): FakeContainer | undefined => {
      const name = ref.startsWith("/") ? ref.slice(1) : ref
      for (const c of containers.values()) if (c.name === name) return c
      for (const c of containers.values()) if (ref.length >= 12 && c.id.startsWith(ref)) return c
      return containers.get(ref)
    }
    const findNetwork = (ref: string): FakeNetwork | undefined => {
      for (const n of networks.values()) if (n.name === ref) return n
      for (const n of networks.values()) if (ref.length >= 12 && n.id.startsWith(ref)) return n
      return networks.get(ref)
    }

    const container = (op: string, ref: string) =>
      Effect.suspend(() => {
        const c = findContainer(ref)
        return c === undefined
          ? Effect.fail(engineError(op, ref, 404, `No such container: ${ref}`))
          : Effect.succeed(c)
      })
    const network = (op: string, ref: string) =>
      Effect.suspend(() => {
        const n = findNetwork(ref)
        return n === undefined
          ? Effect.fail(engineError(op, ref, 404, `network ${ref} not found`))
          : Effect.succeed(n)
      })
    const image = (op: string, ref: string) =>
      Effect.suspend(() => {
        const i = findImage(ref)
        return i === undefined
          ? Effect.fail(engineError(op, ref, 404, `No such image: ${ref}`))
          : Effect.succeed(i)
      })

    // ---- views (the shapes the live layer decodes) -----------------------------------------------
    const endpointView = (e: FakeEndpoint): EndpointInfo => ({
      NetworkID: e.networkId,
      EndpointID: e.endpointId,
      IPAddress: e.ipAddress,
      IPPrefixLen: e.ipAddress === "" ? 0 : 16,
      Gateway: "",
      MacAddress: e.macAddress,
      Aliases: [...e.aliases]
    })
    const networksView = (c: FakeContainer): Record<string, EndpointInfo> =>
      Object.fromEntries([...c.networks].map(([name, e]) => [name, endpointView(e)]))
    const networkMode = (c: FakeContainer): string =>
      c.spec.networkMode ?? c.spec.networks?.[0]?.[0] ?? "bridge"
    const stateText = (c: FakeContainer): string =>
      c.status === "running" ? "Up" : c.status === "created" ? "Created" : `Exited (${c.exitCode})`

    const summaryView = (c: FakeContainer): ContainerSummary => ({
      Id: c.id,
      Names: [`/${c.name}`],
      Image: c.spec.image,
      ImageID: c.imageId,
      Command: [...(c.spec.entrypoint ?? []), ...(c.spec.cmd ?? [])].join(" "),
      Created: c.created,
      State: c.status,
      Status: stateText(c),
      Labels: { ...c.spec.labels },
      NetworkSettings: { Networks: networksView(c) }
    })
    const detailsView = (c: FakeContainer): ContainerDetails => {
      const primary = c.networks.get(networkMode(c))
      return {
        Id: c.id,
        Name: `/${c.name}`,
        Created: iso(c.created * 1000),
        Image: c.imageId,
        RestartCount: 0,
        State: {
          Status: c.status,
          Running: c.status === "running",
          Paused: false,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: c.status === "running" ? 1000 + (parseInt(c.id.slice(0, 4), 16) % 30000) : 0,
          ExitCode: c.exitCode,
          Error: "",
          StartedAt: c.startedAt,
          FinishedAt: c.finishedAt
        },
        Config: {
          Hostname: c.spec.hostname ?? c.id.slice(0, 12),
          Image: c.spec.image,
          User: c.spec.user ?? "",
          Tty: c.spec.tty ?? false,
          Env: Object.entries(c.spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
          Cmd: [...(c.spec.cmd ?? [])],
          Entrypoint: [...(c.spec.entrypoint ?? [])],
          Labels: { ...c.spec.labels }
        },
        HostConfig: {
          NetworkMode: networkMode(c),
          Privileged: c.spec.privileged ?? false,
          CapAdd: [...(c.spec.capAdd ?? [])],
          Sysctls: { ...c.spec.sysctls },
          RestartPolicy: { Name: c.spec.restartPolicy ?? "no" }
        },
        NetworkSettings: { MacAddress: primary?.macAddress ?? "", Networks: networksView(c) }
      }
    }
    const networkView = (n: FakeNetwork): NetworkInfo => {
      const attached: Record<string, NetworkInfo["Containers"][string]> = {}
      for (const c of containers.values()) {
        const e = [...c.networks.values()].find((x) => x.networkId === n.id)
        if (e === undefined) continue
        attached[c.id] = {
          Name: c.name,
          EndpointID: e.endpointId,
          MacAddress: e.macAddress,
          IPv4Address: e.ipAddress === "" ? "" : `${e.ipAddress}/16`,
          IPv6Address: ""
        }
      }
      return {
        Id: n.id,
        Name: n.name,
        Driver: n.driver,
        Scope: "local",
        Internal: n.internal,
        Attachable: n.attachable,
        EnableIPv6: n.enableIPv6,
        Labels: { ...n.labels },
        Options: { ...n.options },
        IPAM: { Driver: "default", Config: n.ipam.map((p) => ({ ...p })) },
        Containers: attached
      }
    }
    const imageSummary = (i: FakeImage): ImageSummary => ({
      Id: i.id,
      RepoTags: [...i.repoTags],
      Created: i.created,
      Size: i.size,
      Labels: { ...i.labels }
    })
    const imageDetails = (i: FakeImage): ImageDetails => ({
      Id: i.id,
      RepoTags: [...i.repoTags],
      Created: iso(i.created * 1000),
      Size: i.size,
      Architecture: "amd64",
      Os: "linux",
      Config: { Cmd: [...i.cmd], Entrypoint: [], Env: [], Labels: { ...i.labels }, WorkingDir: "" }
    })

    const selected = (
      labels: Record<string, string>,
      name: string,
      sel?: { labels?: LabelSelector; name?: string }
    ) =>
      (sel?.labels === undefined || matchesLabels(labels, sel.labels)) &&
      (sel?.name === undefined || name.includes(sel.name))

    const putImage = (
      ref: string,
      id: string,
      labels: Record<string, string>,
      cmd: ReadonlyArray<string>,
      size: number
    ) => {
      const tag = normalizeRef(ref)
      // A tag names one image: moving it leaves the old image untagged, as the engine does.
      for (const other of images.values()) other.repoTags = other.repoTags.filter((t) => t !== tag)
      const existing = images.get(id)
      if (existing !== undefined) existing.repoTags.push(tag)
      else images.set(id, { id, repoTags: [tag], labels, cmd, size, created: Math.floor(Date.now() / 1000) })
      return id
    }
    for (const ref of options.images ?? [])
      putImage(ref, `sha256:${hex(`image-${ref}`)}`, {}, ["/bin/sh"], 1024)

    // Drain an upload stream, keeping the caller's typed failure.
    const drain = <E>(input: Stream.Stream<Uint8Array, E>) =>
      Stream.runFold(input, { size: 0, hash: createHash("sha256") }, (acc, chunk) => {
        acc.hash.update(chunk)
        return { size: acc.size + chunk.length, hash: acc.hash }
      }).pipe(Effect.map((acc) => ({ size: acc.size, digest: acc.hash.digest("hex") })))

    const exit = (c: FakeContainer, code: number) =>
      Effect.gen(function* () {
        if (c.status !== "running") return
        c.status = "exited"
        c.exitCode = code
        c.finishedAt = iso(Date.now())
        yield* Deferred.succeed(c.exited, code)
        yield* publish("container", "die", c.id, { name: c.name, exitCode: String(code), ...c.spec.labels })
      })

    const attach = (
      op: string,
      c: FakeContainer,
      netRef: string,
      e: EndpointSpec
    ): Effect.Effect<void, DockerError> =>
      Effect.gen(function* () {
        const n = yield* network(op, netRef)
        if (n.name === "host" || n.name === "none") {
          if (c.networks.size > 0) {
            return yield* Effect.fail(
              engineError(
                op,
                netRef,
                400,
                `container cannot be disconnected from host network or connected to ${n.name} network`
              )
            )
          }
          return
        }
        if ([...c.networks.values()].some((x) => x.networkId === n.id)) {
          return yield* Effect.fail(
            engineError(op, netRef, 403, `endpoint with name ${c.name} already exists in network ${n.name}`)
          )
        }
        const endpointId = hex(`endpoint-${c.id}-${n.id}`)
        c.networks.set(n.name, {
          networkId: n.id,
          endpointId,
          ipAddress: e.ipv4Address ?? "",
          macAddress: e.macAddress ?? `02:42:${endpointId.slice(0, 8).replace(/(..)(?!$)/g, "$1:")}`,
          aliases: [...(e.aliases ?? [])]
        })
        yield* publish("network", "connect", n.id, { container: c.id, name: n.name, type: n.driver })
      })

    /** The fake build: no Dockerfile is run; the context's digest (and labels) name the image. */
    const build = <E>(context: Stream.Stream<Uint8Array, E>, opts: BuildOptions) =>
      Effect.gen(function* () {
        const { size, digest } = yield* drain(context)
        const id = putImage(
          opts.tag,
          `sha256:${hex(`${digest}-${JSON.stringify(opts.labels ?? {})}`)}`,
          { ...opts.labels },
          [],
          size
        )
        const events: Array<ProgressEvent> = [
          { stream: `Step 1/1 : (DockerTest) ${size} bytes of context\n` },
          { aux: { ID: id } },
          { stream: `Successfully built ${id.slice(7, 19)}\n` },
          { stream: `Successfully tagged ${normalizeRef(opts.tag)}\n` }
        ]
        return events
      })

    const unsupported = (op: string, target: string, message: string) =>
      new DockerError({ op, target, reason: "unsupported", message })

    // ---- the service -----------------------------------------------------------------------------
    const docker: DockerService = {
      ping: enter("ping", []).pipe(Effect.withSpan("Docker.ping")),
      version: enter("version", []).pipe(
        Effect.as({
          Version: "20.10.24+fake",
          ApiVersion: apiVersion,
          MinAPIVersion: "1.12",
          Os: "linux",
          Arch: "amd64",
          KernelVersion: ""
        }),
        Effect.withSpan("Docker.version")
      ),
      info: enter("info", []).pipe(
        Effect.map(() => ({
          ID: "FAKE",
          Name: "docker-test",
          ServerVersion: "20.10.24+fake",
          Containers: containers.size,
          ContainersRunning: [...containers.values()].filter((c) => c.status === "running").length,
          Images: images.size,
          Driver: "memory",
          CgroupVersion: "2",
          KernelVersion: "",
          OperatingSystem: "DockerTest",
          NCPU: 1,
          MemTotal: 0,
          DockerRootDir: ""
        })),
        Effect.withSpan("Docker.info")
      ),

      listContainers: (opts) =>
        enter("listContainers", [opts]).pipe(
          Effect.map(() =>
            [...containers.values()]
              .filter((c) => (opts?.all ?? true) || c.status === "running")
              .filter((c) => selected({ ...c.spec.labels }, c.name, opts))
              .map(summaryView)
          ),
          Effect.withSpan("Docker.listContainers")
        ),

      inspectContainer: (id) =>
        enter("inspectContainer", [id]).pipe(
          Effect.zipRight(container("inspectContainer", id)),
          Effect.map(detailsView),
          Effect.withSpan("Docker.inspectContainer")
        ),

      createContainer: (spec) =>
        Effect.gen(function* () {
          yield* enter("createContainer", [spec])
          const target = spec.name ?? spec.image
          const plan = planCreate(spec, apiVersion)
          if (Either.isLeft(plan))
            return yield* Effect.fail(unsupported("createContainer", target, plan.left))
          const img = yield* image("createContainer", spec.image)
          if (spec.name !== undefined && findContainer(spec.name) !== undefined) {
            return yield* Effect.fail(
              engineError(
                "createContainer",
                target,
                409,
                `Conflict. The container name "/${spec.name}" is already in use`
              )
            )
          }
          const mode = spec.networkMode ?? spec.networks?.[0]?.[0] ?? "bridge"
          if (!mode.startsWith("container:")) yield* network("createContainer", mode)
          else yield* container("createContainer", mode.slice("container:".length))
          const id = nextId("container")
          const c: FakeContainer = {
            id,
            name: spec.name ?? `fake_${id.slice(0, 8)}`,
            spec,
            imageId: img.id,
            created: Math.floor(Date.now() / 1000),
            status: "created",
            exitCode: 0,
            startedAt: ZERO_TIME,
            finishedAt: ZERO_TIME,
            networks: new Map(),
            logs: [...(options.logsFor?.(spec) ?? [])],
            output: yield* PubSub.unbounded<LogLine>(),
            exited: yield* Deferred.make<number>()
          }
          containers.set(id, c)
          const attachments = spec.networks ?? (mode.startsWith("container:") ? [] : [[mode, {}] as const])
          const failed = yield* Effect.forEach(
            attachments,
            ([net, e]) => attach("createContainer", c, net, e),
            {
              discard: true
            }
          ).pipe(Effect.either)
          if (Either.isLeft(failed)) {
            containers.delete(id)
            return yield* Effect.fail(failed.left)
          }
          yield* publish("container", "create", id, { name: c.name, image: spec.image, ...spec.labels })
          return id
        }).pipe(Effect.withSpan("Docker.createContainer")),

      startContainer: (id) =>
        Effect.gen(function* () {
          yield* enter("startContainer", [id])
          const c = yield* container("startContainer", id)
          if (c.status === "running") return
          c.status = "running"
          c.startedAt = iso(Date.now())
          c.exited = yield* Deferred.make<number>()
          yield* publish("container", "start", c.id, { name: c.name, ...c.spec.labels })
        }).pipe(Effect.withSpan("Docker.startContainer")),

      stopContainer: (id, opts) =>
        Effect.gen(function* () {
          yield* enter("stopContainer", [id, opts])
          const c = yield* container("stopContainer", id)
          yield* exit(c, 0)
          yield* publish("container", "stop", c.id, { name: c.name, ...c.spec.labels })
        }).pipe(Effect.withSpan("Docker.stopContainer")),

      removeContainer: (id, opts) =>
        Effect.gen(function* () {
          yield* enter("removeContainer", [id, opts])
          const c = yield* container("removeContainer", id)
          if (c.status === "running" && opts?.force !== true) {
            return yield* Effect.fail(
              engineError(
                "removeContainer",
                id,
                409,
                `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`
              )
            )
          }
          yield* exit(c, 137)
          containers.delete(c.id)
          yield* publish("container", "destroy", c.id, { name: c.name, ...c.spec.labels })
        }).pipe(Effect.withSpan("Docker.removeContainer")),

      waitContainer: (id) =>
        Effect.gen(function* () {
          yield* enter("waitContainer", [id])
          const c = yield* container("waitContainer", id)
          if (c.status !== "running") return c.exitCode
          return yield* Deferred.await(c.exited)
        }).pipe(Effect.withSpan("Docker.waitContainer")),

      containerLogs: (id, opts?: LogsOptions) =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            yield* enter("containerLogs", [id, opts])
            const c = yield* container("containerLogs", id)
            const wanted = (l: LogLine) =>
              (l.stream === "stdout" && (opts?.stdout ?? true)) ||
              (l.stream === "stderr" && (opts?.stderr ?? true))
            // Subscribe before reading the backlog so no line appended in between is lost.
            const live = yield* PubSub.subscribe(c.output)
            const backlog = c.logs.filter(wanted)
            const past = Stream.fromIterable(opts?.tail === undefined ? backlog : backlog.slice(-opts.tail))
            if (opts?.follow !== true || c.status !== "running") return past
            return Stream.concat(
              past,
              Stream.fromQueue(live).pipe(
                Stream.filter(wanted),
                Stream.interruptWhen(Deferred.await(c.exited))
              )
            )
          })
        ).pipe(Stream.withSpan("Docker.containerLogs")),

      listNetworks: (opts) =>
        enter("listNetworks", [opts]).pipe(
          Effect.map(() =>
            [...networks.values()]
              .filter((n) => selected(n.labels, n.name, opts))
              .map((n) => ({ ...networkView(n), Containers: {} }))
          ),
          Effect.withSpan("Docker.listNetworks")
        ),

      inspectNetwork: (ref) =>
        enter("inspectNetwork", [ref]).pipe(
          Effect.zipRight(network("inspectNetwork", ref)),
          Effect.map(networkView),
          Effect.withSpan("Docker.inspectNetwork")
        ),

      createNetwork: (spec) =>
        Effect.gen(function* () {
          yield* enter("createNetwork", [spec])
          if (findNetwork(spec.name) !== undefined) {
            return yield* Effect.fail(
              engineError("createNetwork", spec.name, 409, `network with name ${spec.name} already exists`)
            )
          }
          const id = nextId("network")
          networks.set(id, {
            id,
            name: spec.name,
            driver: spec.driver ?? "bridge",
            internal: spec.internal ?? false,
            attachable: spec.attachable ?? false,
            enableIPv6: spec.enableIPv6 ?? false,
            labels: { ...spec.labels },
            options: { ...spec.options },
            ipam: (spec.ipam ?? []).map((p) => ({
              Subnet: p.subnet,
              ...(p.gateway === undefined ? {} : { Gateway: p.gateway }),
              ...(p.ipRange === undefined ? {} : { IPRange: p.ipRange })
            })),
            predefined: false
          })
          yield* publish("network", "create", id, { name: spec.name, type: spec.driver ?? "bridge" })
          return id
        }).pipe(Effect.withSpan("Docker.createNetwork")),

      removeNetwork: (ref) =>
        Effect.gen(function* () {
          yield* enter("removeNetwork", [ref])
          const n = yield* network("removeNetwork", ref)
          if (n.predefined) {
            return yield* Effect.fail(
              engineError(
                "removeNetwork",
                ref,
                403,
                `${n.name} is a pre-defined network and cannot be removed`
              )
            )
          }
          if (
            [...containers.values()].some((c) => [...c.networks.values()].some((e) => e.networkId === n.id))
          ) {
            return yield* Effect.fail(
              engineError(
                "removeNetwork",
                ref,
                403,
                `error while removing network: network ${n.name} id ${n.id} has active endpoints`
              )
            )
          }
          networks.delete(n.id)
          yield* publish("network", "destroy", n.id, { name: n.name, type: n.driver })
        }).pipe(Effect.withSpan("Docker.removeNetwork")),

      connectNetwork: (net, ref, endpoint) =>
        Effect.gen(function* () {
          yield* enter("connectNetwork", [net, ref, endpoint])
          const planned = planConnect(net, ref, endpoint ?? {}, apiVersion)
          if (Either.isLeft(planned))
            return yield* Effect.fail(unsupported("connectNetwork", net, planned.left))
          const n = yield* network("connectNetwork", net)
          const c = yield* container("connectNetwork", ref)
          yield* attach("connectNetwork", c, n.name, endpoint ?? {})
        }).pipe(Effect.withSpan("Docker.connectNetwork")),

      disconnectNetwork: (net, ref, opts) =>
        Effect.gen(function* () {
          yield* enter("disconnectNetwork", [net, ref, opts])
          const n = yield* network("disconnectNetwork", net)
          const c = yield* container("disconnectNetwork", ref)
          const name = [...c.networks].find(([, e]) => e.networkId === n.id)?.[0]
          if (name === undefined) {
            return yield* Effect.fail(
              engineError(
                "disconnectNetwork",
                net,
                500,
                `container ${c.id} is not connected to network ${n.name}`
              )
            )
          }
          c.networks.delete(name)
          yield* publish("network", "disconnect", n.id, { container: c.id, name: n.name, type: n.driver })
        }).pipe(Effect.withSpan("Docker.disconnectNetwork")),

      listImages: (opts) =>
        enter("listImages", [opts]).pipe(
          Effect.map(() =>
            [...images.values()]
              .filter((i) => opts?.labels === undefined || matchesLabels(i.labels, opts.labels))
              .filter((i) => {
                const ref = opts?.reference
                if (ref === undefined) return true
                return i.repoTags.some(
                  (t) => t === normalizeRef(ref) || (!ref.includes(":") && t.startsWith(`${ref}:`))
                )
              })
              .map(imageSummary)
          ),
          Effect.withSpan("Docker.listImages")
        ),

      inspectImage: (ref) =>
        enter("inspectImage", [ref]).pipe(
          Effect.zipRight(image("inspectImage", ref)),
          Effect.map(imageDetails),
          Effect.withSpan("Docker.inspectImage")
        ),

      importImage: (tar, opts) =>
        Effect.gen(function* () {
          yield* enter("importImage", ["<stream>", opts])
          const { size, digest } = yield* drain(tar)
          let cmd: ReadonlyArray<string> = []
          for (const change of opts.changes ?? []) {
            const m = /^CMD\s+(\[.*\])\s*$/.exec(change)
            if (m?.[1] !== undefined) {
              const parsed: unknown = JSON.parse(m[1])
              if (Array.isArray(parsed)) cmd = parsed.map(String)
            }
          }
          return putImage(`${opts.repo}:${opts.tag ?? "latest"}`, `sha256:${digest}`, {}, cmd, size)
        }).pipe(Effect.withSpan("Docker.importImage")),

      buildImageProgress: (context, opts) =>
        Stream.unwrap(
          enter("buildImageProgress", ["<stream>", opts]).pipe(
            Effect.zipRight(build(context, opts)),
            Effect.map((events) => Stream.fromIterable(events))
          )
        ).pipe(Stream.withSpan("Docker.buildImage")),

      buildImage: (context, opts) =>
        Effect.gen(function* () {
          yield* enter("buildImage", ["<stream>", opts])
          const events = yield* build(context, opts)
          const output = events.flatMap((e) => (e.stream ?? "").split("\n").filter((l) => l.trim() !== ""))
          const imageId = events.find((e) => e.aux?.ID !== undefined)?.aux?.ID ?? ""
          return { imageId, output: output.slice(-BUILD_OUTPUT_TAIL) }
        }).pipe(Effect.withSpan("Docker.buildImage")),

      removeImage: (ref, opts) =>
        Effect.gen(function* () {
          yield* enter("removeImage", [ref, opts])
          const img = yield* image("removeImage", ref)
          const user = [...containers.values()].find((c) => c.imageId === img.id)
          if (user !== undefined && opts?.force !== true) {
            return yield* Effect.fail(
              engineError(
                "removeImage",
                ref,
                409,
                `conflict: unable to remove repository reference "${ref}" (must force) - container ${user.id.slice(0, 12)} is using its referenced image`
              )
            )
          }
          const tag = normalizeRef(ref)
          if (img.repoTags.includes(tag) && img.repoTags.length > 1)
            img.repoTags = img.repoTags.filter((t) => t !== tag)
          else images.delete(img.id)
        }).pipe(Effect.withSpan("Docker.removeImage")),

      events: (opts?: EventsOptions) =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            yield* enter("events", [opts])
            const sub = yield* PubSub.subscribe(bus)
            // Sequence numbers keep an event published between subscribe and snapshot from showing twice.
            const upTo = eventSeq
            const since = opts?.since
            const replay =
              since === undefined ? [] : history.filter((h) => h.seq <= upTo && h.event.time >= since)
            return Stream.concat(
              Stream.fromIterable(replay),
              Stream.fromQueue(sub).pipe(Stream.filter((h) => h.seq > upTo))
            ).pipe(
              Stream.map((h) => h.event),
              Stream.filter(
                (e) =>
                  (opts?.type === undefined || e.Type === opts.type) &&
                  (opts?.actions === undefined || opts.actions.includes(e.Action)) &&
                  (opts?.labels === undefined || matchesLabels(e.Actor.Attributes, opts.labels))
              )
            )
          })
        ).pipe(Stream.withSpan("Docker.events"))
    }

    const control: DockerTestControlService = {
      calls: Ref.get(calls),
      clearCalls: Ref.set(calls, []),
      addImage: (ref, o) =>
        Effect.sync(() =>
          putImage(ref, `sha256:${hex(`image-${ref}`)}`, { ...o?.labels }, ["/bin/sh"], 1024)
        ),
      appendLogs: (ref, lines) =>
        Effect.gen(function* () {
          const c = yield* container("appendLogs", ref)
          c.logs.push(...lines)
          yield* PubSub.publishAll(c.output, lines)
        }),
      exitContainer: (ref, code) =>
        container("exitContainer", ref).pipe(Effect.flatMap((c) => exit(c, code))),
      failNext: (op, error) => Ref.update(failures, (m) => new Map(m).set(op, error)),
      snapshot: Effect.sync(() => ({
        containers: [...containers.values()].map(detailsView),
        networks: [...networks.values()].map(networkView),
        images: [...images.values()].map(imageSummary)
      }))
    }
    return { docker, control }
  })

/** `Docker` (in memory) plus `DockerTestControl` to script it and read what was called. */
export const DockerTest = (options: DockerTestOptions = {}): Layer.Layer<Docker | DockerTestControl> =>
  Layer.effectContext(
    makeDockerTest(options).pipe(
      Effect.map(({ docker, control }) =>
        Context.make(Docker, docker).pipe(Context.add(DockerTestControl, control))
      )
    )
  )
