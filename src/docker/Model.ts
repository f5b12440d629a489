/**
 * Schemas for what the engine returns. Field names are the Engine API's own (PascalCase, as in
 * docs.docker.com/engine/api), so a decoded value is also valid engine JSON; only the fields DECNET
 * reads are kept, and nullable collections decode to empty ones so callers never test for null.
 */
import { Schema } from "effect"

const Labels = Schema.Record({ key: Schema.String, value: Schema.String })
const labels = Schema.optionalWith(Labels, { nullable: true, default: () => ({}) })
const str = Schema.optionalWith(Schema.String, { nullable: true, default: () => "" })
const num = Schema.optionalWith(Schema.Number, { nullable: true, default: () => 0 })
const bool = Schema.optionalWith(Schema.Boolean, { nullable: true, default: () => false })
const strings = Schema.optionalWith(Schema.Array(Schema.String), { nullable: true, default: () => [] })

/** `GET /version`. `ApiVersion` is what callers branch on (see `endpointMacSupported`). */
export const EngineVersion = Schema.Struct({
  Version: Schema.String,
  ApiVersion: Schema.String,
  MinAPIVersion: str,
  Os: str,
  Arch: str,
  KernelVersion: str
})
export type EngineVersion = typeof EngineVersion.Type

/** `GET /info`, the fields an operator or a health check wants. */
export const EngineInfo = Schema.Struct({
  ID: str,
  Name: str,
  ServerVersion: str,
  Containers: num,
  ContainersRunning: num,
  Images: num,
  Driver: str,
  CgroupVersion: str,
  KernelVersion: str,
  OperatingSystem: str,
  NCPU: num,
  MemTotal: num,
  DockerRootDir: str
})
export type EngineInfo = typeof EngineInfo.Type

/** A container's attachment to one network (list, inspect). */
export const EndpointInfo = Schema.Struct({
  NetworkID: str,
  EndpointID: str,
  IPAddress: str,
  IPPrefixLen: num,
  Gateway: str,
  MacAddress: str,
  Aliases: strings
})
export type EndpointInfo = typeof EndpointInfo.Type

const Networks = Schema.optionalWith(Schema.Record({ key: Schema.String, value: EndpointInfo }), {
  nullable: true,
  default: () => ({})
})

/** `GET /containers/json` entry. `Names` carry the engine's leading `/`. */
export const ContainerSummary = Schema.Struct({
  Id: Schema.String,
  Names: strings,
  Image: str,
  ImageID: str,
  Command: str,
  Created: num,
  State: str,
  Status: str,
  Labels: labels,
  NetworkSettings: Schema.optionalWith(Schema.Struct({ Networks }), {
    nullable: true,
    default: () => ({ Networks: {} })
  })
})
export type ContainerSummary = typeof ContainerSummary.Type

export const ContainerState = Schema.Struct({
  Status: Schema.String,
  Running: bool,
  Paused: bool,
  Restarting: bool,
  OOMKilled: bool,
  Dead: bool,
  Pid: num,
  ExitCode: num,
  Error: str,
  StartedAt: str,
  FinishedAt: str
})
export type ContainerState = typeof ContainerState.Type

/** `GET /containers/{id}/json`. `Name` carries the engine's leading `/`. */
export const ContainerDetails = Schema.Struct({
  Id: Schema.String,
  Name: str,
  Created: str,
  Image: str,
  RestartCount: num,
  State: ContainerState,
  Config: Schema.Struct({
    Hostname: str,
    Image: str,
    User: str,
    Tty: bool,
    Env: strings,
    Cmd: strings,
    Entrypoint: strings,
    Labels: labels
  }),
  HostConfig: Schema.Struct({
    NetworkMode: str,
    Privileged: bool,
    CapAdd: strings,
    Sysctls: labels,
    RestartPolicy: Schema.optionalWith(Schema.Struct({ Name: str }), {
      nullable: true,
      default: () => ({ Name: "" })
    })
  }),
  NetworkSettings: Schema.Struct({
    /** Container-level MAC: the only place it is reported before API 1.44 (primary network). */
    MacAddress: str,
    Networks
  })
})
export type ContainerDetails = typeof ContainerDetails.Type

export const NetworkContainer = Schema.Struct({
  Name: str,
  EndpointID: str,
  MacAddress: str,
  IPv4Address: str,
  IPv6Address: str
})

export const IpamPool = Schema.Struct({
  Subnet: Schema.optional(Schema.String),
  Gateway: Schema.optional(Schema.String),
  IPRange: Schema.optional(Schema.String)
})
export type IpamPool = typeof IpamPool.Type

/** `GET /networks` entry and `GET /networks/{id}` (only inspect fills `Containers`). */
export const NetworkInfo = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Driver: str,
  Scope: str,
  Internal: bool,
  Attachable: bool,
  EnableIPv6: bool,
  Labels: labels,
  Options: labels,
  IPAM: Schema.optionalWith(
    Schema.Struct({
      Driver: str,
      Config: Schema.optionalWith(Schema.Array(IpamPool), { nullable: true, default: () => [] })
    }),
    { nullable: true, default: () => ({ Driver: "", Config: [] }) }
  ),
  Containers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: NetworkContainer }), {
    nullable: true,
    default: () => ({})
  })
})
export type NetworkInfo = typeof NetworkInfo.Type

/** `GET /images/json` entry. */
export const ImageSummary = Schema.Struct({
  Id: Schema.String,
  RepoTags: strings,
  Created: num,
  Size: num,
  Labels: labels
})
export type ImageSummary = typeof ImageSummary.Type

/** `GET /images/{name}/json`. */
export const ImageDetails = Schema.Struct({
  Id: Schema.String,
  RepoTags: strings,
  Created: str,
  Size: num,
  Architecture: str,
  Os: str,
  Config: Schema.optionalWith(
    Schema.Struct({ Cmd: strings, Entrypoint: strings, Env: strings, Labels: labels, WorkingDir: str }),
    { nullable: true, default: () => ({ Cmd: [], Entrypoint: [], Env: [], Labels: {}, WorkingDir: "" }) }
  )
})
export type ImageDetails = typeof ImageDetails.Type

/** One message of a build or import progress stream. `error` set means the operation failed. */
export const ProgressEvent = Schema.Struct({
  stream: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  progress: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  errorDetail: Schema.optional(Schema.Struct({ message: Schema.optional(Schema.String) })),
  aux: Schema.optional(Schema.Struct({ ID: Schema.optional(Schema.String) }))
})
export type ProgressEvent = typeof ProgressEvent.Type

/** One engine event (`GET /events`): e.g. Type `container`, Action `start`. */
export const EngineEvent = Schema.Struct({
  Type: str,
  Action: str,
  Actor: Schema.optionalWith(Schema.Struct({ ID: str, Attributes: labels }), {
    nullable: true,
    default: () => ({ ID: "", Attributes: {} })
  }),
  time: num,
  timeNano: num
})
export type EngineEvent = typeof EngineEvent.Type

/** What a finished build or import produced. `output` is the tail of the build log. */
export const BuildResult = Schema.Struct({
  imageId: Schema.String,
  output: Schema.Array(Schema.String)
})
export type BuildResult = typeof BuildResult.Type

/** The name without the engine's leading slash (`/decky-01` → `decky-01`). */
export const containerName = (c: ContainerSummary | ContainerDetails): string => {
  const raw = "Names" in c ? (c.Names[0] ?? "") : c.Name
  return raw.startsWith("/") ? raw.slice(1) : raw
}
