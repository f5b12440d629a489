/**
 * Label selection and API-version arithmetic, shared by the live layer (which turns a selector into the
 * engine's `filters` query) and the in-memory fake (which applies the same selector to its maps), so
 * both answer a `listContainers({ labels })` the same way.
 */

/**
 * Select by labels: `{ "decnet.fleet.decky": "decky-01" }` needs that exact value, `{ "decnet.fleet.service":
 * true }` only needs the label present. Every entry must match (AND), as in the engine.
 */
export type LabelSelector = Readonly<Record<string, string | true>>

/** The engine's `label=` filter values: `key=value` or a bare `key`. */
export const labelFilterValues = (selector: LabelSelector): Array<string> =>
  Object.entries(selector).map(([key, value]) => (value === true ? key : `${key}=${value}`))

/** The `filters` map for a list call; undefined when nothing is filtered (the engine lists all). */
export const listFilters = (selector: {
  readonly labels?: LabelSelector | undefined
  readonly name?: string | undefined
}): Record<string, Array<string>> | undefined => {
  const filters: Record<string, Array<string>> = {}
  const labels = selector.labels === undefined ? [] : labelFilterValues(selector.labels)
  if (labels.length > 0) filters.label = labels
  if (selector.name !== undefined) filters.name = [selector.name]
  return Object.keys(filters).length === 0 ? undefined : filters
}

/** The same selection applied locally (the fake, and callers that filter inspected objects). */
export const matchesLabels = (labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean =>
  Object.entries(selector).every(([key, want]) =>
    Object.hasOwn(labels, key) ? want === true || labels[key] === want : false
  )

/** Parse an engine API version (`"1.41"`) into [major, minor]; garbage compares as 0.0. */
export const parseApiVersion = (v: string): readonly [number, number] => {
  const m = /^v?(\d+)\.(\d+)/.exec(v.trim())
  return m === null ? [0, 0] : [Number(m[1]), Number(m[2])]
}

/** `a` is at least `b` (both `"major.minor"`). */
export const apiAtLeast = (a: string, b: string): boolean => {
  const [am, an] = parseApiVersion(a)
  const [bm, bn] = parseApiVersion(b)
  return am !== bm ? am > bm : an >= bn
}

/**
 * From API 1.44 a container's MAC address is set per network in `EndpointsConfig[net].MacAddress` and
 * a container may be created on several networks at once; before that (Debian's 20.10 engine speaks
 * 1.41) the MAC is the container-level `MacAddress` and only one network can be given at create.
 */
export const ENDPOINT_MAC_API = "1.44"
export const endpointMacSupported = (apiVersion: string): boolean => apiAtLeast(apiVersion, ENDPOINT_MAC_API)
