/**
 * Types of the MazeNET page (from the generated API types) and the map's layout: a deterministic layered
 * drawing of a topology. The DMZ is the top row; every other LAN sits one row below the LAN it is reached
 * from through a multi-homed (bridge) decky, so a generated tree reads top to bottom by depth. LANs no
 * bridge reaches (a LAN just added, say) get a last row of their own. Each decky is drawn inside its home
 * LAN (the first LAN of its `ips_by_lan`); a bridge decky has a link to each of its other LANs.
 */
import type { Ok, components } from "../../api/client"

export type TopologySummary = components["schemas"]["TopologySummary"]
export type TopologyDetail = Ok<"/api/v1/topologies/{topology_id}", "get">
export type LanRow = TopologyDetail["lans"][number]
export type DeckyRow = TopologyDetail["deckies"][number]
export type EdgeRow = TopologyDetail["edges"][number]
export type MutationRow = Ok<"/api/v1/topologies/{topology_id}/mutations", "get">[number]
export type TopologyStatus = TopologySummary["status"]
export type GenerateRequest = components["schemas"]["TopologyGenerateRequest"]

/**
 * The events of a topology's stream, `GET /topologies/{id}/events` (topology.md §8): `snapshot`
 * {topology_id, status, in_flight} first on every connect, then `mutation.enqueued|applying|applied|failed`,
 * `status` and `decky.<tail>`, each {topic, type, ts, payload}; keepalives are comments.
 */
export const TOPOLOGY_EVENTS = [
  "snapshot",
  "status",
  "mutation.enqueued",
  "mutation.applying",
  "mutation.applied",
  "mutation.failed",
  "decky.mutation",
  "decky.state",
  "decky.status"
] as const

/** Statuses in which the topology takes live mutations (topology.md §8). */
export const LIVE: ReadonlyArray<TopologyStatus> = ["active", "degraded"]
export const DEPLOYABLE: ReadonlyArray<TopologyStatus> = ["pending"]
export const TEARABLE: ReadonlyArray<TopologyStatus> = ["active", "degraded", "failed", "deploying"]
export const DELETABLE: ReadonlyArray<TopologyStatus> = ["pending", "torn_down", "failed"]

/** The CSS class of a topology status, a decky state or a mutation state. */
export const stateClass = (state: string): string => {
  switch (state) {
    case "active":
    case "running":
    case "applied":
      return "tstate-ok"
    case "pending":
    case "torn_down":
      return "tstate-idle"
    case "deploying":
    case "tearing_down":
    case "applying":
      return "tstate-busy"
    case "degraded":
      return "tstate-warn"
    default:
      return "tstate-bad"
  }
}

export const truthy = (v: boolean | number): boolean => (typeof v === "boolean" ? v : v !== 0)

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** A decky's services (the API sends a list; anything else reads as none). */
export const servicesOf = (d: DeckyRow): ReadonlyArray<string> =>
  Array.isArray(d.services) ? d.services.filter((s): s is string => typeof s === "string") : []

/** Service names as typed: separated by commas or spaces. */
export const parseServices = (s: string): Array<string> =>
  s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter((x) => x !== "")

/** LAN name → address, in the config's order (the first is the home LAN). */
export const ipsByLan = (d: DeckyRow): ReadonlyArray<readonly [string, string]> => {
  const cfg = d.decky_config
  if (!isRecord(cfg) || !isRecord(cfg.ips_by_lan)) return []
  return Object.entries(cfg.ips_by_lan).flatMap(([lan, ip]) =>
    typeof ip === "string" ? [[lan, ip] as const] : []
  )
}

const forwardsInConfig = (d: DeckyRow): boolean =>
  isRecord(d.decky_config) && d.decky_config.forwards_l3 === true

/** What the map and the forms need of one decky. */
export interface DeckyView {
  readonly decky: DeckyRow
  readonly home: LanRow | undefined
  /** Its address on its home LAN (from its config; the row's `ip` is unset for a decky added live). */
  readonly ip: string | null
  /** Every LAN it is on (home first). */
  readonly lans: ReadonlyArray<LanRow>
  /** On two LANs or more. */
  readonly bridge: boolean
  /** Routes between its LANs (an L3 forwarder / gateway). */
  readonly forwards: boolean
}

export const deckyViews = (t: TopologyDetail): ReadonlyArray<DeckyView> => {
  const lanById = new Map(t.lans.map((l) => [l.id, l] as const))
  const lanByName = new Map(t.lans.map((l) => [l.name, l] as const))
  return t.deckies.map((decky) => {
    const edges = t.edges.filter((e) => e.decky_uuid === decky.uuid)
    const onLans = edges.flatMap((e) => {
      const l = lanById.get(e.lan_id)
      return l === undefined ? [] : [l]
    })
    const fromConfig = ipsByLan(decky)
      .map(([name]) => lanByName.get(name))
      .find((l) => l !== undefined && onLans.includes(l))
    const nonBridge = edges.find((e) => !truthy(e.is_bridge))
    const home =
      fromConfig ?? (nonBridge === undefined ? undefined : lanById.get(nonBridge.lan_id)) ?? onLans[0]
    const lans = home === undefined ? onLans : [home, ...onLans.filter((l) => l.id !== home.id)]
    return {
      decky,
      home,
      ip: ipsByLan(decky).find(([lan]) => lan === home?.name)?.[1] ?? decky.ip,
      lans: [...new Map(lans.map((l) => [l.id, l] as const)).values()],
      bridge: new Set(onLans.map((l) => l.id)).size >= 2,
      forwards: forwardsInConfig(decky) || edges.some((e) => truthy(e.forwards_l3))
    }
  })
}

// ---- layout -------------------------------------------------------------------------------------------

export const LAN_W = 236
const LAN_HEAD = 44
export const DECKY_H = 26
const LAN_PAD = 10
const GAP_X = 36
const GAP_Y = 64
const MARGIN = 20
/** Room left of the leftmost LAN for the links that leave a LAN by its left edge. */
const MARGIN_X = 56

export interface LanBox {
  readonly lan: LanRow
  readonly depth: number
  /** No bridge decky reaches it from the DMZ. */
  readonly detached: boolean
  readonly x: number
  readonly y: number
  readonly w: number
  readonly h: number
  readonly deckies: ReadonlyArray<DeckyNode>
}

export interface DeckyNode {
  readonly view: DeckyView
  /** The node's centre (its marker). */
  readonly cx: number
  readonly cy: number
}

export interface Link {
  readonly key: string
  readonly from: DeckyNode
  readonly to: LanBox
  readonly forwards: boolean
}

export interface Layout {
  readonly width: number
  readonly height: number
  readonly lans: ReadonlyArray<LanBox>
  readonly links: ReadonlyArray<Link>
}

const byName = <T extends { readonly name: string }>(a: T, b: T) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** Rows by breadth-first depth from the DMZ(s) through bridge deckies; the same input, the same drawing. */
export const layout = (t: TopologyDetail): Layout => {
  const views = deckyViews(t)
  const lans = [...t.lans].sort(byName)
  const neighbours = new Map<string, Set<string>>(lans.map((l) => [l.id, new Set<string>()]))
  for (const v of views)
    for (const a of v.lans) for (const b of v.lans) if (a.id !== b.id) neighbours.get(a.id)?.add(b.id)

  const depth = new Map<string, number>()
  let frontier = lans.filter((l) => truthy(l.is_dmz)).map((l) => l.id)
  if (frontier.length === 0 && lans[0] !== undefined) frontier = [lans[0].id]
  for (const id of frontier) depth.set(id, 0)
  let d = 0
  while (frontier.length > 0) {
    d++
    const next: Array<string> = []
    for (const id of frontier)
      for (const n of [...(neighbours.get(id) ?? [])].sort())
        if (!depth.has(n)) {
          depth.set(n, d)
          next.push(n)
        }
    frontier = next
  }
  const reached = depth.size === 0 ? 0 : Math.max(...depth.values()) + 1
  const detachedRow = reached

  const homeOf = new Map<string, Array<DeckyView>>()
  for (const v of views)
    if (v.home !== undefined) homeOf.set(v.home.id, [...(homeOf.get(v.home.id) ?? []), v])

  const rows = new Map<number, Array<LanRow>>()
  for (const l of lans) {
    const r = depth.get(l.id) ?? detachedRow
    rows.set(r, [...(rows.get(r) ?? []), l])
  }
  const order = [...rows.keys()].sort((a, b) => a - b)
  const heightOf = (l: LanRow) => LAN_HEAD + Math.max(1, (homeOf.get(l.id) ?? []).length) * DECKY_H + LAN_PAD
  const rowWidth = (row: ReadonlyArray<LanRow>) => row.length * LAN_W + (row.length - 1) * GAP_X
  const width = Math.max(LAN_W, ...order.map((r) => rowWidth(rows.get(r) ?? []))) + 2 * MARGIN_X

  const boxes: Array<LanBox> = []
  let y = MARGIN
  for (const r of order) {
    const row = rows.get(r) ?? []
    let x = MARGIN_X + (width - 2 * MARGIN_X - rowWidth(row)) / 2
    const h = Math.max(...row.map(heightOf))
    for (const lan of row) {
      const home = [...(homeOf.get(lan.id) ?? [])].sort((a, b) => byName(a.decky, b.decky))
      boxes.push({
        lan,
        depth: r,
        detached: !depth.has(lan.id),
        x,
        y,
        w: LAN_W,
        h: heightOf(lan),
        deckies: home.map((view, i) => ({
          view,
          cx: x + 18,
          cy: y + LAN_HEAD + i * DECKY_H + DECKY_H / 2
        }))
      })
      x += LAN_W + GAP_X
    }
    y += h + GAP_Y
  }
  const boxById = new Map(boxes.map((b) => [b.lan.id, b] as const))
  const links: Array<Link> = []
  for (const box of boxes)
    for (const node of box.deckies)
      for (const other of node.view.lans.slice(1)) {
        const to = boxById.get(other.id)
        if (to !== undefined)
          links.push({
            key: `${node.view.decky.uuid}:${other.id}`,
            from: node,
            to,
            forwards: node.view.forwards
          })
      }
  return { width, height: y - GAP_Y + MARGIN, lans: boxes, links }
}

// ---- the version conflict (topology.md §7) ------------------------------------------------------------

/** The current version in a 409 "Version conflict: expected E, current C", else undefined. */
export const conflictVersion = (detail: string): number | undefined => {
  const m = /version conflict: expected (\d+), current (?:is )?(\d+)/i.exec(detail)
  return m?.[2] === undefined ? undefined : Number(m[2])
}

export const fmtTime = (iso: string | null | undefined): string =>
  iso === null || iso === undefined
    ? "—"
    : iso
        .replace("T", " ")
        .replace(/(\.\d+)?Z?$/, "")
        .slice(0, 19)
