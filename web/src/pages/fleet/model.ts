/** Types and small helpers shared by the fleet page's parts. */
import type { Decky, Ok } from "../../api/client"

export type { Decky }
export type DeckyStatus = Ok<"/api/v1/deckies/status", "get">["deckies"][number]
export type BoundPort = DeckyStatus["ports"][number]
export type ServiceSchema = Ok<"/api/v1/topologies/services/{service_name}/schema", "get">
export type ConfigField = ServiceSchema["fields"][number]

/** What `PUT /deckies/{name}/mutate-interval` takes (spec api §7.12): no hours, no seconds. */
export const INTERVAL = /^[1-9]\d*[mdMyY]$/
export const INTERVAL_HINT = "m minutes, d days, M months (30 d), y years; empty = the fleet's"

/** Stored minutes as the shortest interval text the route takes back (1440 → "1d"). */
export const intervalText = (minutes: number): string =>
  minutes % 525_600 === 0
    ? `${minutes / 525_600}y`
    : minutes % 43_200 === 0
      ? `${minutes / 43_200}M`
      : minutes % 1440 === 0
        ? `${minutes / 1440}d`
        : `${minutes}m`

/** The CSS class of a decky's runtime state (running is healthy here, unlike a lifecycle's "running"). */
export const stateClass = (state: string | undefined): string => {
  switch (state) {
    case "running":
      return "status-ok"
    case "pending":
      return "status-pending"
    case "degraded":
      return "status-degraded"
    case "failed":
      return "status-failed"
    default:
      return "status-unknown"
  }
}

/** `http :10080` for a service: the ports it really listens on, when the runtime reported them. */
export const portsOf = (ports: ReadonlyArray<BoundPort> | undefined, service: string) =>
  (ports ?? []).filter((p) => p.service === service)

/** A decky name the fleet does not have yet: decky-web-1, decky-web-2, … */
export const freeName = (taken: ReadonlyArray<string>, prefix = "decky-web-"): string => {
  const names = new Set(taken)
  let n = 1
  while (names.has(`${prefix}${n}`)) n++
  return `${prefix}${n}`
}

/**
 * A minimal deploy INI for one decky (src/fleet/Ini.ts): the section name is the decky's name, `services=`
 * lists what it runs (only services with an emulator run; http and ssh both have one) and `archetype=`
 * gives its persona. No `[general]`: an existing deployment (or the in-process runtime of `decnet up`)
 * already fixes the LAN and the address is handed out.
 */
export const sampleIni = (name: string): string =>
  [
    "; One section per decky; the section name is the decky's name",
    "; (lowercase letters, digits and '-'; unique in the fleet).",
    `[${name}]`,
    "services = http, ssh",
    "archetype = web-server",
    "; Optional: minutes between service rotations (default: the fleet's).",
    "; mutate_interval = 60",
    "",
    "; Optional service settings, in a [<decky>.<service>] section:",
    `; [${name}.http]`,
    "; server_header = nginx/1.18.0",
    ""
  ].join("\n")
