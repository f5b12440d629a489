/**
 * Which port each of a decky's services binds, and how a running decky is described. Pure and light,
 * so the CLI can plan ports and print notices without loading a service module.
 */
import type { Honeypot } from "../honeypots/runtime/Module.js"
import type { Listener } from "../honeypots/runtime/Serve.js"

// ---- ports -----------------------------------------------------------------------------------------

/**
 * Which port each service binds. `explicit` maps `slug:defaultPort` to a port (0 = any free one); a
 * port it does not name gets the fallback: the known port plus `offset`, or a free port.
 */
export type PortPlan =
  | { readonly _tag: "Offset"; readonly offset: number }
  | {
      readonly _tag: "Explicit"
      readonly ports: ReadonlyMap<string, number>
      readonly fallback: "offset" | "ephemeral"
      readonly offset: number
    }

const knownPorts: PortPlan = { _tag: "Offset", offset: 0 }

export const PortPlan = {
  /** Every service on its known port (production: the decky has its own address). */
  known: knownPorts,
  offset: (offset: number): PortPlan => ({ _tag: "Offset", offset }),
  explicit: (ports: ReadonlyMap<string, number>, fallback: "offset" | "ephemeral", offset = 0): PortPlan => ({
    _tag: "Explicit",
    ports,
    fallback,
    offset
  })
}

export const portKey = (slug: string, defaultPort: number): string => `${slug}:${defaultPort}`

/** Every port a module claims, TCP first. */
export const modulePorts = (h: Honeypot): ReadonlyArray<number> => [...h.ports.tcp, ...h.ports.udp]

export const portOf =
  (plan: PortPlan) =>
  (slug: string, defaultPort: number): number => {
    if (plan._tag === "Offset") return defaultPort + plan.offset
    const explicit = plan.ports.get(portKey(slug, defaultPort))
    if (explicit !== undefined) return explicit
    return plan.fallback === "ephemeral" ? 0 : defaultPort + plan.offset
  }

export interface RunningService {
  readonly slug: string
  readonly listeners: ReadonlyArray<Listener>
}

/** `redis 127.0.0.1:6379 (6379/tcp), http 127.0.0.1:8080 (80/tcp)`: the bound address, then the known port. */
export const describeServices = (running: ReadonlyArray<RunningService>): string =>
  running
    .flatMap((r) =>
      r.listeners.map((l) => `${r.slug} ${hostPort(l.host, l.port)} (${l.defaultPort}/${l.proto})`)
    )
    .join(", ")

export const hostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
