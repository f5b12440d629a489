/**
 * The API's app-wide lazy bus (spec/bus.md §1.9 `get_app_bus`): one shared connection for every request
 * handler, opened on first use. A dead bus must never break request serving, so `get` answers
 * `Option.none()` ("skip the notification") and retries the connect at most once every 2 s.
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Option, Ref, Scope } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { Bus, BusError, type BusService, type Payload } from "./Bus.js"
import { makeBus } from "./BusLive.js"
import { publishSafelyOn } from "./Helpers.js"

/** Minimum gap between two connect attempts while the bus is down. */
export const APP_BUS_RETRY = Duration.seconds(2)
/** A connect attempt that has not finished by then counts as a failure (it holds every caller up). */
export const APP_BUS_CONNECT_TIMEOUT = Duration.seconds(2)

export interface AppBusOptions {
  readonly retryAfter?: Duration.DurationInput
  readonly connectTimeout?: Duration.DurationInput
}

export interface AppBusService {
  /** The shared bus, connecting if needed; `None` while the bus is down (callers skip the notification). */
  readonly get: Effect.Effect<Option.Option<BusService>>
  /** Publish through the shared bus if it is up; never fails, a down bus drops the event. */
  readonly publish: (topic: string, payload: Payload, eventType?: string) => Effect.Effect<void>
  /** Whether a bus is held and reports `connected` (`bus_connected` of `GET /workers`); never connects. */
  readonly connected: Effect.Effect<boolean>
  /** Close the shared bus and clear the failure stamp; a later `get` connects afresh. */
  readonly close: Effect.Effect<void>
}

export class AppBus extends Context.Tag("decnet/AppBus")<AppBus, AppBusService>() {}

interface Held {
  readonly bus: BusService
  readonly scope: Scope.CloseableScope
}

interface State {
  readonly held: Option.Option<Held>
  /** Clock millis of the last failed attempt, or of the moment a held bus was first seen down. */
  readonly failedAt: Option.Option<number>
  readonly shutdown: boolean
}

const initial: State = { held: Option.none(), failedAt: Option.none(), shutdown: false }

const usable = (bus: BusService) => Effect.map(bus.state, (s) => s === "connected" || s === "connecting")

/**
 * Build the app bus over any connector: production passes a UnixBus/NATS constructor (or
 * `connectFromLayer(BusLive)`), tests a fake. The connector runs in a scope of its own per attempt,
 * closed when the bus is replaced, `close`d, or when the surrounding scope ends.
 */
export const makeAppBus = <E, R>(
  connect: Effect.Effect<BusService, E, R | Scope.Scope>,
  options: AppBusOptions = {}
): Effect.Effect<AppBusService, never, Exclude<R, Scope.Scope> | Scope.Scope> =>
  Effect.gen(function* () {
    const retryMillis = Duration.toMillis(options.retryAfter ?? APP_BUS_RETRY)
    const timeout = options.connectTimeout ?? APP_BUS_CONNECT_TIMEOUT
    const context = yield* Effect.context<Exclude<R, Scope.Scope>>()
    const state = yield* Ref.make(initial)
    // One permit: concurrent first callers wait for the single attempt instead of each opening a socket.
    const lock = yield* Effect.makeSemaphore(1)
    // One WARN per outage, then DEBUG: a dead bus is retried every 2 s for as long as the API runs.
    const warned = yield* Ref.make(false)

    const release = (held: Option.Option<Held>) =>
      Option.match(held, {
        onNone: () => Effect.void,
        onSome: (h) => Scope.close(h.scope, Exit.void)
      })

    // Uninterruptible except for the connect itself: a caller interrupted mid-attempt (an aborted HTTP
    // request) still leaves the attempt's scope closed or handed over, never leaked.
    const attempt = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const exit = yield* restore(
          connect.pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () => `connect timed out after ${Duration.format(timeout)}`
            }),
            Scope.extend(scope),
            Effect.provide(context)
          )
        ).pipe(Effect.exit)
        if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
          yield* Scope.close(scope, Exit.void)
          return yield* Effect.interrupt
        }
        const now = yield* Clock.currentTimeMillis
        if (Exit.isSuccess(exit)) {
          yield* Ref.update(state, (s) => ({
            ...s,
            held: Option.some({ bus: exit.value, scope }),
            failedAt: Option.none()
          }))
          if (yield* Ref.getAndSet(warned, false)) yield* Effect.logInfo("app bus connected again")
          else yield* Effect.logDebug("app bus connected")
          return Option.some(exit.value)
        }
        yield* Scope.close(scope, Exit.void)
        yield* Ref.update(state, (s) => ({ ...s, failedAt: Option.some(now) }))
        if (yield* Ref.getAndSet(warned, true))
          yield* Effect.logDebug("app bus still unavailable", exit.cause)
        else
          yield* Effect.logWarning(
            `app bus unavailable; notifications are skipped, retrying every ${Duration.format(retryMillis)}`,
            exit.cause
          )
        return Option.none<BusService>()
      })
    )

    const inWindow = (s: State, now: number) =>
      Option.match(s.failedAt, { onNone: () => false, onSome: (t) => now - t < retryMillis })

    const get = Effect.gen(function* () {
      const s = yield* Ref.get(state)
      if (s.shutdown) return Option.none<BusService>()
      const now = yield* Clock.currentTimeMillis
      if (Option.isSome(s.held)) {
        const held = s.held.value
        if (yield* usable(held.bus)) {
          if (Option.isSome(s.failedAt)) yield* Ref.update(state, (x) => ({ ...x, failedAt: Option.none() }))
          return Option.some(held.bus)
        }
        // A held bus that went down gets one window to come back by itself (UnixBus reconnects on its
        // own); after that the next caller replaces it.
        if (Option.isNone(s.failedAt)) {
          yield* Ref.update(state, (x) => ({ ...x, failedAt: Option.some(now) }))
          yield* Ref.set(warned, true)
          yield* Effect.logWarning("app bus disconnected; notifications are skipped until it is back")
          return Option.none<BusService>()
        }
        if (inWindow(s, now)) return Option.none<BusService>()
        yield* Ref.update(state, (x) => ({ ...x, held: Option.none() }))
        yield* release(s.held)
        return yield* attempt
      }
      if (inWindow(s, now)) return Option.none<BusService>()
      return yield* attempt
    }).pipe(lock.withPermits(1), Effect.withSpan("AppBus.get"))

    const close = Effect.gen(function* () {
      const s = yield* Ref.getAndUpdate(state, (x) => ({
        ...x,
        held: Option.none(),
        failedAt: Option.none()
      }))
      yield* release(s.held)
    }).pipe(lock.withPermits(1), Effect.withSpan("AppBus.close"))

    const connected = Effect.flatMap(Ref.get(state), (s) =>
      Option.match(s.held, {
        onNone: () => Effect.succeed(false),
        onSome: (h) => Effect.map(h.bus.state, (st) => st === "connected")
      })
    )

    const publish = (topic: string, payload: Payload, eventType = "") =>
      Effect.flatMap(get, (bus) =>
        Option.match(bus, {
          onNone: () => Effect.logDebug(`app bus down; dropped ${topic}`),
          onSome: (b) => publishSafelyOn(b, topic, payload, eventType)
        })
      )

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const s = yield* Ref.getAndUpdate(state, (x) => ({ ...x, held: Option.none(), shutdown: true }))
        yield* release(s.held)
      }).pipe(lock.withPermits(1))
    )

    return { get, publish, connected, close } satisfies AppBusService
  })

/** A connector from any `Bus` layer (e.g. the env-selected `BusLive`): builds it in the attempt's scope. */
export const connectFromLayer = <E, R>(
  layer: Layer.Layer<Bus, E, R>
): Effect.Effect<BusService, E, R | Scope.Scope> =>
  Effect.map(Layer.build(layer), (ctx) => Context.get(ctx, Bus))

export const AppBusLive = <E, R>(
  connect: Effect.Effect<BusService, E, R | Scope.Scope>,
  options: AppBusOptions = {}
): Layer.Layer<AppBus, never, Exclude<R, Scope.Scope>> => Layer.scoped(AppBus, makeAppBus(connect, options))

/**
 * Make a connector one-shot: fail unless the bus it built is connected right away. A UnixBus that cannot
 * reach its broker otherwise keeps retrying in the background; the app bus wants its own 2 s gate.
 */
export const requireConnected = <E, R>(
  connect: Effect.Effect<BusService, E, R>
): Effect.Effect<BusService, E | BusError, R> =>
  Effect.tap(connect, (bus) =>
    Effect.flatMap(bus.state, (st) =>
      st === "connected"
        ? Effect.void
        : Effect.fail(new BusError({ op: "connect", message: `bus is ${st} (is \`decnet bus\` running?)` }))
    )
  )

/** An app bus that is always down, for DECNET_BUS_ENABLED=false: every notification is skipped quietly. */
export const disabledAppBus: AppBusService = {
  get: Effect.succeed(Option.none()),
  publish: () => Effect.void,
  connected: Effect.succeed(false),
  close: Effect.void
}

/**
 * The API's app bus from DecnetConfig: the configured backend (unix/nats/fake) under the client name
 * `api`, or the always-down app bus when DECNET_BUS_ENABLED=false.
 */
export const AppBusFromConfig = (
  options: AppBusOptions & { readonly clientName?: string } = {}
): Layer.Layer<AppBus, never, DecnetConfig> =>
  Layer.scoped(
    AppBus,
    Effect.gen(function* () {
      const { bus } = yield* DecnetConfig
      if (!bus.enabled) return disabledAppBus
      return yield* makeAppBus(
        requireConnected(makeBus({ clientName: options.clientName ?? "api" })),
        options
      )
    })
  )
