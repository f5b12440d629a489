import { mkdtempSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import {
  Context,
  type Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Scope,
  Stream,
  TestClock
} from "effect"
import { AppBus, AppBusFromConfig, makeAppBus } from "../../src/bus/AppBus.js"
import { serveBroker } from "../../src/bus/Broker.js"
import { BusError, type BusService, type ConnectionState } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { Decoder, encodeFrame, parseBody } from "../../src/bus/Wire.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"

/** A scriptable connector: counts attempts, fails while `up` is false, tracks released buses. */
const makeConnector = (options: { readonly delay?: Duration.DurationInput } = {}) =>
  Effect.gen(function* () {
    const attempts = yield* Ref.make(0)
    const up = yield* Ref.make(false)
    const released = yield* Ref.make(0)
    const busState = yield* Ref.make<ConnectionState>("connected")
    const connect = Effect.gen(function* () {
      yield* Ref.update(attempts, (n) => n + 1)
      if (options.delay !== undefined) yield* Effect.sleep(options.delay)
      if (!(yield* Ref.get(up))) return yield* new BusError({ op: "connect", message: "broker down" })
      yield* Ref.set(busState, "connected")
      const fake = yield* makeFakeBus()
      yield* Effect.addFinalizer(() => Ref.update(released, (n) => n + 1))
      const bus: BusService = { ...fake, state: Ref.get(busState) }
      return bus
    })
    return { connect, attempts, up, released, busState }
  })

describe("AppBus", () => {
  it.scoped("a failed connect is retried at most once every 2 s", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector()
      const app = yield* makeAppBus(c.connect)
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* TestClock.adjust("999 millis")
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(2)
      expect(yield* app.connected).toBe(false)
    })
  )

  it.scoped("concurrent callers share one attempt (failure and success)", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector({ delay: "100 millis" })
      const app = yield* makeAppBus(c.connect)
      const failing = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 10 }, () => app.get),
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust("100 millis")
      const down = yield* Fiber.join(failing)
      expect(down.every(Option.isNone)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(1)

      yield* Ref.set(c.up, true)
      yield* TestClock.adjust("2 seconds")
      const ok = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 10 }, () => app.get),
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust("100 millis")
      const buses = (yield* Fiber.join(ok)).map(Option.getOrThrow)
      expect(yield* Ref.get(c.attempts)).toBe(2)
      expect(new Set(buses).size).toBe(1)
      // Held and connected: further calls never attempt again.
      yield* app.get
      expect(yield* Ref.get(c.attempts)).toBe(2)
      expect(yield* app.connected).toBe(true)
    })
  )

  it.scoped("recovers by itself within 5 s after the bus comes back", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector()
      const app = yield* makeAppBus(c.connect)
      // A caller polling every 500 ms (the dashboard polls every 5 s; the API publishes far more often).
      for (let i = 0; i < 7; i++) {
        expect(Option.isNone(yield* app.get)).toBe(true)
        yield* TestClock.adjust("500 millis")
      }
      // 3.5 s in: the last attempt was at 2 s, the next is due at 4 s.
      yield* Ref.set(c.up, true)
      let recoveredAfter: number | undefined
      for (let ms = 0; ms <= 5000; ms += 500) {
        if (Option.isSome(yield* app.get)) {
          recoveredAfter = ms
          break
        }
        yield* TestClock.adjust("500 millis")
      }
      expect(recoveredAfter).toBeDefined()
      expect(recoveredAfter).toBeLessThanOrEqual(5000)
      // Success cleared the failure stamp: the attempts were at 0 s, 2 s and 4 s only.
      expect(yield* Ref.get(c.attempts)).toBe(3)
    })
  )

  it.scoped("a held bus that reports disconnected/closed is replaced after the window", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector()
      yield* Ref.set(c.up, true)
      const app = yield* makeAppBus(c.connect)
      const first = Option.getOrThrow(yield* app.get)
      yield* Ref.set(c.busState, "disconnected")
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(1)
      expect(yield* Ref.get(c.released)).toBe(0)
      yield* TestClock.adjust("1 second")
      const second = Option.getOrThrow(yield* app.get)
      expect(second).not.toBe(first)
      expect(yield* Ref.get(c.attempts)).toBe(2)
      expect(yield* Ref.get(c.released)).toBe(1)

      // A bus that comes back on its own within the window is kept.
      yield* Ref.set(c.busState, "closed")
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* Ref.set(c.busState, "connected")
      yield* TestClock.adjust("500 millis")
      expect(Option.getOrThrow(yield* app.get)).toBe(second)
      yield* Ref.set(c.busState, "disconnected")
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* TestClock.adjust("2 seconds")
      expect(Option.isSome(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(3)
    })
  )

  it.scoped("a hanging connect times out and counts as a failure", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const app = yield* makeAppBus(
        Effect.zipRight(
          Ref.update(attempts, (n) => n + 1),
          Effect.never
        )
      )
      const f = yield* Effect.fork(app.get)
      yield* TestClock.adjust("2 seconds")
      expect(Option.isNone(yield* Fiber.join(f))).toBe(true)
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(1)
    })
  )

  it.scoped("a caller interrupted mid-connect releases the attempt and leaves no failure stamp", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const released = yield* Ref.make(0)
      const app = yield* makeAppBus(
        Effect.gen(function* () {
          yield* Ref.update(attempts, (n) => n + 1)
          yield* Effect.addFinalizer(() => Ref.update(released, (n) => n + 1))
          yield* Effect.sleep("1 second")
          return yield* new BusError({ op: "connect", message: "slow and down" })
        })
      )
      const caller = yield* Effect.fork(app.get)
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(caller)
      expect(yield* Ref.get(released)).toBe(1)
      // Not stamped as a failure: the next caller tries at once.
      const next = yield* Effect.fork(app.get)
      yield* TestClock.adjust("1 second")
      expect(Option.isNone(yield* Fiber.join(next))).toBe(true)
      expect(yield* Ref.get(attempts)).toBe(2)
      expect(yield* Ref.get(released)).toBe(2)
    })
  )

  it.scoped("publish goes through when up and is dropped silently when down", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector()
      const app = yield* makeAppBus(c.connect)
      yield* app.publish("a.b", { n: 1 })
      yield* Ref.set(c.up, true)
      yield* TestClock.adjust("2 seconds")
      const bus = Option.getOrThrow(yield* app.get)
      const events = yield* bus.subscribe("a.*")
      const taken = yield* Effect.fork(Effect.map(Stream.runHead(events), Option.getOrThrow))
      yield* app.publish("a.b", { n: 2 }, "t")
      const got = yield* Fiber.join(taken)
      expect(got.payload).toEqual({ n: 2 })
      expect(got.type).toBe("t")
    })
  )

  it.effect("close releases the bus and clears the stamp; the surrounding scope shuts it down", () =>
    Effect.gen(function* () {
      const c = yield* makeConnector()
      const scope = yield* Scope.make()
      const app = yield* makeAppBus(c.connect).pipe(Scope.extend(scope))
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* Ref.set(c.up, true)
      // close() clears the failure stamp, so the next get connects at once.
      yield* app.close
      expect(Option.isSome(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(2)
      yield* app.close
      expect(yield* Ref.get(c.released)).toBe(1)
      expect(yield* app.connected).toBe(false)
      expect(Option.isSome(yield* app.get)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Ref.get(c.released)).toBe(2)
      expect(Option.isNone(yield* app.get)).toBe(true)
      expect(yield* Ref.get(c.attempts)).toBe(3)
    })
  )
})

describe("AppBus over the real broker and UnixBus", () => {
  const rawSubscriber = (socketPath: string, pattern: string) =>
    Effect.acquireRelease(
      Effect.promise(
        () =>
          new Promise<{ s: Socket; payloads: Array<unknown> }>((resolve) => {
            const s = connect(socketPath, () => {
              s.write(Either.getOrThrow(encodeFrame("SUB", pattern)))
              resolve({ s, payloads })
            })
            const payloads: Array<unknown> = []
            const d = new Decoder()
            s.on("error", () => undefined)
            s.on("data", (c) => {
              for (const f of Either.getOrThrow(d.push(c)))
                payloads.push(Either.getOrThrow(parseBody(f.body)).payload)
            })
          })
      ),
      ({ s }) => Effect.sync(() => s.destroy())
    )
  const poll = <A>(what: Effect.Effect<A>, ok: (a: A) => boolean) =>
    what.pipe(
      Effect.repeat({ until: ok, schedule: Schedule.spaced("50 millis") }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "gave up waiting" })
    )

  it.scopedLive("connects once the broker is up, goes down with it and comes back after a restart", () =>
    Effect.gen(function* () {
      const socketPath = join(mkdtempSync(join(tmpdir(), "decnet-appbus-")), "bus.sock")
      const ctx = yield* Layer.build(
        AppBusFromConfig({ retryAfter: "300 millis" }).pipe(
          Layer.provide(DecnetConfig.fromMap({ DECNET_BUS_SOCKET: socketPath }))
        )
      )
      const app = Context.get(ctx, AppBus)
      expect(Option.isNone(yield* app.get)).toBe(true)

      const roundTrip = (n: number) =>
        Effect.scoped(
          Effect.gen(function* () {
            const sub = yield* rawSubscriber(socketPath, "appbus.>")
            yield* poll(
              Effect.zipRight(
                app.publish("appbus.ping", { n }),
                Effect.sync(() => sub.payloads)
              ),
              (ps) => ps.length > 0
            )
            expect(sub.payloads[0]).toEqual({ n })
          })
        )

      const broker1 = yield* Scope.make()
      yield* serveBroker({ socketPath, group: "", heartbeatSeconds: 3600 }).pipe(Scope.extend(broker1))
      yield* poll(app.get, Option.isSome)
      expect(yield* app.connected).toBe(true)
      yield* roundTrip(1)

      yield* Scope.close(broker1, Exit.void)
      yield* poll(app.get, Option.isNone)
      expect(yield* app.connected).toBe(false)

      const broker2 = yield* Scope.make()
      yield* serveBroker({ socketPath, group: "", heartbeatSeconds: 3600 }).pipe(Scope.extend(broker2))
      yield* poll(app.get, Option.isSome)
      yield* roundTrip(2)
      yield* app.close
      yield* Scope.close(broker2, Exit.void)
    })
  )

  it.scoped("DECNET_BUS_ENABLED=false gives an app bus that is always down, quietly", () =>
    Effect.gen(function* () {
      const ctx = yield* Layer.build(
        AppBusFromConfig().pipe(Layer.provide(DecnetConfig.fromMap({ DECNET_BUS_ENABLED: "False" })))
      )
      const app = Context.get(ctx, AppBus)
      expect(Option.isNone(yield* app.get)).toBe(true)
      yield* app.publish("a.b", {})
      expect(yield* app.connected).toBe(false)
      const err = yield* Effect.flip(
        Layer.build(
          AppBusFromConfig().pipe(Layer.provide(DecnetConfig.fromMap({ DECNET_BUS_TYPE: "carrier-pigeon" })))
        )
      )
      expect(String(err)).toContain("DECNET_BUS_TYPE")
    })
  )
})
