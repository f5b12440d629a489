/**
 * The API's worker registry (spec/workers.md §2): last heartbeat per known worker from
 * `system.*.health` (which also matches the broker's `system.bus.health`), rendered as OK / STALE /
 * UNKNOWN rows. The name list is fixed so that no publisher can add rows to the Workers panel.
 */
import { Clock, Effect, Layer, Option, Ref, Schedule, Schema, Stream } from "effect"
import { AppBus, type AppBusService } from "./AppBus.js"
import { Bus, type BusEvent, type BusService, Payload } from "./Bus.js"

/** Canonical worker names in display order. */
export const KNOWN_WORKERS = [
  "api",
  "bus",
  "collector",
  "ingester",
  "profiler",
  "sniffer",
  "prober",
  "mutator",
  "reconciler",
  "reuse-correlator",
  "attribution",
  "enrich",
  "clusterer",
  "campaign-clusterer",
  "ttp",
  "webhook",
  "orchestrator",
  "agent",
  "forwarder",
  "updater"
] as const

export const WorkerName = Schema.Literal(...KNOWN_WORKERS)
export type WorkerName = typeof WorkerName.Type

const isKnown = Schema.is(WorkerName)

/** Tiers OK / STALE / UNKNOWN; the wire values are lowercase. */
export const WorkerStatus = Schema.Literal("ok", "stale", "unknown")
export type WorkerStatus = typeof WorkerStatus.Type

/** 3 × the 30 s heartbeat interval: one missed beat is noise, three are a worker problem. */
export const OK_WINDOW_SECONDS = 90

/**
 * One row of the Workers panel, the body rows of `GET /workers` (api.md §7.15). The API adds its
 * `installed` flag by extending this schema rather than redefining it.
 */
export const WorkerRow = Schema.Struct({
  name: WorkerName,
  status: WorkerStatus,
  last_heartbeat_ts: Schema.NullOr(Schema.Number),
  seconds_since: Schema.NullOr(Schema.Number),
  extra: Payload
})
export type WorkerRow = typeof WorkerRow.Type

interface Seen {
  readonly ts: number
  readonly payload: Payload
}

const HEALTH_PATTERN = "system.*.health"
/** Pause before re-subscribing after the app bus was down or a subscription ended. */
const FOLLOW_RETRY = Schedule.spaced("2 seconds")

const nowSeconds = Effect.map(Clock.currentTimeMillis, (ms) => ms / 1000)

export class WorkerRegistry extends Effect.Service<WorkerRegistry>()("decnet/WorkerRegistry", {
  effect: Effect.gen(function* () {
    const seen = yield* Ref.make(new Map<WorkerName, Seen>())

    /** Record one heartbeat event; anything but `system.<known>.health` is ignored. */
    const record = (event: BusEvent) =>
      Effect.gen(function* () {
        const tokens = event.topic.split(".")
        if (tokens.length !== 3 || tokens[0] !== "system" || tokens[2] !== "health") return
        const name = tokens[1]
        if (!isKnown(name)) {
          yield* Effect.logDebug(
            `worker registry: heartbeat from unknown worker ${JSON.stringify(name)} ignored`
          )
          return
        }
        const ts = event.payload.ts
        const at = typeof ts === "number" && Number.isFinite(ts) ? ts : yield* nowSeconds
        yield* Ref.update(seen, (m) => new Map(m).set(name, { ts: at, payload: event.payload }))
      })

    const snapshot = Effect.gen(function* () {
      const now = yield* nowSeconds
      const m = yield* Ref.get(seen)
      return KNOWN_WORKERS.map((name): WorkerRow => {
        const entry = m.get(name)
        if (entry === undefined)
          return { name, status: "unknown", last_heartbeat_ts: null, seconds_since: null, extra: {} }
        const secondsSince = Math.max(0, now - entry.ts)
        const { worker: _w, ts: _t, ...extra } = entry.payload
        return {
          name,
          status: secondsSince < OK_WINDOW_SECONDS ? "ok" : "stale",
          last_heartbeat_ts: entry.ts,
          seconds_since: secondsSince,
          extra
        }
      })
    }).pipe(Effect.withSpan("WorkerRegistry.snapshot"))

    /** Follow one bus until its subscription ends or fails (the failure is returned, not raised). */
    const consume = (bus: BusService): Effect.Effect<void> =>
      Effect.scoped(
        Effect.flatMap(bus.subscribe(HEALTH_PATTERN), (events) => Stream.runForEach(events, record))
      ).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("worker registry subscription failed", cause)),
        Effect.withSpan("WorkerRegistry.consume")
      )

    /**
     * Follow the app bus forever: subscribe whenever it is up, re-subscribe after it went away. With no
     * bus every row stays (or becomes) unknown/stale, as in the original.
     */
    const follow = (appBus: AppBusService): Effect.Effect<never> =>
      Effect.flatMap(appBus.get, (bus) => (Option.isSome(bus) ? consume(bus.value) : Effect.void)).pipe(
        Effect.repeat(FOLLOW_RETRY),
        Effect.zipRight(Effect.never)
      )

    return { record, snapshot, consume, follow } as const
  })
}) {}

/** The registry following the `Bus` tag (workers, tests): one subscription in the layer's scope. */
export const WorkerRegistryFromBus: Layer.Layer<WorkerRegistry, never, Bus> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const registry = yield* WorkerRegistry
    const bus = yield* Bus
    yield* Effect.forkScoped(registry.consume(bus))
  })
).pipe(Layer.provideMerge(WorkerRegistry.Default))

/** The registry in the API: follows the lazy app bus and recovers when the bus comes back. */
export const WorkerRegistryLive: Layer.Layer<WorkerRegistry, never, AppBus> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const registry = yield* WorkerRegistry
    const appBus = yield* AppBus
    yield* Effect.forkScoped(registry.follow(appBus))
  })
).pipe(Layer.provideMerge(WorkerRegistry.Default))
