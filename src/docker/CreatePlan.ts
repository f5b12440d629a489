/**
 * Turns a `ContainerSpec` into the engine's create body for a given API version. The version matters:
 * before 1.44 only one network can be named at create and a MAC address is the container-level
 * `MacAddress` (primary network only); from 1.44 every network goes into `EndpointsConfig`, each with its
 * own MAC. Pure, so both API shapes are unit-tested without an engine of each version.
 */
import type Dockerode from "dockerode"
import { Either } from "effect"
import type { ContainerSpec, EndpointSpec } from "./Docker.js"
import { ENDPOINT_MAC_API, endpointMacSupported } from "./Filters.js"

export interface CreatePlan {
  readonly body: Dockerode.ContainerCreateOptions
  /** Networks the engine could not take at create (API < 1.44): connect them right after. */
  readonly connectAfter: ReadonlyArray<readonly [network: string, endpoint: EndpointSpec]>
}

const mutable = <A>(xs: ReadonlyArray<A> | undefined): Array<A> | undefined =>
  xs === undefined ? undefined : [...xs]
const record = (r: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined =>
  r === undefined ? undefined : { ...r }

/** The engine's endpoint settings for one network (no MAC: see `planCreate` / `planConnect`). */
const endpointSettings = (e: EndpointSpec, withMac: boolean): Dockerode.EndpointSettings => {
  const out: Dockerode.EndpointSettings = {}
  if (e.ipv4Address !== undefined) out.IPAMConfig = { IPv4Address: e.ipv4Address }
  if (e.aliases !== undefined) out.Aliases = [...e.aliases]
  if (withMac && e.macAddress !== undefined) out.MacAddress = e.macAddress
  return out
}

const macUnsupported = (network: string, apiVersion: string): string =>
  `a MAC address on network ${network} (not the primary network) needs Docker API ≥ ${ENDPOINT_MAC_API}; ` +
  `this engine speaks ${apiVersion}`

export const planCreate = (spec: ContainerSpec, apiVersion: string): Either.Either<CreatePlan, string> => {
  const modern = endpointMacSupported(apiVersion)
  const networks = spec.networks ?? []
  const primary = networks[0]
  const networkMode = spec.networkMode ?? primary?.[0]

  const body: Dockerode.ContainerCreateOptions = { Image: spec.image }
  if (spec.name !== undefined) body.name = spec.name
  if (spec.cmd !== undefined) body.Cmd = [...spec.cmd]
  if (spec.entrypoint !== undefined) body.Entrypoint = [...spec.entrypoint]
  if (spec.env !== undefined) body.Env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`)
  if (spec.labels !== undefined) body.Labels = { ...spec.labels }
  if (spec.hostname !== undefined) body.Hostname = spec.hostname
  if (spec.user !== undefined) body.User = spec.user
  if (spec.workingDir !== undefined) body.WorkingDir = spec.workingDir
  if (spec.tty !== undefined) body.Tty = spec.tty
  if (spec.stopTimeoutSeconds !== undefined) body.StopTimeout = spec.stopTimeoutSeconds

  const host: Dockerode.HostConfig = {}
  if (networkMode !== undefined) host.NetworkMode = networkMode
  const capAdd = mutable(spec.capAdd)
  if (capAdd !== undefined) host.CapAdd = capAdd
  const capDrop = mutable(spec.capDrop)
  if (capDrop !== undefined) host.CapDrop = capDrop
  const sysctls = record(spec.sysctls)
  if (sysctls !== undefined) host.Sysctls = sysctls
  if (spec.privileged !== undefined) host.Privileged = spec.privileged
  if (spec.restartPolicy !== undefined) host.RestartPolicy = { Name: spec.restartPolicy }
  const binds = mutable(spec.binds)
  if (binds !== undefined) host.Binds = binds
  const tmpfs = record(spec.tmpfs)
  if (tmpfs !== undefined) host.Tmpfs = tmpfs
  if (spec.logConfig !== undefined) {
    host.LogConfig = { Type: spec.logConfig.type, Config: record(spec.logConfig.config) ?? {} }
  }
  if (spec.ports !== undefined && spec.ports.length > 0) {
    const exposed: Record<string, {}> = {}
    const bindings: Dockerode.PortMap = {}
    for (const p of spec.ports) {
      const key = `${p.containerPort}/${p.protocol ?? "tcp"}`
      exposed[key] = {}
      bindings[key] = [...(bindings[key] ?? []), { HostIp: p.hostIp, HostPort: String(p.hostPort) }]
    }
    body.ExposedPorts = exposed
    host.PortBindings = bindings
  }
  body.HostConfig = host

  if (networks.length === 0) return Either.right({ body, connectAfter: [] })

  // The primary network is the one NetworkMode names; only it may carry the container-level MAC on < 1.44.
  if (modern) {
    const endpoints: Dockerode.EndpointsConfig = {}
    for (const [name, e] of networks) endpoints[name] = endpointSettings(e, true)
    body.NetworkingConfig = { EndpointsConfig: endpoints }
    return Either.right({ body, connectAfter: [] })
  }
  const [primaryName, primaryEndpoint] = primary ?? ["", {}]
  const rest = networks.slice(1)
  const macOnRest = rest.find(([, e]) => e.macAddress !== undefined)
  if (macOnRest !== undefined) return Either.left(macUnsupported(macOnRest[0], apiVersion))
  if (primaryName !== networkMode && primaryEndpoint.macAddress !== undefined) {
    return Either.left(macUnsupported(primaryName, apiVersion))
  }
  if (primaryEndpoint.macAddress !== undefined) body.MacAddress = primaryEndpoint.macAddress
  body.NetworkingConfig = { EndpointsConfig: { [primaryName]: endpointSettings(primaryEndpoint, false) } }
  return Either.right({ body, connectAfter: rest })
}

/** The body of `POST /networks/{id}/connect`; a MAC there needs API ≥ 1.44. */
export const planConnect = (
  network: string,
  container: string,
  endpoint: EndpointSpec,
  apiVersion: string
): Either.Either<Dockerode.NetworkConnectOptions, string> => {
  const modern = endpointMacSupported(apiVersion)
  if (!modern && endpoint.macAddress !== undefined) return Either.left(macUnsupported(network, apiVersion))
  return Either.right({ Container: container, EndpointConfig: endpointSettings(endpoint, modern) })
}
