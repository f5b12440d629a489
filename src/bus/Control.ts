/**
 * Worker control intents on `system.<worker>.control` (spec/workers.md §1): the API publishes
 * `{action: "stop", requested_by, ts}` and the worker's listener ends its main scope gracefully, the
 * same path as SIGTERM. A dead or disabled bus only means the worker cannot be stopped this way.
 */
import { Clock, Effect, Either, Option, Schema, type Scope, Stream } from "effect"
import { Bus, type BusError } from "./Bus.js"
import { systemControl } from "./Topics.js"

/** `start` is reserved (the API starts units through systemd); listeners ignore it. */
export const ControlAction = Schema.Literal("stop", "start")
export type ControlAction = typeof ControlAction.Type

/** The control payload, as published by `POST /workers/{name}/stop` (api.md §7.15). */
export const ControlPayload = Schema.Struct({
  action: ControlAction,
  requested_by: Schema.String,
  ts: Schema.Number
})
export type ControlPayload = typeof ControlPayload.Type

export const CONTROL_EVENT_TYPE = "control"

const decode = Schema.decodeUnknownEither(ControlPayload)

/**
 * Wait for a stop intent for `worker` and return it. Other actions and malformed payloads are ignored
 * (debug log). A failed subscribe, an invalid name or a subscription that ends (NullBus, closed bus)
 * only warns and then waits forever: the worker keeps running on its poll fallback.
 */
export const runControlListener = (worker: string): Effect.Effect<ControlPayload, never, Bus> =>
  Effect.gen(function* () {
    const topic = systemControl(worker)
    if (Either.isLeft(topic)) {
      yield* Effect.logWarning(
        `control listener: invalid worker name ${JSON.stringify(worker)}; not listening`
      )
      return yield* Effect.never
    }
    const bus = yield* Bus
    const stop = yield* Effect.scoped(
      Effect.gen(function* () {
        const events = yield* bus.subscribe(topic.right)
        return yield* events.pipe(
          Stream.mapEffect((event) => {
            const decoded = decode(event.payload)
            if (Either.isLeft(decoded))
              return Effect.as(
                Effect.logDebug(`control: ignoring malformed message on ${event.topic}`),
                Option.none()
              )
            if (decoded.right.action !== "stop")
              return Effect.as(
                Effect.logDebug(`control: ignoring action ${decoded.right.action} for ${worker}`),
                Option.none()
              )
            return Effect.succeed(Option.some(decoded.right))
          }),
          Stream.filterMap((stop) => stop),
          Stream.runHead
        )
      })
    ).pipe(
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.logWarning(
            `control listener for ${worker} could not subscribe; stop intents ignored`,
            cause
          ),
          Option.none()
        )
      )
    )
    if (Option.isNone(stop)) {
      yield* Effect.logDebug(`control listener for ${worker}: subscription ended; stop intents ignored`)
      return yield* Effect.never
    }
    yield* Effect.logInfo(`stop requested for ${worker} by ${stop.value.requested_by}`)
    return stop.value
  }).pipe(Effect.withSpan("Control.runControlListener", { attributes: { worker } }))

/**
 * Run a worker `body` in its own scope until it ends or a stop intent arrives; on stop the body is
 * interrupted and its scope (heartbeat, subscriptions, connections) closes. `None` means stopped.
 */
export const untilStopRequested = <A, E, R>(
  worker: string,
  body: Effect.Effect<A, E, R>
): Effect.Effect<Option.Option<A>, E, Bus | Exclude<R, Scope.Scope>> =>
  Effect.raceFirst(
    Effect.map(Effect.scoped(body), Option.some),
    Effect.as(runControlListener(worker), Option.none<A>())
  )

/** Publish a stop intent for `worker`. Fails (so the API can answer 503) when the bus refuses it. */
export const requestStop = (worker: string, requestedBy: string): Effect.Effect<void, BusError, Bus> =>
  Effect.gen(function* () {
    const topic = yield* systemControl(worker)
    const ts = (yield* Clock.currentTimeMillis) / 1000
    const payload: ControlPayload = { action: "stop", requested_by: requestedBy, ts }
    const bus = yield* Bus
    yield* bus.publish(topic, { ...payload }, CONTROL_EVENT_TYPE)
  }).pipe(Effect.withSpan("Control.requestStop", { attributes: { worker } }))
