import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Queue, Stream, TestClock } from "effect"
import { Bus } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { runHealthHeartbeat } from "../../src/bus/Heartbeat.js"

describe("runHealthHeartbeat", () => {
  it.scoped("first beat immediate, then every 30 s; a throwing extra() does not stop it", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const events = yield* bus.subscribe("system.*.health")
      const q = yield* Queue.unbounded<unknown>()
      yield* events.pipe(
        Stream.runForEach((e) => Queue.offer(q, e.payload)),
        Effect.forkScoped
      )
      let n = 0
      yield* runHealthHeartbeat("profiler", () => {
        n++
        if (n === 2) throw new Error("boom")
        return { n }
      }).pipe(Effect.provideService(Bus, bus))
      yield* Effect.yieldNow()
      expect(yield* Queue.take(q)).toMatchObject({ worker: "profiler", n: 1 })
      yield* TestClock.adjust("29 seconds")
      expect(Option.isNone(yield* Queue.poll(q))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect(yield* Queue.take(q)).toEqual({ worker: "profiler", ts: 30 })
      yield* TestClock.adjust("30 seconds")
      expect(yield* Queue.take(q)).toMatchObject({ n: 3, ts: 60 })
    })
  )
})
