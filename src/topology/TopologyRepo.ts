/**
 * MazeNET persistence (spec/topology.md §1, §7, §8): topologies and their LANs, deckies and edges, the
 * status audit and the live-mutation queue. Every write to a topology's rows takes the topology row's lock
 * with its first statement, so optimistic concurrency, the pending-only guard and the edit itself are one
 * transaction on both engines; the queue claims with one conditional UPDATE. docs/topology.md, "Persistence
 * and concurrency", has the whole design.
 */
import { randomBytes } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import { DbLive } from "../db/Client.js"
import { formatUtc, SqlCount } from "../db/Columns.js"
import { isForeignKeyViolation, isLockConflict, isUniqueViolation } from "../db/DbError.js"
import { MigrationsLive } from "../db/Migrations.js"
import { topologyTarpitKey, topologyTarpitPrefix } from "../db/TarpitRepo.js"
import { IpAllocator } from "./Allocators.js"
import {
  type AllocatorExhausted,
  TopologyNotEditable,
  TopologyNotFound,
  TopologyRejected,
  type TopologyStatusError,
  VersionConflict
} from "./Errors.js"
import {
  type DeckyConfig,
  DeckyRow,
  EdgeRow,
  LanRow,
  LIVE_STATUSES,
  MutationRow,
  type MutationRowState,
  StatusEventRow,
  SUBNET_HOLDING_STATUSES,
  type TopologyDeckyState,
  type TopologyDetail,
  type TopologyMode,
  TopologyRecord,
  TopologyStatus,
  TopologySummary
} from "./Model.js"
import { assertTransition } from "./Status.js"

// ---- inputs ---------------------------------------------------------------------------------------------

export interface NewTopology {
  readonly name: string
  readonly mode: TopologyMode
  readonly target_host_uuid?: string | null | undefined
  /** The generator's config (with its seed), or `{ blank: true }`; stored as JSON. */
  readonly config_snapshot: unknown
}

export interface NewLan {
  readonly topology_id: string
  readonly name: string
  readonly subnet: string
  readonly is_dmz?: boolean | undefined
  readonly docker_network_id?: string | null | undefined
  readonly x?: number | null | undefined
  readonly y?: number | null | undefined
}

/** A LAN edit: absent keys stay as they are. */
export interface LanPatch {
  readonly name?: string | undefined
  readonly subnet?: string | undefined
  readonly is_dmz?: boolean | undefined
  readonly docker_network_id?: string | null | undefined
  readonly x?: number | null | undefined
  readonly y?: number | null | undefined
}

export interface NewDecky {
  readonly topology_id: string
  readonly name: string
  readonly services?: ReadonlyArray<string> | undefined
  readonly decky_config?: DeckyConfig | null | undefined
  /** The home-LAN address. */
  readonly ip?: string | null | undefined
  readonly state?: TopologyDeckyState | undefined
  readonly x?: number | null | undefined
  readonly y?: number | null | undefined
}

/** A decky edit: absent keys stay as they are; `decky_config` is replaced whole. */
export interface DeckyPatch {
  readonly name?: string | undefined
  readonly services?: ReadonlyArray<string> | undefined
  readonly decky_config?: DeckyConfig | null | undefined
  readonly ip?: string | null | undefined
  readonly state?: TopologyDeckyState | undefined
  readonly last_error?: string | null | undefined
  readonly x?: number | null | undefined
  readonly y?: number | null | undefined
}

export interface NewEdge {
  readonly topology_id: string
  readonly decky_uuid: string
  readonly lan_id: string
  readonly is_bridge?: boolean | undefined
  readonly forwards_l3?: boolean | undefined
}

/** §7: with `expectedVersion` the write checks `version == expectedVersion` and bumps it; without, neither. */
export interface Versioned {
  readonly expectedVersion?: number | undefined
}

/** Free-form edits of a deployed topology are refused when `enforcePending` (the mutator passes false). */
export interface Guarded extends Versioned {
  readonly enforcePending?: boolean | undefined
}

export interface TopologyPage {
  readonly total: number
  readonly data: ReadonlyArray<TopologySummary>
}

// ---- ids --------------------------------------------------------------------------------------------------

/**
 * UUIDv7 (RFC 9562 §5.7) with the 12-bit `rand_a` field as a counter (§6.2, method 1): ids made by one
 * process sort in the order they were made, even within a millisecond. Edges have no other insertion-order
 * key, and the queue breaks `requested_at` ties with the id.
 */
const makeIdSource = () => {
  let lastMs = -1
  let counter = 0
  return (nowMs: number): string => {
    if (nowMs > lastMs) {
      lastMs = nowMs
      counter = 0
    } else if (++counter > 0xfff) {
      lastMs += 1
      counter = 0
    }
    const rand = randomBytes(8)
    const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")
    const ms = hex(lastMs, 12)
    const variant = hex(0x8000 | (rand.readUInt16BE(0) & 0x3fff), 4)
    return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(counter, 3)}-${variant}-${rand.toString("hex", 2)}`
  }
}

// ---- row decoding -----------------------------------------------------------------------------------------

const decodeSummaries = Schema.decodeUnknown(Schema.Array(TopologySummary))
const decodeRecords = Schema.decodeUnknown(Schema.Array(TopologyRecord))
const decodeLans = Schema.decodeUnknown(Schema.Array(LanRow))
const decodeDeckies = Schema.decodeUnknown(Schema.Array(DeckyRow))
const decodeEdges = Schema.decodeUnknown(Schema.Array(EdgeRow))
const decodeEvents = Schema.decodeUnknown(Schema.Array(StatusEventRow))
const decodeMutations = Schema.decodeUnknown(Schema.Array(MutationRow))
const decodeLock = Schema.decodeUnknown(
  Schema.Array(Schema.Struct({ status: TopologyStatus, version: Schema.Number }))
)
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ n: SqlCount })))
const decodeIds = Schema.decodeUnknown(Schema.Array(Schema.Struct({ id: Schema.String })))
const decodeSubnets = Schema.decodeUnknown(Schema.Array(Schema.Struct({ subnet: Schema.String })))
const decodeDeckyUuids = Schema.decodeUnknown(Schema.Array(Schema.Struct({ decky_uuid: Schema.String })))

/** What an INSERT/UPDATE/DELETE reports: better-sqlite3's RunResult or mysql2's ResultSetHeader. */
const decodeAffected = Schema.decodeUnknown(
  Schema.Union(
    Schema.Struct({ changes: Schema.Union(Schema.Number, Schema.BigIntFromSelf) }),
    Schema.Struct({ affectedRows: Schema.Number })
  )
)

/** Rows matched (mysql2 connects with FOUND_ROWS, so an UPDATE that changes nothing still counts). */
const affected = <R>(statement: Effect.Effect<unknown, SqlError, R>) =>
  statement.pipe(
    Effect.flatMap((raw) => Effect.orDie(decodeAffected(raw))),
    Effect.map((r) => ("changes" in r ? Number(r.changes) : r.affectedRows))
  )

const flag = (b: boolean | undefined): number => (b === true ? 1 : 0)
const json = (v: unknown): string => JSON.stringify(v)
const byName = <T extends { readonly name: string }>(a: T, b: T) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** Only the keys a patch sets (exactOptionalPropertyTypes lets a caller pass `undefined` for "absent"). */
const present = (cols: Record<string, string | number | null | undefined>) => {
  const out: Record<string, string | number | null> = {}
  for (const [k, v] of Object.entries(cols)) if (v !== undefined) out[k] = v
  return out
}

const lanColumns = (p: LanPatch) =>
  present({
    name: p.name,
    subnet: p.subnet,
    is_dmz: p.is_dmz === undefined ? undefined : flag(p.is_dmz),
    docker_network_id: p.docker_network_id,
    x: p.x,
    y: p.y
  })

const deckyColumns = (p: DeckyPatch) =>
  present({
    name: p.name,
    services: p.services === undefined ? undefined : json(p.services),
    decky_config:
      p.decky_config === undefined ? undefined : p.decky_config === null ? null : json(p.decky_config),
    ip: p.ip,
    state: p.state,
    last_error: p.last_error,
    x: p.x,
    y: p.y
  })

const isSqlError = (e: unknown): e is SqlError => e instanceof SqlError

/** A unique violation becomes the operator's message; anything else stays a SqlError (a defect later). */
const rejectDuplicate =
  (message: string) =>
  <A, E, R>(self: Effect.Effect<A, E | SqlError, R>) =>
    Effect.catchIf(self, isSqlError, (e) =>
      Effect.fail<TopologyRejected | SqlError>(isUniqueViolation(e) ? new TopologyRejected({ message }) : e)
    )

// ---- the hydrated view's address backfill (§1 "Hydrated dict") -------------------------------------------

/**
 * Every decky_config gets its name and an address on each LAN it has an edge to, in memory only: rows made
 * through the editor carry whatever the client sent, and compose generation needs both. Deckies go by
 * (name, uuid); pass 1 reserves the addresses already declared, pass 2 fills the gaps with the row's `ip`
 * when it is a free host of that LAN, else the LAN's next free address. A LAN whose subnet does not parse
 * gets no address (the validator reports the subnet).
 */
export const backfillDeckyConfigs = (
  lans: ReadonlyArray<LanRow>,
  deckies: ReadonlyArray<DeckyRow>,
  edges: ReadonlyArray<EdgeRow>
): Either.Either<ReadonlyArray<DeckyRow>, AllocatorExhausted> => {
  const lansById = new Map(lans.map((l) => [l.id, l]))
  const allocators = new Map<string, Option.Option<IpAllocator>>()
  const allocatorOf = (lan: LanRow): Option.Option<IpAllocator> => {
    const known = allocators.get(lan.id)
    if (known !== undefined) return known
    const made = Either.getRight(IpAllocator.make(lan.subnet))
    allocators.set(lan.id, made)
    return made
  }
  const lansOf = new Map<string, Array<LanRow>>()
  for (const e of edges) {
    const lan = lansById.get(e.lan_id)
    if (lan === undefined) continue
    const list = lansOf.get(e.decky_uuid) ?? []
    list.push(lan)
    lansOf.set(e.decky_uuid, list)
  }
  const ordered = [...deckies].sort(
    (a, b) => byName(a, b) || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0)
  )

  for (const d of ordered) {
    const declared = d.decky_config?.ips_by_lan ?? {}
    for (const lan of lansOf.get(d.uuid) ?? []) {
      const ip = declared[lan.name]
      const alloc = allocatorOf(lan)
      if (ip !== undefined && Option.isSome(alloc) && alloc.value.isFree(ip)) alloc.value.reserve(ip)
    }
  }

  const filled = new Map<string, DeckyRow>()
  for (const d of ordered) {
    const cfg: DeckyConfig = d.decky_config ?? {}
    const ips: Record<string, string> = { ...cfg.ips_by_lan }
    for (const lan of lansOf.get(d.uuid) ?? []) {
      if (lan.name in ips) continue
      const alloc = allocatorOf(lan)
      if (Option.isNone(alloc)) continue
      if (d.ip !== null && alloc.value.isFree(d.ip)) {
        alloc.value.reserve(d.ip)
        ips[lan.name] = d.ip
        continue
      }
      const next = alloc.value.nextFree()
      if (Either.isLeft(next)) return Either.left(next.left)
      ips[lan.name] = next.right
    }
    filled.set(d.uuid, {
      ...d,
      decky_config: { ...cfg, name: cfg.name === undefined ? d.name : cfg.name, ips_by_lan: ips }
    })
  }
  return Either.right(deckies.map((d) => filled.get(d.uuid) ?? d))
}

// ---- the service ------------------------------------------------------------------------------------------

/**
 * Lost lock races are retried, whole: an InnoDB deadlock victim (its transaction was rolled back), a
 * lock-wait timeout, SQLite busy past its timeout. Backoff doubles
 * from 5 ms, capped at 250 ms, jittered; the 31st loss in a row is a defect.
 */
const lockRetry = Schedule.exponential("5 millis").pipe(
  Schedule.union(Schedule.spaced("250 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(30))
)

const retryLockConflicts = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.retry(self, { schedule: lockRetry, while: (e) => isSqlError(e) && isLockConflict(e) })

export class TopologyRepo extends Effect.Service<TopologyRepo>()("decnet/TopologyRepo", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const nextId = makeIdSource()
    const newId = Effect.map(Clock.currentTimeMillis, nextId)
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

    /**
     * One transaction; its domain failures roll it back and pass through, a lost lock race re-runs it, any
     * other database failure is a defect. Every transaction here writes first (see `guard`): on SQLite a
     * deferred transaction that reads and then writes fails with SQLITE_BUSY instead of waiting (a
     * read-only one, as in `hydrate`, is fine). Inside a caller's transaction (`withTopologyLock`, a
     * persist) the body joins it, with no savepoint: a failure fails the whole transaction, and a lost lock
     * race is the outer one's to re-run (InnoDB has rolled all of it back), so it dies with the SqlError,
     * which the outer transaction turns back into a failure.
     */
    const transact = <A, E, R>(
      body: Effect.Effect<A, E | SqlError, R>
    ): Effect.Effect<A, Exclude<E, SqlError>, R> => {
      const joined = Effect.catchIf(body, isSqlError, (e) => Effect.die(e))
      const own = sql.withTransaction(body).pipe(
        Effect.catchAllDefect((d) => (isSqlError(d) ? Effect.fail(d) : Effect.die(d))),
        retryLockConflicts,
        Effect.catchIf(isSqlError, (e) => Effect.die(e))
      )
      return Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
        Option.isSome(outer) ? joined : own
      )
    }

    /**
     * `body` in one transaction that first takes the topology's row lock (no version bump), so that a live
     * op reads, writes and re-reads one topology while no other writer (another process's reconciler, a
     * deploy) touches it, and commits all of it or none. The repo's own edits inside join it.
     */
    const withTopologyLock = <A, E, R>(topologyId: string, body: Effect.Effect<A, E, R>) =>
      transact(
        Effect.zipRight(sql`UPDATE topologies SET version = version WHERE id = ${topologyId}`.raw, body)
      )

    const selectLock = (topologyId: string) =>
      sql`SELECT status, version FROM topologies WHERE id = ${topologyId}`.pipe(
        Effect.flatMap((rows) => Effect.orDie(decodeLock(rows))),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    /**
     * The first statement of every edit: lock the topology row (bumping the version when one is expected, by
     * a conditional UPDATE), then judge in the spec's order: missing, not editable, the caller's own check,
     * version conflict. A failure rolls the bump back with the rest.
     */
    const guard = (
      topologyId: string,
      options: Guarded & { readonly check?: Effect.Effect<void, TopologyRejected | SqlError> }
    ) =>
      Effect.gen(function* () {
        const expected = options.expectedVersion
        const matched = yield* affected(
          expected === undefined
            ? sql`UPDATE topologies SET version = version WHERE id = ${topologyId}`.raw
            : sql`UPDATE topologies SET version = version + 1 WHERE id = ${topologyId} AND version = ${expected}`
                .raw
        )
        const row = yield* selectLock(topologyId)
        if (Option.isNone(row)) return yield* new TopologyNotFound({ what: "topology", id: topologyId })
        if (options.enforcePending === true && row.value.status !== "pending") {
          return yield* new TopologyNotEditable({ topologyId, status: row.value.status })
        }
        if (options.check !== undefined) yield* options.check
        if (expected !== undefined && matched === 0) {
          return yield* new VersionConflict({ topologyId, current: row.value.version, expected })
        }
        return row.value
      })

    // ---- topologies -------------------------------------------------------------------------------------

    const createTopology = Effect.fn("TopologyRepo.createTopology")(function* (input: NewTopology) {
      const at = yield* now
      const summary: TopologySummary = {
        id: yield* newId,
        name: input.name,
        mode: input.mode,
        target_host_uuid: input.target_host_uuid ?? null,
        status: "pending",
        version: 1,
        needs_resync: false,
        created_at: at,
        status_changed_at: at,
        email_personas: "[]",
        language_default: "en"
      }
      yield* sql`INSERT INTO topologies ${sql.insert({
        ...summary,
        needs_resync: 0,
        created_at: formatUtc(at),
        status_changed_at: formatUtc(at),
        config_snapshot: json(input.config_snapshot)
      })}`.pipe(
        rejectDuplicate(`A topology named '${input.name}' already exists.`),
        Effect.catchIf(
          (e) => isSqlError(e) && isForeignKeyViolation(e),
          () => Effect.fail(new TopologyNotFound({ what: "swarm host", id: input.target_host_uuid ?? "" }))
        ),
        Effect.catchIf(isSqlError, (e) => Effect.die(e))
      )
      return summary
    })

    const getTopology = Effect.fn("TopologyRepo.getTopology")(function* (id: string) {
      const rows = yield* sql`SELECT * FROM topologies WHERE id = ${id}`.pipe(
        Effect.flatMap(decodeSummaries),
        Effect.orDie
      )
      return Option.fromNullable(rows[0])
    })

    /** The row with its config snapshot (JSON text), for redeploys and resyncs. */
    const getTopologyRecord = Effect.fn("TopologyRepo.getTopologyRecord")(function* (id: string) {
      const rows = yield* sql`SELECT * FROM topologies WHERE id = ${id}`.pipe(
        Effect.flatMap(decodeRecords),
        Effect.orDie
      )
      return Option.fromNullable(rows[0])
    })

    /** Newest first (ids break ties within a millisecond). */
    const listTopologies = Effect.fn("TopologyRepo.listTopologies")(function* (query: {
      readonly status?: TopologyStatus | undefined
      readonly limit: number
      readonly offset: number
    }) {
      const where = query.status === undefined ? sql.literal("") : sql`WHERE status = ${query.status}`
      const [count] = yield* sql`SELECT COUNT(*) AS n FROM topologies ${where}`.pipe(
        Effect.flatMap(decodeCount),
        Effect.orDie
      )
      const data =
        yield* sql`SELECT * FROM topologies ${where} ORDER BY created_at DESC, id DESC LIMIT ${query.limit} OFFSET ${query.offset}`.pipe(
          Effect.flatMap(decodeSummaries),
          Effect.orDie
        )
      return { total: count?.n ?? 0, data } satisfies TopologyPage
    })

    /** Deletes the topology and everything in it; false when there was no such topology. */
    /** The tarpit rules of a topology's deckies (keys `t:<id>:<decky>`): they go with the topology's rows. */
    const dropTarpitRules = (id: string) => {
      const prefix = topologyTarpitPrefix(id)
      return sql`DELETE FROM tarpit_rules WHERE SUBSTR(decky_name, 1, ${prefix.length}) = ${prefix}`
    }

    const deleteTopologyCascade = Effect.fn("TopologyRepo.deleteTopologyCascade")(function* (id: string) {
      return yield* transact(
        Effect.gen(function* () {
          const found = yield* affected(sql`UPDATE topologies SET version = version WHERE id = ${id}`.raw)
          if (found === 0) return false
          yield* sql`DELETE FROM topology_status_events WHERE topology_id = ${id}`
          yield* sql`DELETE FROM topology_edges WHERE topology_id = ${id}`
          yield* sql`DELETE FROM topology_deckies WHERE topology_id = ${id}`
          yield* sql`DELETE FROM lans WHERE topology_id = ${id}`
          yield* sql`DELETE FROM topology_mutations WHERE topology_id = ${id}`
          yield* dropTarpitRules(id)
          yield* sql`DELETE FROM topologies WHERE id = ${id}`
          return true
        })
      )
    })

    /**
     * Sets status and status_changed_at and appends the audit event, in one transaction; never bumps the
     * version. `check` judges the move against the status read under the lock.
     */
    const newestEventId = (id: string) =>
      sql`SELECT id FROM topology_status_events WHERE topology_id = ${id} ORDER BY at DESC, id DESC LIMIT 1`.pipe(
        Effect.flatMap((rows) => Effect.orDie(decodeIds(rows))),
        Effect.map((rows) => rows[0]?.id ?? null)
      )

    const moveStatus = (
      id: string,
      next: TopologyStatus,
      reason: string | null,
      check: (current: TopologyStatus) => Either.Either<unknown, TopologyStatusError>
    ) =>
      transact(
        Effect.gen(function* () {
          const { status: from } = yield* guard(id, {})
          const legal = check(from)
          if (Either.isLeft(legal)) return yield* legal.left
          return yield* recordStatus(id, from, next, reason)
        })
      )

    /** The status write and its event, inside a transaction that holds the topology's lock. */
    const recordStatus = (id: string, from: TopologyStatus, next: TopologyStatus, reason: string | null) =>
      Effect.gen(function* () {
        const at = yield* now
        const event: StatusEventRow = {
          id: yield* newId,
          topology_id: id,
          from_status: from,
          to_status: next,
          at,
          reason
        }
        yield* sql`UPDATE topologies SET ${sql.update({ status: next, status_changed_at: formatUtc(at) })} WHERE id = ${id}`
        yield* sql`INSERT INTO topology_status_events ${sql.insert({ ...event, at: formatUtc(at) })}`
        // Nothing of a torn-down topology runs: its deckies' tarpit rules go with it.
        if (next === "torn_down") yield* dropTarpitRules(id)
        return event
      })

    /**
     * Take over an operation its owner left (Recovery.ts): record `reason` as a `status → status` event only
     * if, under the topology's lock, it is still in `status` and its newest event is still `lastEventId`
     * (the one whose owner was judged gone). None when another process took it over, or it moved, first:
     * of two processes that judged the same dead owner at once, one resumes the operation.
     */
    const takeOverOperation = Effect.fn("TopologyRepo.takeOverOperation")(function* (
      id: string,
      status: TopologyStatus,
      reason: string,
      lastEventId: string | null
    ) {
      return yield* transact(
        Effect.gen(function* () {
          const { status: current } = yield* guard(id, {})
          if (current !== status || (yield* newestEventId(id)) !== lastEventId)
            return Option.none<StatusEventRow>()
          return Option.some(yield* recordStatus(id, current, status, reason))
        })
      )
    })

    /** Records a status without judging it (the deployer's own bookkeeping); see `transitionStatus`. */
    const updateStatus = Effect.fn("TopologyRepo.updateStatus")(function* (
      id: string,
      next: TopologyStatus,
      reason: string | null = null
    ) {
      return yield* moveStatus(id, next, reason, () => Either.void)
    })

    /** A legal move of the status machine (§3), judged against the status under the lock. */
    const transitionStatus = Effect.fn("TopologyRepo.transitionStatus")(function* (
      id: string,
      next: TopologyStatus,
      reason: string | null = null
    ) {
      return yield* moveStatus(id, next, reason, (current) => assertTransition(current, next))
    })

    /** Newest first. */
    const listStatusEvents = Effect.fn("TopologyRepo.listStatusEvents")(function* (id: string, limit = 100) {
      return yield* sql`SELECT * FROM topology_status_events WHERE topology_id = ${id} ORDER BY at DESC, id DESC LIMIT ${limit}`.pipe(
        Effect.flatMap(decodeEvents),
        Effect.orDie
      )
    })

    const setNeedsResync = Effect.fn("TopologyRepo.setNeedsResync")(function* (id: string, value: boolean) {
      yield* sql`UPDATE topologies SET needs_resync = ${flag(value)} WHERE id = ${id}`.pipe(Effect.orDie)
    })

    const listNeedingResync = Effect.fn("TopologyRepo.listNeedingResync")(function* () {
      return yield* sql`SELECT * FROM topologies WHERE needs_resync = 1 ORDER BY created_at, id`.pipe(
        Effect.flatMap(decodeSummaries),
        Effect.orDie
      )
    })

    /** Subnets held by LANs of topologies that are not torn down (§5 reserved_subnets). */
    const reservedSubnets = Effect.fn("TopologyRepo.reservedSubnets")(function* () {
      const rows =
        yield* sql`SELECT DISTINCT l.subnet AS subnet FROM lans l JOIN topologies t ON t.id = l.topology_id WHERE ${sql.in(
          "t.status",
          SUBNET_HOLDING_STATUSES
        )} ORDER BY l.subnet`.pipe(Effect.flatMap(decodeSubnets), Effect.orDie)
      return rows.map((r) => r.subnet)
    })

    const listLiveTopologyIds = Effect.fn("TopologyRepo.listLiveTopologyIds")(function* () {
      const rows =
        yield* sql`SELECT id FROM topologies WHERE ${sql.in("status", LIVE_STATUSES)} ORDER BY created_at, id`.pipe(
          Effect.flatMap(decodeIds),
          Effect.orDie
        )
      return rows.map((r) => r.id)
    })

    // ---- LANs -------------------------------------------------------------------------------------------

    const selectLan = (id: string) =>
      sql`SELECT * FROM lans WHERE id = ${id}`.pipe(
        Effect.flatMap((rows) => Effect.orDie(decodeLans(rows))),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    const addLan = Effect.fn("TopologyRepo.addLan")(function* (input: NewLan, options: Versioned = {}) {
      const lan: LanRow = {
        id: yield* newId,
        topology_id: input.topology_id,
        name: input.name,
        subnet: input.subnet,
        is_dmz: input.is_dmz === true,
        docker_network_id: input.docker_network_id ?? null,
        x: input.x ?? null,
        y: input.y ?? null
      }
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(input.topology_id, options)
          yield* sql`INSERT INTO lans ${sql.insert({ ...lan, is_dmz: flag(lan.is_dmz) })}`.pipe(
            rejectDuplicate(`LAN '${input.name}' already exists`)
          )
          return lan
        })
      )
    })

    /** Applies the patch and returns the LAN as it now is; an empty patch writes nothing. */
    const updateLan = Effect.fn("TopologyRepo.updateLan")(function* (
      id: string,
      patch: LanPatch,
      options: Guarded = {}
    ) {
      const before = yield* selectLan(id).pipe(Effect.orDie)
      if (Option.isNone(before)) return yield* new TopologyNotFound({ what: "lan", id })
      const cols = lanColumns(patch)
      if (Object.keys(cols).length === 0) return before.value
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(before.value.topology_id, {
            ...options,
            enforcePending: options.enforcePending ?? false
          })
          yield* sql`UPDATE lans SET ${sql.update(cols)} WHERE id = ${id}`.pipe(
            rejectDuplicate(`LAN '${patch.name ?? before.value.name}' already exists`)
          )
          const after = yield* selectLan(id)
          if (Option.isNone(after)) return yield* new TopologyNotFound({ what: "lan", id })
          if (after.value.name !== before.value.name)
            yield* renameLanKeys(before.value.topology_id, before.value.name, after.value.name)
          return after.value
        })
      )
    })

    /**
     * A renamed LAN keeps its deckies: every decky_config whose `ips_by_lan` names the old LAN names the new
     * one, in the same place (the first key is the decky's home LAN). Inside `updateLan`'s transaction.
     */
    const renameLanKeys = (topologyId: string, from: string, to: string) =>
      Effect.gen(function* () {
        const at = formatUtc(yield* now)
        for (const d of yield* listDeckies(topologyId)) {
          const ips = d.decky_config?.ips_by_lan
          if (ips === undefined || !(from in ips)) continue
          const renamed = Object.fromEntries(Object.entries(ips).map(([k, v]) => [k === from ? to : k, v]))
          yield* sql`UPDATE topology_deckies SET ${sql.update({
            decky_config: json({ ...d.decky_config, ips_by_lan: renamed }),
            updated_at: at
          })} WHERE uuid = ${d.uuid}`
        }
      })

    /**
     * Deletes a LAN and its edges; false when there was none. Refused while a decky on it has no other LAN,
     * which is judged before the version (§7).
     */
    const deleteLan = Effect.fn("TopologyRepo.deleteLan")(function* (id: string, options: Guarded = {}) {
      const lan = yield* selectLan(id).pipe(Effect.orDie)
      if (Option.isNone(lan)) return false
      const orphaned =
        sql`SELECT e.decky_uuid AS decky_uuid FROM topology_edges e WHERE e.lan_id = ${id} AND NOT EXISTS (
          SELECT 1 FROM topology_edges o WHERE o.decky_uuid = e.decky_uuid AND o.lan_id <> ${id}
        ) ORDER BY e.id LIMIT 1`.pipe(
          Effect.flatMap((rows) => Effect.orDie(decodeDeckyUuids(rows))),
          Effect.flatMap(([first]) =>
            first === undefined
              ? Effect.void
              : Effect.fail(
                  new TopologyRejected({
                    message: `cannot delete LAN '${lan.value.name}': decky ${first.decky_uuid} has no other LAN (would be orphaned)`
                  })
                )
          )
        )
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(lan.value.topology_id, {
            ...options,
            enforcePending: options.enforcePending ?? true,
            check: orphaned
          })
          yield* sql`DELETE FROM topology_edges WHERE lan_id = ${id}`
          return (yield* affected(sql`DELETE FROM lans WHERE id = ${id}`.raw)) > 0
        })
      )
    })

    /** By name. */
    const listLans = Effect.fn("TopologyRepo.listLans")(function* (topologyId: string) {
      const rows = yield* sql`SELECT * FROM lans WHERE topology_id = ${topologyId}`.pipe(
        Effect.flatMap(decodeLans),
        Effect.orDie
      )
      return [...rows].sort(byName)
    })

    // ---- deckies ----------------------------------------------------------------------------------------

    const selectDecky = (uuid: string) =>
      sql`SELECT * FROM topology_deckies WHERE uuid = ${uuid}`.pipe(
        Effect.flatMap((rows) => Effect.orDie(decodeDeckies(rows))),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    const addDecky = Effect.fn("TopologyRepo.addDecky")(function* (input: NewDecky, options: Versioned = {}) {
      const at = yield* now
      const decky: DeckyRow = {
        uuid: yield* newId,
        topology_id: input.topology_id,
        name: input.name,
        services: input.services ?? [],
        decky_config: input.decky_config ?? null,
        ip: input.ip ?? null,
        state: input.state ?? "pending",
        last_error: null,
        x: input.x ?? null,
        y: input.y ?? null
      }
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(input.topology_id, options)
          yield* sql`INSERT INTO topology_deckies ${sql.insert({
            ...decky,
            services: json(decky.services),
            decky_config: decky.decky_config === null ? null : json(decky.decky_config),
            updated_at: formatUtc(at)
          })}`.pipe(rejectDuplicate(`decky '${input.name}' already exists`))
          return decky
        })
      )
    })

    /** Applies the patch (stamping updated_at) and returns the decky as it now is; an empty patch writes nothing. */
    const updateDecky = Effect.fn("TopologyRepo.updateDecky")(function* (
      uuid: string,
      patch: DeckyPatch,
      options: Guarded = {}
    ) {
      const before = yield* selectDecky(uuid).pipe(Effect.orDie)
      if (Option.isNone(before)) return yield* new TopologyNotFound({ what: "decky", id: uuid })
      const cols = deckyColumns(patch)
      if (Object.keys(cols).length === 0) return before.value
      const at = yield* now
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(before.value.topology_id, {
            ...options,
            enforcePending: options.enforcePending ?? false
          })
          yield* sql`UPDATE topology_deckies SET ${sql.update({ ...cols, updated_at: formatUtc(at) })} WHERE uuid = ${uuid}`.pipe(
            rejectDuplicate(`decky '${patch.name ?? before.value.name}' already exists`)
          )
          const after = yield* selectDecky(uuid)
          if (Option.isNone(after)) return yield* new TopologyNotFound({ what: "decky", id: uuid })
          return after.value
        })
      )
    })

    /** Deletes a decky and its edges; false when there was none. */
    const deleteDecky = Effect.fn("TopologyRepo.deleteDecky")(function* (
      uuid: string,
      options: Guarded = {}
    ) {
      const decky = yield* selectDecky(uuid).pipe(Effect.orDie)
      if (Option.isNone(decky)) return false
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(decky.value.topology_id, {
            ...options,
            enforcePending: options.enforcePending ?? true
          })
          yield* sql`DELETE FROM topology_edges WHERE decky_uuid = ${uuid}`
          const name = decky.value.decky_config?.name ?? decky.value.name
          yield* sql`DELETE FROM tarpit_rules WHERE decky_name = ${topologyTarpitKey(decky.value.topology_id, name)}`
          return (yield* affected(sql`DELETE FROM topology_deckies WHERE uuid = ${uuid}`.raw)) > 0
        })
      )
    })

    /** The runtime's view of one decky (no version bump, no status guard). true when the decky exists. */
    const setDeckyState = Effect.fn("TopologyRepo.setDeckyState")(function* (
      uuid: string,
      state: TopologyDeckyState,
      lastError: string | null = null
    ) {
      const at = yield* now
      const n = yield* affected(
        sql`UPDATE topology_deckies SET ${sql.update({ state, last_error: lastError, updated_at: formatUtc(at) })} WHERE uuid = ${uuid}`
          .raw
      ).pipe(Effect.orDie)
      return n > 0
    })

    /** By name. */
    const listDeckies = Effect.fn("TopologyRepo.listDeckies")(function* (topologyId: string) {
      const rows = yield* sql`SELECT * FROM topology_deckies WHERE topology_id = ${topologyId}`.pipe(
        Effect.flatMap(decodeDeckies),
        Effect.orDie
      )
      return [...rows].sort(byName)
    })

    // ---- edges ------------------------------------------------------------------------------------------

    const addEdge = Effect.fn("TopologyRepo.addEdge")(function* (input: NewEdge, options: Versioned = {}) {
      const edge: EdgeRow = {
        id: yield* newId,
        topology_id: input.topology_id,
        decky_uuid: input.decky_uuid,
        lan_id: input.lan_id,
        is_bridge: input.is_bridge === true,
        forwards_l3: input.forwards_l3 === true
      }
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(input.topology_id, options)
          const decky = yield* selectDecky(input.decky_uuid)
          if (Option.isNone(decky) || decky.value.topology_id !== input.topology_id) {
            return yield* new TopologyRejected({
              message: `decky '${input.decky_uuid}' is not in this topology`
            })
          }
          const lan = yield* selectLan(input.lan_id)
          if (Option.isNone(lan) || lan.value.topology_id !== input.topology_id) {
            return yield* new TopologyRejected({ message: `LAN '${input.lan_id}' is not in this topology` })
          }
          yield* sql`INSERT INTO topology_edges ${sql.insert({
            ...edge,
            is_bridge: flag(edge.is_bridge),
            forwards_l3: flag(edge.forwards_l3)
          })}`
          return edge
        })
      )
    })

    /** false when there was no such edge. */
    const deleteEdge = Effect.fn("TopologyRepo.deleteEdge")(function* (id: string, options: Guarded = {}) {
      const rows = yield* sql`SELECT * FROM topology_edges WHERE id = ${id}`.pipe(
        Effect.flatMap(decodeEdges),
        Effect.orDie
      )
      const edge = rows[0]
      if (edge === undefined) return false
      return yield* transact(
        Effect.gen(function* () {
          yield* guard(edge.topology_id, { ...options, enforcePending: options.enforcePending ?? true })
          return (yield* affected(sql`DELETE FROM topology_edges WHERE id = ${id}`.raw)) > 0
        })
      )
    })

    /** In insertion order (the ids are time-ordered). */
    const listEdges = Effect.fn("TopologyRepo.listEdges")(function* (topologyId: string) {
      return yield* sql`SELECT * FROM topology_edges WHERE topology_id = ${topologyId} ORDER BY id`.pipe(
        Effect.flatMap(decodeEdges),
        Effect.orDie
      )
    })

    // ---- the hydrated topology --------------------------------------------------------------------------

    /**
     * The topology with everything in it, read from one snapshot, with every decky_config backfilled
     * (`backfillDeckyConfigs`); none when there is no such topology.
     */
    const hydrate = Effect.fn("TopologyRepo.hydrate")(function* (id: string) {
      const read = yield* transact(
        Effect.gen(function* () {
          const topology = yield* getTopology(id)
          if (Option.isNone(topology)) return Option.none()
          const lans = yield* listLans(id)
          const deckies = yield* listDeckies(id)
          const edges = yield* listEdges(id)
          return Option.some({ topology: topology.value, lans, deckies, edges })
        })
      )
      if (Option.isNone(read)) return Option.none<TopologyDetail>()
      const { topology, lans, deckies, edges } = read.value
      const filled = backfillDeckyConfigs(lans, deckies, edges)
      if (Either.isLeft(filled)) return yield* filled.left
      return Option.some<TopologyDetail>({ topology, lans, deckies: filled.right, edges })
    })

    // ---- the live-mutation queue (§8) -------------------------------------------------------------------

    /**
     * A pending row; bumps the version only with `expectedVersion`. The topology's status is the caller's.
     * Without a version it is one INSERT (autocommitted; the foreign key answers a missing topology). With
     * one, the version's conditional UPDATE and the INSERT share a transaction, and the topology row is read
     * only when the UPDATE matched nothing, to tell a missing topology from a conflict.
     */
    const enqueueMutation = Effect.fn("TopologyRepo.enqueueMutation")(function* (
      topologyId: string,
      op: string,
      payload: Readonly<Record<string, unknown>>,
      expectedVersion?: number
    ) {
      const id = yield* newId
      const at = yield* now
      const insert = sql`INSERT INTO topology_mutations ${sql.insert({
        id,
        topology_id: topologyId,
        op,
        payload: json(payload),
        state: "pending",
        requested_at: formatUtc(at),
        applied_at: null,
        reason: null
      })}`.pipe(
        Effect.catchIf(
          (e) => isSqlError(e) && isForeignKeyViolation(e),
          () => Effect.fail(new TopologyNotFound({ what: "topology", id: topologyId }))
        )
      )
      if (expectedVersion === undefined) {
        yield* insert.pipe(
          retryLockConflicts,
          Effect.catchIf(isSqlError, (e) => Effect.die(e))
        )
        return id
      }
      yield* transact(
        Effect.gen(function* () {
          const bumped = yield* affected(
            sql`UPDATE topologies SET version = version + 1 WHERE id = ${topologyId} AND version = ${expectedVersion}`
              .raw
          )
          if (bumped === 0) {
            const row = yield* selectLock(topologyId)
            if (Option.isNone(row)) return yield* new TopologyNotFound({ what: "topology", id: topologyId })
            return yield* new VersionConflict({
              topologyId,
              current: row.value.version,
              expected: expectedVersion
            })
          }
          yield* insert
        })
      )
      return id
    })

    /**
     * One claim, decided by one statement: an UPDATE of the topology's oldest pending row (by the
     * `ix_topology_mutations_queue` order) to `applying`, stamped with the claim time (which
     * `requeueStaleMutations` judges) and a fresh token. SQLite's runs the choice as a subquery of the UPDATE
     * and hands the row back (`RETURNING`), all under its write lock. MySQL has no UPDATE … RETURNING and
     * refuses a subquery on the updated table, so there the UPDATE picks its row itself (`ORDER BY … LIMIT
     * 1`, a locking read of that row alone), and the token finds the row it won. Of two claimers, the second
     * waits for the first one's lock and then takes the next pending row, or nothing. An InnoDB deadlock
     * victim (its statement rolled back) claims again.
     */
    const claimNextMutation = Effect.fn("TopologyRepo.claimNextMutation")(function* (topologyId: string) {
      const token = yield* newId
      const at = formatUtc(yield* now)
      const rows = yield* sql
        .onDialectOrElse({
          mysql: () =>
            Effect.gen(function* () {
              const won = yield* affected(
                sql`UPDATE topology_mutations SET state = 'applying', applied_at = ${at}, claim_token = ${token}
                    WHERE topology_id = ${topologyId} AND state = 'pending'
                    ORDER BY requested_at ASC, id ASC LIMIT 1`.raw
              ).pipe(retryLockConflicts)
              if (won === 0) return []
              return yield* sql`SELECT * FROM topology_mutations WHERE topology_id = ${topologyId} AND state = 'applying' AND claim_token = ${token}`
            }),
          orElse: () =>
            sql`UPDATE topology_mutations SET state = 'applying', applied_at = ${at}, claim_token = ${token}
                WHERE id = (SELECT id FROM topology_mutations WHERE topology_id = ${topologyId} AND state = 'pending'
                            ORDER BY requested_at ASC, id ASC LIMIT 1)
                RETURNING *`.pipe(retryLockConflicts)
        })
        .pipe(
          Effect.flatMap((rows) => Effect.orDie(decodeMutations(rows))),
          Effect.catchIf(isSqlError, (e) => Effect.die(e))
        )
      return Option.fromNullable(rows[0])
    })

    /**
     * The claimer is still at work on `id`: its claim time moves to now, so the sweep never takes a long op
     * from a live claimer. Only a row still `applying` under this claim moves; false when it no longer is.
     */
    const renewClaim = Effect.fn("TopologyRepo.renewClaim")(function* (id: string, claimedAt: Date) {
      const at = yield* now
      const n = yield* affected(
        sql`UPDATE topology_mutations SET applied_at = ${formatUtc(at)}
            WHERE id = ${id} AND state = 'applying' AND applied_at = ${formatUtc(claimedAt)}`.raw
      ).pipe(retryLockConflicts, Effect.orDie)
      return n > 0 ? Option.some(at) : Option.none<Date>()
    })

    const markApplied = Effect.fn("TopologyRepo.markApplied")(function* (id: string) {
      const at = yield* now
      yield* sql`UPDATE topology_mutations SET ${sql.update({ state: "applied", applied_at: formatUtc(at) })} WHERE id = ${id}`.pipe(
        retryLockConflicts,
        Effect.orDie
      )
    })

    const markFailed = Effect.fn("TopologyRepo.markFailed")(function* (id: string, reason: string) {
      const at = yield* now
      yield* sql`UPDATE topology_mutations SET ${sql.update({ state: "failed", applied_at: formatUtc(at), reason })} WHERE id = ${id}`.pipe(
        retryLockConflicts,
        Effect.orDie
      )
    })

    /** Newest first. */
    const listMutations = Effect.fn("TopologyRepo.listMutations")(function* (
      topologyId: string,
      state?: MutationRowState
    ) {
      const filter = state === undefined ? sql.literal("") : sql`AND state = ${state}`
      return yield* sql`SELECT * FROM topology_mutations WHERE topology_id = ${topologyId} ${filter} ORDER BY requested_at DESC, id DESC`.pipe(
        Effect.flatMap(decodeMutations),
        Effect.orDie
      )
    })

    /** The reconciler's cheap guard: a pending mutation on an active or degraded topology? */
    const hasPendingLiveMutation = Effect.fn("TopologyRepo.hasPendingLiveMutation")(function* () {
      return (yield* listPendingLiveTopologyIds()).length > 0
    })

    /**
     * The reconciler's work list in one query: the active or degraded topologies with a pending mutation,
     * oldest topology first. Claimed rows and pending topologies' rows never count.
     */
    const listPendingLiveTopologyIds = Effect.fn("TopologyRepo.listPendingLiveTopologyIds")(function* () {
      const rows =
        yield* sql`SELECT t.id AS id FROM topologies t WHERE ${sql.in("t.status", LIVE_STATUSES)} AND EXISTS (
          SELECT 1 FROM topology_mutations m WHERE m.state = 'pending' AND m.topology_id = t.id
        ) ORDER BY t.created_at, t.id`.pipe(Effect.flatMap(decodeIds), Effect.orDie)
      return rows.map((r) => r.id)
    })

    /**
     * Crash recovery: every row claimed (`applying`, `applied_at` = the claim time) before `now - lease` goes
     * back to `pending`, each by one conditional UPDATE that re-checks the state and the claim time, so of
     * two sweepers only one requeues a row, and a row requeued and claimed again since (a fresh claim time)
     * is left to its new claimer. An `applying` row without a claim time was claimed before claims were
     * stamped and counts as stale. The rows requeued, as they were.
     */
    const requeueStaleMutations = Effect.fn("TopologyRepo.requeueStaleMutations")(function* (
      lease: Duration.Duration
    ) {
      const at = yield* now
      const cutoff = formatUtc(new Date(at.getTime() - Duration.toMillis(lease)))
      const stale =
        yield* sql`SELECT * FROM topology_mutations WHERE state = 'applying' AND (applied_at IS NULL OR applied_at < ${cutoff}) ORDER BY requested_at, id`.pipe(
          Effect.flatMap(decodeMutations),
          Effect.orDie
        )
      const requeued: Array<MutationRow> = []
      for (const row of stale) {
        const n = yield* affected(
          sql`UPDATE topology_mutations SET state = 'pending', applied_at = NULL
              WHERE id = ${row.id} AND state = 'applying' AND (applied_at IS NULL OR applied_at < ${cutoff})`
            .raw
        ).pipe(retryLockConflicts, Effect.orDie)
        if (n > 0) requeued.push(row)
      }
      return requeued
    })

    return {
      createTopology,
      getTopology,
      getTopologyRecord,
      listTopologies,
      deleteTopologyCascade,
      updateStatus,
      transitionStatus,
      takeOverOperation,
      listStatusEvents,
      setNeedsResync,
      listNeedingResync,
      reservedSubnets,
      listLiveTopologyIds,
      addLan,
      updateLan,
      deleteLan,
      listLans,
      addDecky,
      updateDecky,
      deleteDecky,
      setDeckyState,
      listDeckies,
      addEdge,
      deleteEdge,
      listEdges,
      hydrate,
      enqueueMutation,
      withTopologyLock,
      claimNextMutation,
      renewClaim,
      markApplied,
      markFailed,
      listMutations,
      hasPendingLiveMutation,
      listPendingLiveTopologyIds,
      requeueStaleMutations
    } as const
  })
}) {}

/** TopologyRepo on the configured database (DbLive), migrated first; needs DecnetConfig. */
export const TopologyRepoLive = TopologyRepo.Default.pipe(
  Layer.provideMerge(MigrationsLive),
  Layer.provide(DbLive)
)
