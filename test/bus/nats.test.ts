import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { connect } from "nats"
import { makeNatsBus } from "../../src/bus/NatsBus.js"
import { BAD_PATTERNS, BAD_TOPICS } from "./support.js"

// A unique prefix per run so parallel runs against the shared server never see each other's events.
const prefix = `t${randomBytes(6).toString("hex")}`

describe("NatsBus (real nats-server on 127.0.0.1:4222)", () => {
  it.scoped("delivers to '*' and '>' subscribers with the envelope shape", () =>
    Effect.gen(function* () {
      const bus = yield* makeNatsBus({ name: "test-nats" })
      expect(yield* bus.state).toBe("connected")
      const star = yield* bus.subscribe(`${prefix}.a.*`)
      const tail = yield* bus.subscribe(`${prefix}.>`)
      const starF = yield* star.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      const tailF = yield* tail.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      yield* bus.publish(`${prefix}.a.b`, { x: 1 }, "kind")
      yield* bus.publish(`${prefix}.c.d.e`, { y: "z" })
      const s = Chunk.toArray(yield* Fiber.join(starF))
      const t = Chunk.toArray(yield* Fiber.join(tailF))
      expect(s.map((e) => e.topic)).toEqual([`${prefix}.a.b`])
      expect(t.map((e) => e.topic)).toEqual([`${prefix}.a.b`, `${prefix}.c.d.e`])
      const e = s[0]!
      expect(Object.keys(e)).toEqual(["v", "id", "topic", "type", "ts", "payload"])
      expect(e.v).toBe(1)
      expect(e.id).toMatch(/^[0-9a-f]{32}$/)
      expect(e.type).toBe("kind")
      expect(e.payload).toEqual({ x: 1 })
      expect(t[1]!.type).toBe("")
    })
  )

  it.scoped("wire format is the JSON envelope, topic taken from the subject", () =>
    Effect.gen(function* () {
      const bus = yield* makeNatsBus({})
      const raw = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: "nats://127.0.0.1:4222" })),
        (c) => Effect.promise(() => c.close())
      )
      const got: Array<string> = []
      raw.subscribe(`${prefix}.wire`, { callback: (_e, m) => got.push(new TextDecoder().decode(m.data)) })
      yield* Effect.promise(() => raw.flush())
      yield* bus.publish(`${prefix}.wire`, { k: [1, 2] }, "w")
      yield* Effect.promise(async () => {
        for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      })
      const parsed = JSON.parse(got[0]!)
      expect(Object.keys(parsed)).toEqual(["v", "id", "topic", "type", "ts", "payload"])
      expect(parsed.topic).toBe(`${prefix}.wire`)
      // A spoofed body topic is replaced by the subject on receipt.
      const sub = yield* bus.subscribe(`${prefix}.spoof`)
      const f = yield* sub.pipe(Stream.runHead, Effect.fork)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      raw.publish(
        `${prefix}.spoof`,
        new TextEncoder().encode(JSON.stringify({ topic: "evil", payload: [1] }))
      )
      const ev = Option.getOrThrow(yield* Fiber.join(f))
      expect(ev.topic).toBe(`${prefix}.spoof`)
      expect(ev.payload).toEqual({})
    })
  )

  it.scoped("a message nested past the depth limit or not JSON is skipped; the next one arrives", () =>
    Effect.gen(function* () {
      const bus = yield* makeNatsBus({})
      const raw = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: "nats://127.0.0.1:4222" })),
        (c) => Effect.promise(() => c.close())
      )
      const sub = yield* bus.subscribe(`${prefix}.deep`)
      const f = yield* sub.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      const enc = new TextEncoder()
      // 5000 levels: JSON.parse takes it, and a consumer re-serializing the payload would throw RangeError.
      raw.publish(`${prefix}.deep`, enc.encode(`{"payload":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`))
      raw.publish(`${prefix}.deep`, enc.encode(`{"payload":{"a":${"[".repeat(100)}${"]".repeat(100)}}}`))
      raw.publish(`${prefix}.deep`, enc.encode("{nope"))
      raw.publish(`${prefix}.deep`, enc.encode(JSON.stringify({ payload: { ok: true } })))
      const got = Chunk.toArray(yield* Fiber.join(f))
      expect(got.map((e) => e.payload)).toEqual([{ ok: true }])
    })
  )

  it.scoped("closing the subscription scope unsubscribes and ends the stream", () =>
    Effect.gen(function* () {
      const bus = yield* makeNatsBus({})
      const scope = yield* Scope.make()
      const stream = yield* bus.subscribe(`${prefix}.u`).pipe(Scope.extend(scope))
      const f = yield* stream.pipe(Stream.runCollect, Effect.fork)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      yield* bus.publish(`${prefix}.u`, { n: 1 })
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
      yield* Scope.close(scope, Exit.void)
      yield* bus.publish(`${prefix}.u`, { n: 2 })
      const got = Chunk.toArray(yield* Fiber.join(f))
      expect(got.map((e) => e.payload)).toEqual([{ n: 1 }])
    })
  )

  it.effect("state is closed after the bus scope ends; publish then drops without failing", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const bus = yield* makeNatsBus({}).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect(yield* bus.state).toBe("closed")
      yield* bus.publish(`${prefix}.late`, {})
      const err = yield* bus.subscribe(`${prefix}.late`).pipe(Effect.scoped, Effect.flip)
      expect(err._tag).toBe("BusError")
    })
  )

  it.effect("bad topics and unreachable servers are typed BusErrors", () =>
    Effect.gen(function* () {
      const bus = yield* makeNatsBus({}).pipe(Effect.scoped)
      void bus
      const e1 = yield* Effect.scoped(
        Effect.flatMap(makeNatsBus({}), (b) => Effect.flip(b.publish("a.*", {})))
      )
      expect(e1.message).toMatch(/wildcard/)
      // The same refusals as the unix bus (one shared check): empty tokens, whitespace, wildcards, and
      // anything outside printable ASCII, which NATS itself would accept as a subject.
      const refused = yield* Effect.scoped(
        Effect.flatMap(makeNatsBus({}), (b) =>
          Effect.forEach(BAD_TOPICS, (t) => Effect.flip(b.publish(t, {})))
        )
      )
      for (const e of refused) expect(e._tag).toBe("BusError")
      expect(refused.at(-1)?.message).toMatch(/printable ASCII/)
      const refusedPatterns = yield* Effect.scoped(
        Effect.flatMap(makeNatsBus({}), (b) =>
          Effect.forEach(BAD_PATTERNS, (p) => Effect.flip(Effect.scoped(b.subscribe(p))))
        )
      )
      for (const e of refusedPatterns) expect(e._tag).toBe("BusError")
      const e2 = yield* Effect.scoped(
        Effect.flatMap(makeNatsBus({}), (b) => Effect.flip(Effect.scoped(b.subscribe("a.>.b"))))
      )
      expect(e2.message).toMatch(/last token/)
      const e3 = yield* Effect.flip(Effect.scoped(makeNatsBus({ url: "nats://127.0.0.1:1" })))
      expect(e3.op).toBe("connect")
    })
  )
})
