/**
 * The `logs` group (spec api §7.2, §7.5, §7.6): `/logs`, `/logs/histogram`, `/stats` and the `/stream`
 * SSE feed, with the TTL caches of §6 (the stream reads around them).
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Clock, Duration, Effect, Exit, Option, Ref, Schedule, Schema, Scope, Stream } from "effect"
import { AppBus } from "../../bus/AppBus.js"
import { WorkerRegistry } from "../../bus/Registry.js"
import { DecnetConfig } from "../../config/DecnetConfig.js"
import { FleetRepo } from "../../db/FleetRepo.js"
import { type LogFilter, LogRepo } from "../../db/LogRepo.js"
import { LogRow } from "../../db/Rows.js"
import { Decky } from "../../fleet/Model.js"
import { ApiAuth } from "../Auth.js"
import { DecnetApi } from "../Contract.js"
import { logFilter, unfiltered } from "../Query.js"
import { CurrentUser } from "../Security.js"
import { makeTtlValue } from "../TtlCache.js"
import { DeckiesCache } from "./Fleet.js"

/** Rows per `logs` frame and the stream's poll period (§7.6). */
export const STREAM_BATCH = 50
export const STREAM_TICK = "1 second"
/** Full batches read back to back in one tick: the feed keeps up with 1,000 events/s. */
export const STREAM_DRAIN_BATCHES = 20
/** Stats and histogram are re-sent every this many idle iterations (~10 s). */
export const STREAM_REFRESH_EVERY = 10

const encodeRows = Schema.encodeSync(Schema.Array(LogRow))

const encoder = new TextEncoder()
/** One SSE frame: `event: <name>\ndata: <compact JSON>\n\n`. */
export const sseFrame = (event: string, data: unknown) =>
  encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
export const sseComment = (text: string) => encoder.encode(`: ${text}\n\n`)

/** The bus patterns `/events` relays: worker heartbeats and the fleet's events. */
export const RELAYED = ["system.*.health", "decky.>"] as const
const RELAY_QUEUE = 256
const encodeDeckies = Schema.encodeSync(Schema.Array(Decky))

/** On an internal error a stream logs it, sends one `event: error` frame and ends (§5.4). */
export const endWithError =
  (route: string) =>
  <E>(stream: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array> =>
    Stream.catchAllCause(stream, (cause) =>
      Stream.fromEffect(
        Effect.as(
          Effect.logError(`SSE ${route} interrupted`, cause),
          sseFrame("error", { type: "error", message: "Stream interrupted" })
        )
      )
    )

/**
 * `frames` with a `: keepalive` comment after every `interval` of silence (api §5.4, topology §8: 15 s,
 * `DECNET_SSE_KEEPALIVE_SECONDS`), and again every `interval` while the silence lasts. Any frame restarts
 * the wait, so an active stream carries no keepalives. The wait runs on the Clock (a TestClock in tests).
 */
export const withKeepalive = (
  frames: Stream.Stream<Uint8Array>,
  interval: Duration.DurationInput
): Stream.Stream<Uint8Array> => {
  const every = Duration.toMillis(Duration.decode(interval))
  return Stream.unwrap(
    Effect.gen(function* () {
      const last = yield* Ref.make(yield* Clock.currentTimeMillis)
      const heard = Stream.tap(frames, () =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(last, now))
      )
      // Sleeps until `interval` after the last frame; a frame sent meanwhile moves the deadline on.
      const keepalive = Effect.gen(function* () {
        for (;;) {
          const now = yield* Clock.currentTimeMillis
          const due = (yield* Ref.get(last)) + every
          if (now >= due) {
            yield* Ref.set(last, now)
            return sseComment("keepalive")
          }
          yield* Effect.sleep(Duration.millis(due - now))
        }
      })
      return Stream.merge(heard, Stream.repeatEffect(keepalive))
    })
  )
}

export const SSE_HEADERS = {
  "cache-control": "no-cache",
  "x-accel-buffering": "no"
} as const

/** The four counters of `/stats` (spec logging-and-config §5.6, over `fleet_deckies`). */
export const readStats = Effect.gen(function* () {
  const logs = yield* LogRepo
  const fleet = yield* FleetRepo
  const deckies = yield* fleet.list()
  return {
    total_logs: yield* logs.getTotalLogs(),
    unique_attackers: yield* logs.countAttackers(),
    active_deckies: deckies.filter((d) => d.state === "running").length,
    deployed_deckies: deckies.length
  }
})

export const LogsHandlers = HttpApiBuilder.group(DecnetApi, "logs", (handlers) =>
  Effect.gen(function* () {
    const logs = yield* LogRepo
    const fleet = yield* FleetRepo
    const auth = yield* ApiAuth
    const config = yield* DecnetConfig
    const registry = yield* WorkerRegistry
    const appBus = yield* AppBus
    const deckiesCache = yield* DeckiesCache
    const stats = readStats.pipe(
      Effect.provideService(LogRepo, logs),
      Effect.provideService(FleetRepo, fleet)
    )
    const statsCache = yield* makeTtlValue(stats, "5 seconds")
    const totalCache = yield* makeTtlValue(logs.getTotalLogs(), "2 seconds")
    const histogramCache = yield* makeTtlValue(logs.histogram({}, 15), "5 seconds")

    /** The `/stream` body: frames until the client goes, an error frame on failure (§7.6). */
    const streamBody = (
      filter: LogFilter,
      startId: number,
      maxOutput: number | undefined
    ): Stream.Stream<Uint8Array> => {
      let lastId = startId
      const snapshot = Effect.gen(function* () {
        const s = yield* stats
        const h = yield* logs.histogram(filter, 15)
        return [
          sseFrame("message", { type: "stats", data: s }),
          sseFrame("message", { type: "histogram", data: h })
        ]
      })
      // Each `logs` frame carries at most STREAM_BATCH rows, as §7.6 says; unlike the original, a full
      // batch is followed at once by the next (up to STREAM_DRAIN_BATCHES a tick), so a flood of more than
      // 50 events/s does not leave the feed further behind every second.
      const iteration = (i: number) =>
        Effect.gen(function* () {
          const frames: Array<Uint8Array> = []
          let any = false
          for (let batch = 0; batch < STREAM_DRAIN_BATCHES; batch++) {
            const rows = yield* logs.getLogsAfterId(lastId, STREAM_BATCH, filter)
            const newest = rows[rows.length - 1]
            if (newest === undefined) break
            any = true
            lastId = newest.id
            frames.push(sseFrame("message", { type: "logs", data: encodeRows(rows) }))
            if (rows.length < STREAM_BATCH) break
          }
          if (any || (i + 1) % STREAM_REFRESH_EVERY === 0) frames.push(...(yield* snapshot))
          return frames
        })
      const ticks = Stream.iterate(0, (i) => i + 1).pipe(
        Stream.schedule(Schedule.spaced(STREAM_TICK)),
        maxOutput === undefined ? (s) => s : Stream.take(maxOutput)
      )
      const loop = ticks.pipe(Stream.mapEffect(iteration), Stream.flattenIterables)
      return Stream.concat(Stream.make(sseComment("keepalive")), Stream.fromIterableEffect(snapshot)).pipe(
        Stream.concat(loop),
        endWithError("/stream")
      )
    }

    /** `/events`: a snapshot, then the relayed bus frames; a keepalive after each silence (§5.4). */
    const relay = (): Stream.Stream<Uint8Array> => {
      const snapshot = Effect.gen(function* () {
        const workers = yield* registry.snapshot
        const deckies = yield* deckiesCache.get
        return sseFrame("snapshot", { workers, deckies: encodeDeckies(deckies) })
      })
      const events = Stream.unwrapScoped(
        Effect.gen(function* () {
          const bus = yield* appBus.get
          if (Option.isNone(bus)) return Stream.never
          const streams = yield* Effect.forEach(RELAYED, (pattern) => bus.value.subscribe(pattern))
          return Stream.mergeAll(streams, { concurrency: "unbounded" })
        }).pipe(
          Effect.catchAll((e) =>
            Effect.as(Effect.logWarning(`SSE /events: no bus (${e.message})`), Stream.never)
          )
        )
      ).pipe(
        // A slow client loses events, never the bus: the per-stream queue drops on overflow.
        Stream.buffer({ capacity: RELAY_QUEUE, strategy: "dropping" }),
        Stream.map((e) => sseFrame(e.topic, { topic: e.topic, type: e.type, ts: e.ts, payload: e.payload }))
      )
      return Stream.concat(Stream.make(sseComment("keepalive")), Stream.fromEffect(snapshot)).pipe(
        Stream.concat(withKeepalive(events, Duration.seconds(config.api.sseKeepaliveSeconds))),
        endWithError("/events")
      )
    }

    return handlers
      .handle("events", () =>
        Effect.gen(function* () {
          const user = yield* CurrentUser
          const scope = yield* Scope.make()
          yield* Scope.extend(auth.acquireStreamSlot(user.uuid), scope)
          const body = relay().pipe(Stream.ensuring(Scope.close(scope, Exit.void)))
          return HttpServerResponse.stream(body, { contentType: "text/event-stream", headers: SSE_HEADERS })
        })
      )
      .handle("logs", ({ urlParams }) =>
        Effect.gen(function* () {
          const filter = yield* logFilter(urlParams)
          const data = yield* logs.getLogs({ ...filter, limit: urlParams.limit, offset: urlParams.offset })
          const total = unfiltered(filter) ? yield* totalCache.get : yield* logs.getTotalLogs(filter)
          return { total, limit: urlParams.limit, offset: urlParams.offset, data }
        })
      )
      .handle("histogram", ({ urlParams }) =>
        Effect.gen(function* () {
          const filter = yield* logFilter(urlParams)
          return unfiltered(filter) && urlParams.interval_minutes === 15
            ? yield* histogramCache.get
            : yield* logs.histogram(filter, urlParams.interval_minutes)
        })
      )
      .handle("stats", () => statsCache.get)
      .handle("stream", ({ urlParams }) =>
        Effect.gen(function* () {
          const user = yield* CurrentUser
          const filter = yield* logFilter(urlParams)
          // The slot is taken before any byte is sent, so a full cap is a real 429 (spec §5.3 fix).
          const scope = yield* Scope.make()
          yield* Scope.extend(auth.acquireStreamSlot(user.uuid), scope)
          const startId = yield* (
            urlParams.lastEventId !== 0 ? Effect.succeed(urlParams.lastEventId) : logs.getMaxLogId()
          ).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
          const maxOutput = config.developer ? urlParams.maxOutput : undefined
          const body = streamBody(filter, startId, maxOutput).pipe(
            Stream.ensuring(Scope.close(scope, Exit.void))
          )
          return HttpServerResponse.stream(body, { contentType: "text/event-stream", headers: SSE_HEADERS })
        })
      )
  })
)
