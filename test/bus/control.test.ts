import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Queue, Ref, Stream, TestClock } from "effect"
import { serveBroker } from "../../src/bus/Broker.js"
import { Bus, BusError, type BusService } from "../../src/bus/Bus.js"
import { ControlPayload, requestStop, runControlListener, untilStopRequested } from "../../src/bus/Control.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { runHealthHeartbeat } from "../../src/bus/Heartbeat.js"
import { nullBus } from "../../src/bus/NullBus.js"
import { makeUnixBus } from "../../src/bus/UnixBus.js"

const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("control listener", () => {
  it.scoped("a stop intent closes the worker scope; start, garbage and other workers are ignored", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const finalized = yield* Ref.make(false)
      const beats = yield* Queue.unbounded<unknown>()
      yield* (yield* bus.subscribe("system.profiler.health")).pipe(
        Stream.runForEach((e) => Queue.offer(beats, e.payload)),
        Effect.forkScoped
      )
      const worker = Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Ref.set(finalized, true))
        yield* runHealthHeartbeat("profiler")
        return yield* Effect.never
      })
      const main = yield* Effect.fork(
        untilStopRequested("profiler", worker).pipe(Effect.provideService(Bus, bus))
      )
      yield* settle
      expect(yield* Queue.size(beats)).toBe(1)

      yield* bus.publish(
        "system.profiler.control",
        { action: "start", requested_by: "admin", ts: 1 },
        "control"
      )
      yield* bus.publish("system.profiler.control", { action: "stop" }, "control") // no requested_by/ts: malformed
      yield* bus.publish("system.profiler.control", { action: ["stop"], requested_by: "x", ts: 1 })
      yield* bus.publish("system.profiler.control", { action: "reboot", requested_by: "x", ts: 1 })
      yield* bus.publish("system.profiler.control", {})
      yield* requestStop("mutator", "admin").pipe(Effect.provideService(Bus, bus))
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(main))).toBe(true)
      expect(yield* Ref.get(finalized)).toBe(false)

      yield* TestClock.adjust("5 seconds")
      yield* requestStop("profiler", "alice").pipe(Effect.provideService(Bus, bus))
      const result = yield* Fiber.join(main)
      expect(Option.isNone(result)).toBe(true)
      expect(yield* Ref.get(finalized)).toBe(true)
      // The heartbeat fiber lived in the worker scope and is gone with it.
      yield* TestClock.adjust("90 seconds")
      yield* settle
      expect(yield* Queue.size(beats)).toBe(1)
    })
  )

  it.scoped("returns the stop request; requestStop publishes the control payload with the clock's ts", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      const seen = yield* bus.subscribe("system.*.control")
      const listener = yield* Effect.fork(runControlListener("sniffer"))
      yield* settle
      yield* TestClock.adjust("12 seconds")
      yield* requestStop("sniffer", "bob")
      const stop = yield* Fiber.join(listener)
      expect(stop).toEqual({ action: "stop", requested_by: "bob", ts: 12 })
      const raw = Option.getOrThrow(yield* Stream.runHead(seen))
      expect(raw.topic).toBe("system.sniffer.control")
      expect(raw.type).toBe("control")
      expect(raw.payload).toEqual(ControlPayload.make({ action: "stop", requested_by: "bob", ts: 12 }))
    }).pipe(Effect.provideServiceEffect(Bus, makeFakeBus()))
  )

  it.scoped("a body that finishes first returns Some; its scope is closed too", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const finalized = yield* Ref.make(false)
      const out = yield* untilStopRequested(
        "prober",
        Effect.zipRight(
          Effect.addFinalizer(() => Ref.set(finalized, true)),
          Effect.succeed(42)
        )
      ).pipe(Effect.provideService(Bus, bus))
      expect(out).toEqual(Option.some(42))
      expect(yield* Ref.get(finalized)).toBe(true)
    })
  )

  it.scoped(
    "a failed subscribe, an ended subscription or a bad name only warn; the worker keeps running",
    () =>
      Effect.gen(function* () {
        const broken: BusService = {
          ...nullBus,
          subscribe: () => Effect.fail(new BusError({ op: "subscribe", message: "broker down" }))
        }
        const runs = [
          runControlListener("collector").pipe(Effect.provideService(Bus, broken)),
          runControlListener("collector").pipe(Effect.provideService(Bus, nullBus)),
          runControlListener("bad.name").pipe(Effect.provideService(Bus, nullBus))
        ]
        const fibers = yield* Effect.forEach(runs, (r) => Effect.fork(r))
        yield* settle
        yield* TestClock.adjust("1 hour")
        for (const f of fibers) expect(Option.isNone(yield* Fiber.poll(f))).toBe(true)
        // And the worker body still completes normally under a broken bus.
        const out = yield* untilStopRequested("collector", Effect.succeed("done")).pipe(
          Effect.provideService(Bus, broken)
        )
        expect(out).toEqual(Option.some("done"))
        const err = yield* Effect.flip(requestStop("bad.name", "x").pipe(Effect.provideService(Bus, nullBus)))
        expect(err._tag).toBe("BusError")
      })
  )
})

describe("control over the real broker", () => {
  it.scopedLive("requestStop from one UnixBus ends a worker on another; its scope closes", () =>
    Effect.gen(function* () {
      const socketPath = join(mkdtempSync(join(tmpdir(), "decnet-ctl-")), "bus.sock")
      yield* serveBroker({ socketPath, group: "", heartbeatSeconds: 0 })
      const workerBus = yield* makeUnixBus({ socketPath, name: "prober" })
      const apiBus = yield* makeUnixBus({ socketPath, name: "api" })
      const finalized = yield* Ref.make(false)
      const main = yield* Effect.fork(
        untilStopRequested(
          "prober",
          Effect.zipRight(
            Effect.addFinalizer(() => Ref.set(finalized, true)),
            Effect.never
          )
        ).pipe(Effect.provideService(Bus, workerBus))
      )
      // No SUB ack on the wire: repeat the intent until the worker has heard it (as an operator would).
      yield* requestStop("prober", "carol").pipe(
        Effect.provideService(Bus, apiBus),
        Effect.zipRight(Effect.sleep("20 millis")),
        Effect.repeat({ until: () => main.unsafePoll() !== null }),
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "worker never stopped" })
      )
      expect(Option.isNone(yield* Fiber.join(main))).toBe(true)
      expect(yield* Ref.get(finalized)).toBe(true)
    })
  )
})
