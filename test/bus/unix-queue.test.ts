// The subscription queue every backend uses (a ring that slides by itself): FIFO, drop-oldest when full
// (also for one offerAll bigger than the capacity, and for unsafeOffer), takes in order, shutdown ends the stream.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Queue, Stream } from "effect"
import { type BusEvent, makeSubscriptionQueue } from "../../src/bus/Bus.js"

const ev = (n: number): BusEvent => ({ v: 1, id: String(n), topic: "q.t", type: "", ts: n, payload: { n } })
const ns = (c: Iterable<BusEvent>) => [...c].map((e) => e.payload.n)

describe("makeSubscriptionQueue", () => {
  it.effect("keeps the newest `capacity` events in order", () =>
    Effect.gen(function* () {
      const q = yield* makeSubscriptionQueue(4)
      for (let i = 0; i < 3; i++) yield* Queue.offer(q, ev(i))
      expect(yield* Queue.size(q)).toBe(3)
      yield* Queue.offerAll(q, [ev(3), ev(4), ev(5)])
      expect(yield* Queue.size(q)).toBe(4)
      expect(ns(yield* Queue.takeAll(q))).toEqual([2, 3, 4, 5])
      // One batch larger than the queue: only its newest 4 remain.
      yield* Queue.offerAll(
        q,
        Array.from({ length: 10 }, (_, i) => ev(100 + i))
      )
      expect(ns(yield* Queue.takeUpTo(q, 2))).toEqual([106, 107])
      expect(ns(yield* Queue.takeAll(q))).toEqual([108, 109])
      // Wrap-around after partial takes.
      for (let i = 0; i < 7; i++) {
        yield* Queue.offer(q, ev(200 + i))
        if (i % 2 === 1) yield* Queue.take(q)
      }
      expect(ns(yield* Queue.takeAll(q))).toEqual([203, 204, 205, 206])
      // unsafeOffer (what socket callbacks use) drops the oldest too: the ring slides by itself.
      for (let i = 0; i < 6; i++) expect(Queue.unsafeOffer(q, ev(300 + i))).toBe(true)
      expect(yield* Queue.size(q)).toBe(4)
      expect(ns(yield* Queue.takeAll(q))).toEqual([302, 303, 304, 305])
    })
  )

  it.live("a waiting taker gets the first offer; a stream over it ends on shutdown", () =>
    Effect.gen(function* () {
      const q = yield* makeSubscriptionQueue(8)
      const taker = yield* Effect.fork(Queue.take(q))
      yield* Effect.yieldNow()
      yield* Queue.offerAll(q, [ev(1), ev(2)])
      expect((yield* Fiber.join(taker)).payload.n).toBe(1)
      const all = yield* Effect.fork(Stream.runCollect(Stream.fromQueue(q)))
      yield* Queue.offer(q, ev(3))
      // Let the stream drain what is queued (shutdown discards queued events, as for any Effect queue).
      for (let i = 0; i < 100 && (yield* Queue.size(q)) > 0; i++) yield* Effect.sleep("5 millis")
      yield* Effect.sleep("5 millis")
      yield* Queue.shutdown(q)
      expect(ns(Chunk.toArray(yield* Fiber.join(all)))).toEqual([2, 3])
    })
  )
})
