// The subscription queue every backend uses (a sliding Mailbox): FIFO, drop-oldest when full (for offer and
// for unsafeOffer from a socket callback), takes in order, and the subscription stream ends on shutdown.
// (The backends offer one event at a time: Mailbox's sliding `offerAll` in effect 3.22.4 keeps the pending
// array after moving it into its chunk, so a batch offered onto a non-empty mailbox is counted twice.)
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { type BusEvent, makeSubscriptionQueue, subscriptionStream } from "../../src/bus/Bus.js"

const ev = (n: number): BusEvent => ({ v: 1, id: String(n), topic: "q.t", type: "", ts: n, payload: { n } })
const ns = (c: Iterable<BusEvent>) => [...c].map((e) => e.payload.n)

describe("makeSubscriptionQueue", () => {
  it.effect("keeps the newest `capacity` events in order", () =>
    Effect.gen(function* () {
      const q = yield* makeSubscriptionQueue(4)
      for (let i = 0; i < 3; i++) yield* q.offer(ev(i))
      expect(Option.getOrThrow(yield* q.size)).toBe(3)
      for (let i = 3; i < 6; i++) yield* q.offer(ev(i))
      expect(Option.getOrThrow(yield* q.size)).toBe(4)
      expect(ns((yield* q.takeAll)[0])).toEqual([2, 3, 4, 5])
      // More offers than the capacity in a row: only the newest 4 remain.
      for (let i = 0; i < 10; i++) yield* q.offer(ev(100 + i))
      expect(ns((yield* q.takeN(2))[0])).toEqual([106, 107])
      expect(ns((yield* q.takeAll)[0])).toEqual([108, 109])
      // Sliding after partial takes.
      for (let i = 0; i < 7; i++) {
        yield* q.offer(ev(200 + i))
        if (i % 2 === 1) yield* q.take
      }
      expect(ns((yield* q.takeAll)[0])).toEqual([203, 204, 205, 206])
      // unsafeOffer (what socket callbacks use) drops the oldest too.
      for (let i = 0; i < 6; i++) expect(q.unsafeOffer(ev(300 + i))).toBe(true)
      expect(Option.getOrThrow(q.unsafeSize())).toBe(4)
      expect(ns((yield* q.takeAll)[0])).toEqual([302, 303, 304, 305])
      // A long run of single offers into a full queue keeps exactly the newest `capacity`, in order.
      for (let i = 0; i < 5000; i++) q.unsafeOffer(ev(1000 + i))
      expect(ns((yield* q.takeAll)[0])).toEqual([5996, 5997, 5998, 5999])
    })
  )

  it.live("a waiting stream gets offers made from outside any fiber; it ends on shutdown", () =>
    Effect.gen(function* () {
      const q = yield* makeSubscriptionQueue(8)
      const all = yield* Effect.fork(Stream.runCollect(subscriptionStream(q)))
      yield* Effect.sleep("5 millis")
      // As a socket callback would: plain function calls, no Effect running.
      yield* Effect.async<void>((resume) => {
        setImmediate(() => {
          q.unsafeOffer(ev(1))
          q.unsafeOffer(ev(2))
          resume(Effect.void)
        })
      })
      for (let i = 0; i < 100 && Option.getOrElse(q.unsafeSize(), () => 1) > 0; i++)
        yield* Effect.sleep("5 millis")
      yield* q.offer(ev(3))
      for (let i = 0; i < 100 && Option.getOrElse(q.unsafeSize(), () => 1) > 0; i++)
        yield* Effect.sleep("5 millis")
      yield* Effect.sleep("5 millis")
      yield* q.shutdown
      expect(ns(Chunk.toArray(yield* Fiber.join(all)))).toEqual([1, 2, 3])
      // After shutdown offers are refused and the size is gone.
      expect(q.unsafeOffer(ev(4))).toBe(false)
      expect(Option.isNone(q.unsafeSize())).toBe(true)
    })
  )
})
