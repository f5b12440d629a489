/**
 * The `Docker` service: every engine operation DECNET needs, typed and traced, failing only with
 * `DockerError`. `DockerLive` talks to a real engine through dockerode; `DockerTest` is an in-memory
 * fake for unit tests. Inputs are small DECNET-shaped specs; outputs are the Schemas in `Model.ts`.
 */
import { Context, type Effect, type Stream } from "effect"
import type { LogLine } from "./Demux.js"
import type { DockerError } from "./DockerError.js"
import type { LabelSelector } from "./Filters.js"
import type {
  BuildResult,
  ContainerDetails,
  ContainerSummary,
  EngineEvent,
  EngineInfo,
  EngineVersion,
  ImageDetails,
  ImageSummary,
  NetworkInfo,
  ProgressEvent
} from "./Model.js"

/** A container's address on one network. `macAddress` needs API ≥ 1.44 except on the primary network. */
export interface EndpointSpec {
  readonly ipv4Address?: string
  readonly macAddress?: string
  readonly aliases?: ReadonlyArray<string>
}

/** A published port. `hostIp` is required on purpose: nothing is published on 0.0.0.0 by omission. */
export interface PortBinding {
  readonly containerPort: number
  readonly protocol?: "tcp" | "udp"
  readonly hostIp: string
  readonly hostPort: number
}

export interface ContainerSpec {
  readonly image: string
  readonly name?: string
  readonly cmd?: ReadonlyArray<string>
  readonly entrypoint?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly labels?: Readonly<Record<string, string>>
  readonly hostname?: string
  readonly user?: string
  readonly workingDir?: string
  readonly tty?: boolean
  /**
   * `none`, `bridge`, `host`, `container:<id>` or a network name. Default: the first key of `networks`,
   * else the engine's default bridge.
   */
  readonly networkMode?: string
  /** Networks to attach, in order; the first one is the primary network. */
  readonly networks?: ReadonlyArray<readonly [network: string, endpoint: EndpointSpec]>
  readonly capAdd?: ReadonlyArray<string>
  readonly capDrop?: ReadonlyArray<string>
  readonly sysctls?: Readonly<Record<string, string>>
  readonly privileged?: boolean
  readonly restartPolicy?: "no" | "always" | "unless-stopped" | "on-failure"
  readonly binds?: ReadonlyArray<string>
  readonly tmpfs?: Readonly<Record<string, string>>
  readonly ports?: ReadonlyArray<PortBinding>
  readonly logConfig?: { readonly type: string; readonly config?: Readonly<Record<string, string>> }
  readonly stopTimeoutSeconds?: number
}

export interface NetworkSpec {
  readonly name: string
  /** `bridge` (default), `macvlan`, `ipvlan`, … */
  readonly driver?: string
  readonly internal?: boolean
  readonly attachable?: boolean
  readonly enableIPv6?: boolean
  readonly labels?: Readonly<Record<string, string>>
  /** Driver options, e.g. `{ parent: "eth0" }` for macvlan. */
  readonly options?: Readonly<Record<string, string>>
  readonly ipam?: ReadonlyArray<{
    readonly subnet: string
    readonly gateway?: string
    readonly ipRange?: string
  }>
}

export interface ListOptions {
  readonly labels?: LabelSelector
  /** Substring match on the name, as the engine's `name` filter does. */
  readonly name?: string
}

export interface ListContainersOptions extends ListOptions {
  /** Include stopped containers (default true: teardown and status need them). */
  readonly all?: boolean
}

export interface LogsOptions {
  /** Keep the stream open for new output (default false: what is there, then end). */
  readonly follow?: boolean
  readonly stdout?: boolean
  readonly stderr?: boolean
  /** Only the last N lines. */
  readonly tail?: number
  /** Only output since this UNIX time (seconds, fractions allowed: the engine keeps nanoseconds). */
  readonly since?: number
  /**
   * Prefix each line with the engine's RFC 3339 (nanosecond) timestamp and a space, as
   * `docker logs --timestamps` does: a reader can then resume exactly after the last line it kept.
   */
  readonly timestamps?: boolean
}

export interface ImportOptions {
  /** Repository, e.g. `decnet-base`. */
  readonly repo: string
  readonly tag?: string
  /** Dockerfile instructions applied to the image, e.g. `CMD ["/bin/sh"]`. */
  readonly changes?: ReadonlyArray<string>
}

export interface BuildOptions {
  /** `name:tag` given to the result. */
  readonly tag: string
  readonly dockerfile?: string
  readonly buildArgs?: Readonly<Record<string, string>>
  readonly labels?: Readonly<Record<string, string>>
  readonly noCache?: boolean
  /** The build containers' network (`none` keeps RUN steps offline). */
  readonly networkMode?: string
}

export interface EventsOptions {
  readonly type?: "container" | "image" | "network" | "volume"
  readonly actions?: ReadonlyArray<string>
  readonly labels?: LabelSelector
  /** Replay events since this UNIX time (seconds) before following. */
  readonly since?: number
}

export interface DockerService {
  readonly ping: Effect.Effect<void, DockerError>
  /** Engine and API version; `ApiVersion` decides 1.41-vs-1.44 behaviour. */
  readonly version: Effect.Effect<EngineVersion, DockerError>
  readonly info: Effect.Effect<EngineInfo, DockerError>

  readonly listContainers: (
    options?: ListContainersOptions
  ) => Effect.Effect<ReadonlyArray<ContainerSummary>, DockerError>
  readonly inspectContainer: (id: string) => Effect.Effect<ContainerDetails, DockerError>
  /** Creates (does not start) a container; returns its id. Extra networks are connected before return. */
  readonly createContainer: (spec: ContainerSpec) => Effect.Effect<string, DockerError>
  /** Starting a running container succeeds. */
  readonly startContainer: (id: string) => Effect.Effect<void, DockerError>
  /** SIGTERM, then SIGKILL after `timeoutSeconds` (engine default 10). Stopping a stopped one succeeds. */
  readonly stopContainer: (
    id: string,
    options?: { readonly timeoutSeconds?: number }
  ) => Effect.Effect<void, DockerError>
  readonly removeContainer: (
    id: string,
    options?: { readonly force?: boolean; readonly volumes?: boolean }
  ) => Effect.Effect<void, DockerError>
  /** Waits for the container to stop; returns its exit code. */
  readonly waitContainer: (id: string) => Effect.Effect<number, DockerError>
  /**
   * The container's output as lines tagged stdout/stderr (TTY containers: all stdout). The HTTP stream is
   * opened when the Stream runs and closed when it ends or is interrupted.
   */
  readonly containerLogs: (id: string, options?: LogsOptions) => Stream.Stream<LogLine, DockerError>

  readonly listNetworks: (options?: ListOptions) => Effect.Effect<ReadonlyArray<NetworkInfo>, DockerError>
  readonly inspectNetwork: (idOrName: string) => Effect.Effect<NetworkInfo, DockerError>
  /** Returns the new network's id. */
  readonly createNetwork: (spec: NetworkSpec) => Effect.Effect<string, DockerError>
  readonly removeNetwork: (idOrName: string) => Effect.Effect<void, DockerError>
  readonly connectNetwork: (
    network: string,
    container: string,
    endpoint?: EndpointSpec
  ) => Effect.Effect<void, DockerError>
  readonly disconnectNetwork: (
    network: string,
    container: string,
    options?: { readonly force?: boolean }
  ) => Effect.Effect<void, DockerError>

  readonly listImages: (options?: {
    readonly labels?: LabelSelector
    readonly reference?: string
  }) => Effect.Effect<ReadonlyArray<ImageSummary>, DockerError>
  readonly inspectImage: (ref: string) => Effect.Effect<ImageDetails, DockerError>
  /** `docker import`: a rootfs tar becomes `repo:tag`; returns the image id. */
  readonly importImage: <E>(
    tar: Stream.Stream<Uint8Array, E>,
    options: ImportOptions
  ) => Effect.Effect<string, DockerError | E>
  /** `docker build` of a tar context, progress as it comes; an `error` message fails the stream. */
  readonly buildImageProgress: <E>(
    context: Stream.Stream<Uint8Array, E>,
    options: BuildOptions
  ) => Stream.Stream<ProgressEvent, DockerError | E>
  /** `buildImageProgress` run to the end: the image id and the tail of the build output. */
  readonly buildImage: <E>(
    context: Stream.Stream<Uint8Array, E>,
    options: BuildOptions
  ) => Effect.Effect<BuildResult, DockerError | E>
  readonly removeImage: (
    ref: string,
    options?: { readonly force?: boolean; readonly noPrune?: boolean }
  ) => Effect.Effect<void, DockerError>

  /** Engine events (e.g. container `start`) as they happen, for as long as the Stream runs. */
  readonly events: (options?: EventsOptions) => Stream.Stream<EngineEvent, DockerError>
}

export class Docker extends Context.Tag("decnet/Docker")<Docker, DockerService>() {}

/** How many lines of build output `buildImage` keeps for its result and error messages. */
export const BUILD_OUTPUT_TAIL = 200
