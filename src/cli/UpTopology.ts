/**
 * MazeNET in `decnet up` (opt-in): `--topology depth=2,branching=2` keeps one generated topology, named
 * `decnet-up` unless `name=` says otherwise, running on loopback next to the flat fleet. The same spec on the
 * next `up` resumes it (same LANs, same addresses); a different one tears the old one down, deletes it and
 * generates anew. Without the flag nothing is created, but every live topology of the database is resumed on
 * the in-process runtime: `decnet up` runs what its database says is running, as it does for the fleet.
 */
import { Effect, Either, Option, Schema } from "effect"
import { generateTopology } from "../topology/Create.js"
import { deployTopology, resumeTopology, teardownTopology } from "../topology/Deploy.js"
import { InProcessTopology, loopbackSubnetOf } from "../topology/InProcessTopology.js"
import { LIVE_STATUSES, TopologyConfig, type TopologyStatus } from "../topology/Model.js"
import { recoverInterrupted } from "../topology/Recovery.js"
import { TopologyRepo } from "../topology/TopologyRepo.js"
import { plainTable } from "./Table.js"

export const UP_TOPOLOGY_NAME = "decnet-up"

/** `key=value` pairs of `--topology`, and the config field each sets. */
const SPEC_KEYS: Readonly<Record<string, string>> = {
  depth: "depth",
  branching: "branching_factor",
  seed: "seed",
  name: "name",
  deckies: "deckies_per_lan",
  cross: "cross_edge_probability",
  forward: "bridge_forward_probability",
  services: "services_explicit"
}

const NUMERIC = new Set([
  "depth",
  "branching_factor",
  "seed",
  "cross_edge_probability",
  "bridge_forward_probability"
])

const decodeConfig = Schema.decodeUnknownEither(TopologyConfig)

/**
 * `depth=2,branching=2[,seed=7][,name=x][,deckies=1-3][,cross=0.2][,forward=1][,services=ssh+redis]` as a
 * TopologyConfig (`services` fixes every decky's services, `+`-separated; unset, each draws its own).
 */
export const parseTopologySpec = (spec: string): Either.Either<TopologyConfig, string> => {
  const fields: Record<string, unknown> = { name: UP_TOPOLOGY_NAME }
  for (const part of spec.split(",").map((p) => p.trim())) {
    if (part === "") continue
    const [key = "", value = "", ...rest] = part.split("=")
    const field = SPEC_KEYS[key.trim()]
    if (field === undefined || rest.length > 0 || value.trim() === "")
      return Either.left(
        `--topology: '${part}' is not one of ${Object.keys(SPEC_KEYS)
          .map((k) => `${k}=…`)
          .join(", ")}`
      )
    const v = value.trim()
    if (field === "deckies_per_lan") {
      const m = /^(\d+)(?:-(\d+))?$/.exec(v)
      if (m === null) return Either.left(`--topology: deckies=${v} is not N or MIN-MAX`)
      fields.deckies_per_lan_min = Number(m[1])
      fields.deckies_per_lan_max = Number(m[2] ?? m[1])
    } else if (field === "services_explicit") {
      fields.services_explicit = v.split("+").filter((s) => s !== "")
      fields.randomize_services = false
    } else if (NUMERIC.has(field)) {
      const n = Number(v)
      if (!Number.isFinite(n)) return Either.left(`--topology: ${key}=${v} is not a number`)
      fields[field] = n
    } else fields[field] = v
  }
  if (fields.depth === undefined || fields.branching_factor === undefined)
    return Either.left("--topology needs at least depth=N and branching=N (e.g. depth=2,branching=2)")
  return Either.mapLeft(
    decodeConfig(fields),
    (e) => `--topology: ${e.message.split("\n").slice(-1)[0] ?? e.message}`
  )
}

/** The fields a kept topology must share with the asked one (the seed only when one was asked). */
const sameShape = (asked: TopologyConfig, snapshot: unknown): boolean => {
  const stored = decodeConfig(snapshot)
  if (Either.isLeft(stored)) return false
  const s = stored.right
  const services = (c: TopologyConfig) => (c.randomize_services ? "*" : (c.services_explicit ?? []).join("+"))
  return (
    s.depth === asked.depth &&
    s.branching_factor === asked.branching_factor &&
    s.deckies_per_lan_min === asked.deckies_per_lan_min &&
    s.deckies_per_lan_max === asked.deckies_per_lan_max &&
    s.cross_edge_probability === asked.cross_edge_probability &&
    s.bridge_forward_probability === asked.bridge_forward_probability &&
    services(s) === services(asked) &&
    (asked.seed === null || s.seed === asked.seed)
  )
}

const findByName = (name: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    for (let offset = 0; ; offset += 500) {
      const page = yield* repo.listTopologies({ limit: 500, offset })
      const hit = page.data.find((t) => t.name === name)
      if (hit !== undefined) return Option.some(hit)
      if (page.data.length < 500) return Option.none()
    }
  })

const TEARABLE: ReadonlyArray<TopologyStatus> = ["deploying", "active", "degraded", "failed"]

/**
 * The topology `--topology` asks for, in the database: kept when its shape matches and it is pending or live,
 * else the old one is torn down (when it ran) and deleted and a new one generated. Its id, and what was done.
 */
export const ensureUpTopology = (asked: TopologyConfig) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const existing = yield* findByName(asked.name)
    if (Option.isSome(existing)) {
      const t = existing.value
      const record = yield* repo.getTopologyRecord(t.id)
      const snapshot = Option.match(record, {
        onNone: () => undefined,
        onSome: (r) => Either.getOrUndefined(Either.try(() => JSON.parse(r.config_snapshot)))
      })
      if (sameShape(asked, snapshot) && (t.status === "pending" || LIVE_STATUSES.includes(t.status)))
        return { id: t.id, action: "kept" as const }
      if (TEARABLE.includes(t.status)) yield* teardownTopology(t.id).pipe(Effect.ignoreLogged)
      yield* repo.deleteTopologyCascade(t.id)
      yield* Effect.logInfo(
        `topology ${asked.name}: replaced (it was ${t.status}, with another shape or state)`
      )
    }
    const { topology } = yield* generateTopology(asked)
    return { id: topology.id, action: "created" as const }
  })

// ---- what `up` prints ------------------------------------------------------------------------------------

export interface TopologyEndpoint {
  readonly service: string
  readonly proto: "tcp" | "udp"
  readonly port: number
  readonly address: string
}

export interface TopologyView {
  readonly id: string
  readonly name: string
  readonly status: TopologyStatus
  readonly lans: ReadonlyArray<{
    readonly name: string
    readonly subnet: string
    readonly loopback: string
    readonly dmz: boolean
  }>
  readonly deckies: ReadonlyArray<{
    readonly name: string
    readonly state: string
    readonly addresses: ReadonlyArray<{
      readonly lan: string
      readonly ip: string
      readonly loopback: string
      readonly services: ReadonlyArray<TopologyEndpoint>
    }>
    /** Services without an in-process emulator: in the plan, not served. */
    readonly skipped: ReadonlyArray<string>
  }>
}

/** The topology as it runs now, for the ready line. */
export const viewTopology = (id: string) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const inproc = yield* InProcessTopology
    const detail = yield* repo.hydrate(id).pipe(Effect.orElseSucceed(() => Option.none()))
    if (Option.isNone(detail)) return Option.none<TopologyView>()
    const t = detail.value
    const listeners = yield* inproc.listeners(id)
    const skipped = yield* inproc.skipped(id)
    return Option.some<TopologyView>({
      id,
      name: t.topology.name,
      status: t.topology.status,
      lans: t.lans.map((l) => ({
        name: l.name,
        subnet: l.subnet,
        loopback: Either.getOrElse(loopbackSubnetOf(l), () => "-"),
        dmz: l.is_dmz
      })),
      deckies: t.deckies.map((d) => {
        const name = d.decky_config?.name ?? d.name
        return {
          name,
          state: d.state,
          addresses: listeners
            .filter((l) => l.decky === name)
            .map((l) => ({
              lan: l.lan,
              ip: l.ip,
              loopback: l.loopback,
              services: l.ports.map((p) => ({
                service: p.service,
                proto: p.proto,
                port: p.port,
                address: `${p.host}:${p.port}`
              }))
            })),
          skipped: skipped.get(name) ?? []
        }
      })
    })
  })

/**
 * A deploy or teardown the previous `up` left unfinished (stopped or killed mid-way) finished first; then
 * `--topology`'s topology made or kept (and deployed when pending), then every other live topology resumed on
 * the in-process runtime; the views of what runs, `--topology`'s first. A failed deploy is shown, not fatal.
 */
export const startTopologies = (asked: Option.Option<TopologyConfig>) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    const finished = yield* recoverInterrupted
    const wanted = yield* Option.match(asked, {
      onNone: () => Effect.succeed(Option.none<string>()),
      onSome: (config) => Effect.map(ensureUpTopology(config), (r) => Option.some(r.id))
    })
    const live = yield* repo.listLiveTopologyIds()
    // A finished deploy has just been materialised here: it needs no second start.
    for (const id of live) if (!finished.includes(id)) yield* resumeTopology(id).pipe(Effect.ignoreLogged)
    if (Option.isSome(wanted) && !live.includes(wanted.value))
      yield* deployTopology(wanted.value).pipe(
        Effect.catchAll((e) => Effect.logWarning(`the --topology topology did not deploy: ${e.message}`))
      )
    const ids = Option.match(wanted, {
      onNone: () => live,
      onSome: (w) => [w, ...live.filter((id) => id !== w)]
    })
    const views = yield* Effect.forEach(ids, viewTopology)
    return views.flatMap(Option.toArray)
  })

/** When up stops, its topologies' deckies no longer run: their rows say so until the next up. */
export const markTopologiesStopped = (views: ReadonlyArray<TopologyView>) =>
  Effect.gen(function* () {
    const repo = yield* TopologyRepo
    for (const view of views) {
      const detail = yield* repo.hydrate(view.id).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isNone(detail) || !LIVE_STATUSES.includes(detail.value.topology.status)) continue
      for (const d of detail.value.deckies)
        yield* repo.setDeckyState(d.uuid, "pending", "decnet up is not running")
    }
  })

/** The ready line's topology part: LANs with their loopback ranges, then where each decky listens. */
export const topologyLines = (views: ReadonlyArray<TopologyView>): ReadonlyArray<string> =>
  views.flatMap((v) => {
    const lanRows = v.lans.map((l) => [l.name, l.subnet, l.loopback, l.dmz ? "DMZ" : ""])
    const deckyRows = v.deckies.flatMap((d) => {
      if (d.addresses.length === 0) return [[d.name, "-", "-", "-", `(${d.state}, not running)`]]
      return d.addresses.flatMap((a, i) => {
        const served = a.services.map(
          (s) => `${s.service} ${s.proto === "udp" ? `${s.address}/udp` : s.address}`
        )
        return (served.length === 0 ? ["(no emulated services)"] : served).map((cell, j) => [
          i === 0 && j === 0 ? d.name : "",
          j === 0 ? a.lan : "",
          j === 0 ? a.ip : "",
          j === 0 ? a.loopback : "",
          cell
        ])
      })
    })
    const skipped = v.deckies.filter((d) => d.skipped.length > 0)
    return [
      "",
      `topology ${v.name} (${v.status}, id ${v.id}): ${v.lans.length} LANs, ${v.deckies.length} deckies on loopback`,
      plainTable(["LAN", "SUBNET", "LOOPBACK", ""], lanRows),
      "",
      plainTable(["DECKY", "LAN", "IP", "LOOPBACK", "SERVICE"], deckyRows),
      ...(skipped.length === 0
        ? []
        : [
            `not emulated in-process (in the plan, not served): ${skipped
              .map((d) => `${d.name} (${d.skipped.join(",")})`)
              .join(", ")}`
          ])
    ]
  })
