import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import { Bus } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { publishSafely } from "../../src/bus/Helpers.js"
import { NullBusLive, nullBus } from "../../src/bus/NullBus.js"
import { BAD_PATTERNS, BAD_TOPICS } from "./support.js"

describe("FakeBus", () => {
  it.scoped("publisher sees its own events, wildcards match", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const s = yield* bus.subscribe("attacker.>")
      yield* bus.publish("attacker.observed", { ip: "1.2.3.4" }, "observed")
      yield* bus.publish("identity.formed", {})
      yield* bus.publish("attacker.session.ended", {})
      const got = Chunk.toArray(yield* s.pipe(Stream.take(2), Stream.runCollect))
      expect(got.map((e) => e.topic)).toEqual(["attacker.observed", "attacker.session.ended"])
      expect(got[0]!.type).toBe("observed")
    })
  )
  it.scoped("bounded queue drops the oldest", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus({ queueSize: 2 })
      const s = yield* bus.subscribe("a.*")
      for (let i = 0; i < 5; i++) yield* bus.publish("a.b", { i })
      const got = Chunk.toArray(yield* s.pipe(Stream.take(2), Stream.runCollect))
      expect(got.map((e) => e.payload.i)).toEqual([3, 4])
    })
  )
  it.scoped("refuses the topics and patterns the unix and NATS backends refuse", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      for (const t of BAD_TOPICS) {
        const e = yield* Effect.flip(bus.publish(t, {}))
        expect(e._tag).toBe("BusError")
      }
      for (const p of BAD_PATTERNS) {
        const e = yield* Effect.flip(Effect.scoped(bus.subscribe(p)))
        expect(e._tag).toBe("BusError")
      }
    })
  )
  it.effect("closed bus fails publish and subscribe; publishSafely swallows it", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const bus = yield* makeFakeBus().pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect((yield* Effect.flip(bus.publish("a.b", {})))._tag).toBe("BusError")
      expect((yield* Effect.flip(Effect.scoped(bus.subscribe("a.b"))))._tag).toBe("BusError")
      yield* publishSafely("a.b", {}).pipe(Effect.provideService(Bus, bus))
    })
  )
})

describe("NullBus", () => {
  it.scoped("publish drops, subscriptions end at once", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      yield* bus.publish("a.b", {})
      const got = yield* Stream.runCollect(yield* bus.subscribe("a.>"))
      expect(Chunk.size(got)).toBe(0)
      expect(yield* nullBus.state).toBe("closed")
    }).pipe(Effect.provide(NullBusLive))
  )
})
