/**
 * The fleet reconciler (spec/workers.md §4.10, fleet.md §1): converges the stored deployment, this host's
 * `fleet_deckies` rows and what the runtime actually runs. A decky in the deployment without a row gets
 * one; a row of this host that the deployment no longer has is deleted (another host's rows are never
 * touched); every row's state, `last_error` and `last_seen` follow `DeckyRuntime.status`. Each insert,
 * delete and state change is published on `decky.<host_uuid>:<name>.state` after the row is written.
 */
import { Cause, Clock, Duration, Effect, Either, Option, Ref, Schedule, Schema } from "effect"
import type { Bus } from "../bus/Bus.js"
import { untilStopRequested } from "../bus/Control.js"
import { runHealthHeartbeat } from "../bus/Heartbeat.js"
import { publishSafely } from "../bus/Helpers.js"
import { decky as deckyTopic } from "../bus/Topics.js"
import { FleetRepo, LOCAL_HOST } from "../db/FleetRepo.js"
import { Decky, type DeckyState } from "./Model.js"
import { DeckyRuntime, type DeckyStatus } from "./Runtime.js"
import { FleetStore } from "./Store.js"

export const RECONCILER_WORKER = "reconciler"
export const DEFAULT_RECONCILE_SECONDS = 30
export const STATE_EVENT_TYPE = "state"

export const StateTransition = Schema.Literal("inserted", "deleted", "state_changed")
export type StateTransition = typeof StateTransition.Type

/** The `decky.<host_uuid>:<name>.state` payload. */
export const FleetDeckyStateEvent = Schema.Struct({
  host_uuid: Schema.String,
  name: Schema.String,
  state: Schema.String,
  transition: StateTransition,
  source: Schema.Literal("fleet"),
  previous_state: Schema.optional(Schema.String)
}).annotations({ identifier: "FleetDeckyStateEvent" })
export type FleetDeckyStateEvent = typeof FleetDeckyStateEvent.Type

export interface ReconcileReport {
  readonly inserted: number
  readonly deleted: number
  readonly stateUpdated: number
  /** Set when the runtime could not be asked: no state was changed this tick. */
  readonly runtimeError?: string
  /** Set when the deployment runs on another runtime than this process's: nothing was touched. */
  readonly otherRuntime?: string
}

export type ReconcilerContext = FleetStore | FleetRepo | DeckyRuntime | Bus

const encodeDecky = Schema.encode(Decky)

/** A decky's state from the runtime's view: a decky the runtime does not report is `torn_down`. */
export const observedState = (
  status: DeckyStatus | undefined
): { readonly state: DeckyState; readonly error: string | null } =>
  status === undefined ? { state: "torn_down", error: null } : { state: status.state, error: status.error }

const publishState = (event: FleetDeckyStateEvent) => {
  const topic = deckyTopic(`${event.host_uuid}:${event.name}`, "state")
  return Either.match(topic, {
    onLeft: (e) => Effect.logWarning(`no state topic for decky ${JSON.stringify(event.name)}: ${e.message}`),
    onRight: (t) => publishSafely(t, { ...event }, STATE_EVENT_TYPE)
  })
}

/** One reconciliation pass for this host. */
export const reconcileOnce: Effect.Effect<ReconcileReport, never, ReconcilerContext> = Effect.gen(
  function* () {
    const store = yield* FleetStore
    const repo = yield* FleetRepo
    const runtime = yield* DeckyRuntime
    const stored = yield* store.load()
    if (Option.isSome(stored) && stored.value.config.runtime !== runtime.kind)
      return { inserted: 0, deleted: 0, stateUpdated: 0, otherRuntime: stored.value.config.runtime }
    // This host's deckies: a decky with a host_uuid belongs to that swarm agent's reconciler.
    const wanted = Option.match(stored, {
      onNone: () => [],
      onSome: (s) => s.config.deckies.filter((d) => d.host_uuid === null)
    })
    const rows = yield* repo.list(LOCAL_HOST)
    const byName = new Map(rows.map((r) => [r.name, r]))
    // An unreachable runtime is "unknown", never "everything is gone": states are left alone this tick.
    // With nothing wanted there is no state to read (only rows to delete), so the runtime is not asked.
    const statuses =
      wanted.length === 0
        ? Either.right<ReadonlyArray<DeckyStatus>>([])
        : yield* runtime.status.pipe(Effect.either)
    const seen = Either.map(statuses, (list) => new Map(list.map((s) => [s.name, s])))
    const now = new Date(yield* Clock.currentTimeMillis)
    let inserted = 0
    let deleted = 0
    let stateUpdated = 0

    for (const decky of wanted) {
      const row = byName.get(decky.name)
      const observed = Either.match(seen, {
        onLeft: () => undefined,
        onRight: (m) => observedState(m.get(decky.name))
      })
      if (row === undefined) {
        const state: DeckyState = observed?.state ?? "pending"
        yield* repo.upsert({
          name: decky.name,
          services: [...decky.services],
          decky_config: yield* encodeDecky(decky).pipe(Effect.orDie),
          decky_ip: decky.ip,
          state,
          last_error: observed?.error ?? null,
          last_seen: observed !== undefined && observed.state !== "torn_down" ? now : null
        })
        inserted++
        yield* publishState({
          host_uuid: LOCAL_HOST,
          name: decky.name,
          state,
          transition: "inserted",
          source: "fleet"
        })
        continue
      }
      if (observed === undefined) continue
      const running = observed.state !== "torn_down"
      // last_seen moves only while the runtime reports the decky, so it says when it was last alive.
      yield* repo.upsert({
        name: decky.name,
        services: [...decky.services],
        decky_config: yield* encodeDecky(decky).pipe(Effect.orDie),
        decky_ip: decky.ip,
        state: observed.state,
        last_error: observed.error,
        compose_hash: row.compose_hash,
        last_seen: running ? now : row.last_seen
      })
      if (row.state !== observed.state) {
        stateUpdated++
        yield* publishState({
          host_uuid: LOCAL_HOST,
          name: decky.name,
          state: observed.state,
          transition: "state_changed",
          source: "fleet",
          previous_state: row.state
        })
      }
    }

    const names = new Set(wanted.map((d) => d.name))
    for (const row of rows) {
      if (names.has(row.name)) continue
      if (yield* repo.delete(row.name, LOCAL_HOST)) {
        deleted++
        yield* publishState({
          host_uuid: LOCAL_HOST,
          name: row.name,
          state: "torn_down",
          transition: "deleted",
          source: "fleet",
          previous_state: row.state
        })
      }
    }

    return {
      inserted,
      deleted,
      stateUpdated,
      ...(Either.isLeft(statuses) ? { runtimeError: statuses.left.message } : {})
    }
  }
).pipe(Effect.withSpan("Reconciler.reconcileOnce"))

export interface ReconcileLoopOptions {
  /** Seconds between passes (default 30). */
  readonly intervalSeconds?: number
}

/** One pass, logged: counts when something changed, a runtime that cannot be asked, a foreign deployment (once). */
const tickLogged = (foreign: Ref.Ref<string | undefined>) =>
  Effect.gen(function* () {
    const r = yield* reconcileOnce
    if (r.inserted + r.deleted + r.stateUpdated > 0)
      yield* Effect.logInfo(
        `reconciled: ${r.inserted} inserted, ${r.deleted} deleted, ${r.stateUpdated} state changes`
      )
    if (r.runtimeError !== undefined)
      yield* Effect.logWarning(`reconciler: cannot read the runtime's state: ${r.runtimeError}`)
    if ((yield* Ref.getAndSet(foreign, r.otherRuntime)) !== r.otherRuntime && r.otherRuntime !== undefined)
      yield* Effect.logInfo(
        `the deployment runs on the ${r.otherRuntime} runtime, which its own process reconciles; idling`
      )
    return r
  })

/**
 * Reconcile now and then every `intervalSeconds` until a stop intent arrives (then return) or the fiber is
 * interrupted. A failing pass is logged and the next one tries again. `decnet up` forks this.
 */
export const runReconcileLoop = (
  options: ReconcileLoopOptions = {}
): Effect.Effect<void, never, ReconcilerContext> => {
  const seconds = Math.max(1, options.intervalSeconds ?? DEFAULT_RECONCILE_SECONDS)
  const body = Effect.gen(function* () {
    const foreign = yield* Ref.make<string | undefined>(undefined)
    const pass = tickLogged(foreign).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.interrupt
          : Effect.logError("reconcile pass failed; retrying next tick", cause)
      )
    )
    yield* runHealthHeartbeat(RECONCILER_WORKER)
    yield* Effect.logInfo(`reconciler running every ${seconds}s`)
    return yield* pass.pipe(
      Effect.repeat(Schedule.spaced(Duration.seconds(seconds))),
      Effect.zipRight(Effect.never)
    )
  })
  return untilStopRequested(RECONCILER_WORKER, body).pipe(
    Effect.asVoid,
    Effect.withSpan("Reconciler.runReconcileLoop")
  )
}
