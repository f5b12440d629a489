/**
 * `decnet mutate --watch` (spec/workers.md §4.9, topology.md §9 `run_watch_loop`): one tick mutates the
 * due deckies, then the loop sleeps until the next decky is due, at most `poll` and at least 1 s; beside it a
 * second fiber drains the live topologies' mutation queues (topology.md §8) every `poll`. A bus
 * `decky.<name>.mutate_request` cuts the first sleep short and forces that decky;
 * `topology.<id>.mutation.enqueued` cuts the second one short. Without a bus it still runs, on its poll alone. Heartbeat
 * `system.mutator.health`; a stop intent on `system.mutator.control` ends it.
 */
import { Cause, Clock, Duration, Effect, Queue, Ref, Stream } from "effect"
import { Bus, type BusEvent } from "../bus/Bus.js"
import { untilStopRequested } from "../bus/Control.js"
import { runHealthHeartbeat } from "../bus/Heartbeat.js"
import { reconcileTopologies, recoverStaleMutations } from "../topology/Reconciler.js"
import type { TopologyRuntime } from "../topology/Runtime.js"
import type { TopologyRepo } from "../topology/TopologyRepo.js"
import { type MutateAllReport, mutateAllReport, type MutatorContext } from "./Mutator.js"

export const MUTATOR_WORKER = "mutator"
export const MUTATE_REQUEST_PATTERN = "decky.*.mutate_request"
/** An enqueued live topology edit (the API publishes it after the row is written). */
export const TOPOLOGY_ENQUEUED_PATTERN = "topology.*.mutation.enqueued"
/** Names a pass can be asked for at once; more (a flood of bogus names) are dropped until the next pass. */
export const MAX_PENDING_REQUESTS = 1024
/** The default (and longest) sleep between ticks. */
export const DEFAULT_POLL_SECONDS = 10
/** The shortest sleep: a decky due in 0.2 s waits a second, so a burst of due deckies cannot spin. */
export const MIN_SLEEP_SECONDS = 1
/** How often a tick sweeps the queue for rows orphaned past their lease (Reconciler's MUTATION_LEASE). */
export const STALE_SWEEP_SECONDS = 60

export interface WatchOptions {
  /** The longest sleep between ticks (default 10 s). */
  readonly pollSeconds?: number
}

/** How long to sleep after a tick that found the next decky due in `nextDue` seconds (none: nothing pending). */
export const sleepSeconds = (nextDue: number | undefined, pollSeconds: number): number =>
  nextDue === undefined || nextDue > pollSeconds ? pollSeconds : Math.max(MIN_SLEEP_SECONDS, nextDue)

/** The decky a `decky.<name>.mutate_request` names: the topic's second token, else the payload's `name`. */
export const requestedDecky = (event: BusEvent): string | undefined => {
  const token = event.topic.split(".")[1]
  if (token !== undefined && token !== "") return token
  const name = event.payload.name
  return typeof name === "string" && name !== "" ? name : undefined
}

/** What a tick saw of the deployment, logged only when it changes (the first tick always logs). */
export const presenceLine = (report: MutateAllReport): string =>
  !report.present
    ? "no active deployment; idling"
    : report.otherRuntime !== undefined
      ? `the deployment runs on the ${report.otherRuntime} runtime, which its own process mutates; idling`
      : "active deployment observed"

// A failing tick (the database down, a bug) is logged and the next tick tries again; interruption is not caught.
const survive =
  <A>(what: string, fallback: A) =>
  <E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
    Effect.catchAllCause(self, (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.interrupt
        : Effect.as(Effect.logError(`${what} failed; retrying next tick`, cause), fallback)
    )

/** The loop itself, in the caller's scope: subscriptions, heartbeat, ticks. Never returns. */
const watch = (pollSeconds: number) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const requests = yield* Ref.make<ReadonlySet<string>>(new Set())
    // One pending wake is enough: a tick takes every request made before it.
    const wake = yield* Queue.sliding<void>(1)
    const topologyWake = yield* Queue.sliding<void>(1)

    yield* bus.subscribe(MUTATE_REQUEST_PATTERN).pipe(
      Effect.flatMap((events) =>
        events.pipe(
          Stream.runForEach((event) => {
            const name = requestedDecky(event)
            if (name === undefined)
              return Effect.logDebug(`mutate request without a decky on ${event.topic}; ignored`)
            return Effect.gen(function* () {
              const pending = yield* Ref.get(requests)
              if (pending.size >= MAX_PENDING_REQUESTS && !pending.has(name))
                return yield* Effect.logWarning(
                  `mutate request for ${name} dropped: ${MAX_PENDING_REQUESTS} deckies already wait for the next pass`
                )
              yield* Effect.logInfo(`mutation of ${name} requested on the bus`)
              yield* Ref.set(requests, new Set(pending).add(name))
              yield* Queue.offer(wake, undefined)
            })
          }),
          Effect.forkScoped
        )
      ),
      Effect.catchAll((e) =>
        Effect.logWarning(
          `mutator: cannot subscribe to ${MUTATE_REQUEST_PATTERN} (${e.message}); polling only`
        )
      )
    )
    // MazeNET: an enqueued topology edit wakes the loop; the tick finds it in the database (the event is a
    // hint, and the poll finds what a lost one did not announce). Agent re-syncs would join here.
    yield* bus.subscribe(TOPOLOGY_ENQUEUED_PATTERN).pipe(
      Effect.flatMap((events) =>
        events.pipe(
          Stream.runForEach(() => Queue.offer(topologyWake, undefined)),
          Effect.forkScoped
        )
      ),
      Effect.catchAll((e) =>
        Effect.logWarning(
          `mutator: cannot subscribe to ${TOPOLOGY_ENQUEUED_PATTERN} (${e.message}); topology edits wait for the poll`
        )
      )
    )
    yield* runHealthHeartbeat(MUTATOR_WORKER)
    yield* Effect.logInfo(`mutator watching (poll ${pollSeconds}s)`)

    const seen = yield* Ref.make<string | undefined>(undefined)
    const tick = Effect.gen(function* () {
      yield* Queue.takeAll(wake)
      const asked = yield* Ref.getAndSet(requests, new Set())
      const report = yield* mutateAllReport(asked.size > 0 ? { only: asked } : {})
      const observed = presenceLine(report)
      if ((yield* Ref.getAndSet(seen, observed)) !== observed) yield* Effect.logInfo(observed)
      return report.nextDue._tag === "Some" ? report.nextDue.value : undefined
    }).pipe(survive<number | undefined>("mutator tick", undefined))

    // The topology queue has its own fiber beside the flat rotation: a failing or long drain never holds
    // the fleet's rotation back, and an enqueued edit never waits for a flat pass. The drain's own list
    // query is the guard (no pending live row: one SELECT, nothing else). Once a minute, and on the first
    // tick, orphaned claims go back to the queue first.
    const lastSweep = yield* Ref.make<number | undefined>(undefined)
    const topologyTick = Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const last = yield* Ref.get(lastSweep)
      if (last === undefined || at - last >= STALE_SWEEP_SECONDS * 1000) {
        yield* Ref.set(lastSweep, at)
        yield* recoverStaleMutations()
      }
      const drained = yield* reconcileTopologies
      if (drained > 0) yield* Effect.logInfo(`topology mutations applied: ${drained}`)
    }).pipe(survive<void>("topology reconcile", undefined))

    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          yield* Queue.takeAll(topologyWake)
          yield* topologyTick
          yield* Effect.raceFirst(Effect.sleep(Duration.seconds(pollSeconds)), Queue.take(topologyWake))
        })
      )
    )
    return yield* Effect.forever(
      Effect.gen(function* () {
        const nextDue = yield* tick
        const seconds = sleepSeconds(nextDue, pollSeconds)
        yield* Effect.raceFirst(Effect.sleep(Duration.seconds(seconds)), Queue.take(wake))
      })
    )
  })

/**
 * Run the watch loop until a stop intent arrives (then return) or the fiber is interrupted (SIGTERM,
 * `decnet up` shutting down). Everything it started (subscription, heartbeat) ends with it.
 */
export const runWatchLoop = (
  options: WatchOptions = {}
): Effect.Effect<void, never, MutatorContext | TopologyRepo | TopologyRuntime> =>
  untilStopRequested(
    MUTATOR_WORKER,
    watch(Math.max(MIN_SLEEP_SECONDS, options.pollSeconds ?? DEFAULT_POLL_SECONDS))
  ).pipe(Effect.asVoid, Effect.withSpan("Mutator.runWatchLoop"))
