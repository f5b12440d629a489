/**
 * A container that runs `decnet decky`, as both Docker runtimes make one: the fleet's (one container per
 * decky, on its own address) and MazeNET's (the services container in its base's namespace). Its command
 * line, the spec fields every such container has (logs, restart policy, capability, stop grace), the names
 * of its labels under each runtime's prefix, the ports a list of services listens on, and the `startup`
 * line that says a service is up. The runtimes add only what differs: name, networks, sysctls, labels' values.
 */
import { Option } from "effect"
import { findService } from "../catalog/index.js"
import type { ContainerSpec } from "../docker/Docker.js"

/** json-file rotation of each decky's stdout (the collector reads it through the engine). */
export const LOG_OPTIONS: Readonly<Record<string, string>> = { "max-size": "10m", "max-file": "5" }

/** The labels a decky container carries, under a runtime's prefix (`decnet.fleet`, `decnet.topology`). */
export interface DeckyLabelNames {
  /** `true`: the collector follows this container's stdout (src/collector/DockerSource.ts). */
  readonly service: string
  /** The decky's name. */
  readonly decky: string
  /** The services it runs, comma-separated, in the decky's order. */
  readonly services: string
}

export const deckyLabelNames = (prefix: "decnet.fleet" | "decnet.topology"): DeckyLabelNames => ({
  service: `${prefix}.service`,
  decky: `${prefix}.decky`,
  services: `${prefix}.services`
})

/** What `decnet decky` is told: the same flags in both runtimes. */
export interface DeckyProcess {
  readonly image: string
  /** The container's name (the fleet: the decky's; MazeNET: its base's plus `.svc`). */
  readonly container: string
  /** The decky's name: NODE_NAME, the RFC 5424 HOSTNAME of its events. */
  readonly name: string
  /** What attackers see in prompts and banners. */
  readonly hostname: string
  /** The address its services bind (`0.0.0.0`: every address of a multi-homed namespace). */
  readonly host: string
  readonly services: ReadonlyArray<string>
  /** Per-service config, for those services only (`decnet decky` refuses config for others). */
  readonly config: Readonly<Record<string, unknown>>
  readonly instanceId: string
  /** Files planted in the decky (the fleet's `files`); none: no `--files`. */
  readonly files?: ReadonlyArray<unknown> | undefined
  /** The runtime's labels (the service label, the decky's name, its services and the runtime's own). */
  readonly labels: Readonly<Record<string, string>>
  /** SIGTERM grace before SIGKILL. */
  readonly stopTimeoutSeconds: number
}

/** Where the container's network comes from: its own networks, or another container's namespace. */
export interface DeckyPlacement {
  /** The container's own hostname; not with `networkMode: container:…`, which shares the other's. */
  readonly hostname?: string | undefined
  readonly networkMode?: string | undefined
  readonly networks?: ContainerSpec["networks"]
  readonly sysctls?: Readonly<Record<string, string>> | undefined
}

/**
 * The container spec of a `decnet decky` process. The keys come in one fixed order whatever the placement,
 * because the fleet hashes the spec's JSON to decide whether a running decky is still what it wants.
 */
export const deckyProcessSpec = (p: DeckyProcess, at: DeckyPlacement = {}): ContainerSpec => ({
  image: p.image,
  name: p.container,
  ...(at.hostname === undefined ? {} : { hostname: at.hostname }),
  ...(at.networkMode === undefined ? {} : { networkMode: at.networkMode }),
  cmd: [
    "decky",
    "--services",
    p.services.join(","),
    "--host",
    p.host,
    "--name",
    p.name,
    "--hostname",
    p.hostname,
    "--config",
    JSON.stringify(p.config),
    "--instance-id",
    p.instanceId,
    ...(p.files !== undefined && p.files.length > 0 ? ["--files", JSON.stringify(p.files)] : [])
  ],
  env: { NODE_NAME: p.name },
  labels: p.labels,
  ...(at.networks === undefined ? {} : { networks: at.networks }),
  ...(at.sysctls === undefined ? {} : { sysctls: at.sysctls }),
  capAdd: ["NET_BIND_SERVICE"],
  restartPolicy: "unless-stopped",
  logConfig: { type: "json-file", config: LOG_OPTIONS },
  stopTimeoutSeconds: p.stopTimeoutSeconds
})

/** Every known port of the services (TCP, then UDP, per service), from the catalog. */
export const servicePorts = (
  services: ReadonlyArray<string>
): ReadonlyArray<{ readonly service: string; readonly proto: "tcp" | "udp"; readonly port: number }> =>
  services.flatMap((service) =>
    Option.match(findService(service), {
      onNone: () => [],
      onSome: (s) => [
        ...s.ports.tcp.map((port) => ({ service, proto: "tcp" as const, port })),
        ...s.ports.udp.map((port) => ({ service, proto: "udp" as const, port }))
      ]
    })
  )

/** `<134>1 TS HOST APP PROCID MSGID …` → the service that announced `startup` as `host`, if this is one. */
const STARTUP = /^<\d{1,3}>1 \S+ (\S+) (\S+) \S+ startup(?: |$)/
export const startupOf = (line: string, host: string): Option.Option<string> => {
  const m = STARTUP.exec(line)
  return m !== null && m[1] === host && m[2] !== undefined ? Option.some(m[2]) : Option.none()
}
