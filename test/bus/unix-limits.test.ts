// UnixBus against the broker's limits, over real UNIX sockets: what the broker would refuse is refused
// locally (so a client never loops on a SUB the broker closes it for), a broker that closes the connection
// at once is retried with backoff, and an undecodable EVT costs one event, not the connection.
import { connect, createServer, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Ref, Schedule, Scope } from "effect"
import { serveBroker } from "../../src/bus/Broker.js"
import { MAX_TOPIC_LENGTH } from "../../src/bus/Topics.js"
import { makeUnixBus } from "../../src/bus/UnixBus.js"
import { Decoder, encodeFrame, MAX_JSON_DEPTH, MAX_PATTERNS_PER_CONNECTION } from "../../src/bus/Wire.js"
import { collect, poll, sleep, tempSocketPath } from "./support.js"

const socketPath = () => tempSocketPath("decnet-unixlim-")
const broker = (path: string, maxConnections?: number) =>
  serveBroker({
    socketPath: path,
    group: "",
    heartbeatSeconds: 0,
    ...(maxConnections === undefined ? {} : { maxConnections })
  })
/** A raw connection that holds a broker slot until the scope ends. */
const holdSlot = (path: string) =>
  Effect.acquireRelease(
    Effect.async<Socket>((resume) => {
      const s = connect(path)
      s.on("error", () => undefined)
      s.once("connect", () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.sync(() => s.destroy())
  )

const nestedPayload = (levels: number): Record<string, unknown> => {
  let v: unknown = 1
  for (let i = 0; i < levels - 1; i++) v = { a: v }
  return { a: v }
}

describe("UnixBus and the broker's limits", () => {
  it.scopedLive("non-ASCII, control-character and over-long topics and patterns are BusErrors", () =>
    Effect.gen(function* () {
      const path = socketPath()
      const b = yield* broker(path)
      const bus = yield* makeUnixBus({ socketPath: path })
      const long = `a.${"x".repeat(MAX_TOPIC_LENGTH - 1)}`
      for (const p of ["café.>", "a.\u0001", "a.\u007f", "ü", "a.b\u00a0", long, "a.\u{1F600}"]) {
        const e = yield* Effect.flip(Effect.scoped(bus.subscribe(p)))
        expect(e._tag).toBe("BusError")
        const t = p.endsWith(">") ? p.replace(">", "x") : p
        const f = yield* Effect.flip(bus.publish(t, {}))
        expect(f._tag).toBe("BusError")
      }
      // The longest pattern still fits the `UNSUB <pattern>` header, and the broker serves it.
      const longest = `a.${"x".repeat(MAX_TOPIC_LENGTH - 2)}`
      const got = yield* collect(yield* bus.subscribe(longest))
      const pub = yield* makeUnixBus({ socketPath: path })
      yield* sleep(50)
      yield* pub.publish(longest, { ok: 1 })
      const events = yield* poll(Ref.get(got), (xs) => xs.length > 0)
      expect(events.map((e) => e.topic)).toEqual([longest])
      expect((yield* bus.stats).reconnects).toBe(0)
      expect((yield* b.stats).violations).toBe(0)
    })
  )

  it.scopedLive("a broker that closes the connection at once is retried on the backoff schedule", () =>
    Effect.gen(function* () {
      const path = socketPath()
      const b = yield* broker(path, 1)
      yield* holdSlot(path)
      // Spaced an hour: after the first refused session, nothing may happen until the schedule says so.
      const bus = yield* makeUnixBus({ socketPath: path, reconnect: Schedule.spaced("1 hour") })
      yield* sleep(300)
      expect((yield* b.stats).refused).toBe(1)
      expect((yield* bus.stats).reconnects).toBe(0)
      expect(yield* bus.state).toBe("disconnected")
    })
  )

  it.scopedLive(
    "with the default schedule a refused client backs off, then comes back once a slot frees",
    () =>
      Effect.gen(function* () {
        const path = socketPath()
        const b = yield* broker(path, 2)
        const slots = yield* Scope.make()
        yield* holdSlot(path).pipe(Scope.extend(slots))
        const publisher = yield* holdSlot(path)
        const bus = yield* makeUnixBus({ socketPath: path })
        const got = yield* collect(yield* bus.subscribe("freed.x"))
        yield* sleep(600)
        // 50 ms doubling, jittered: a handful of refused sessions in 600 ms (without the backoff, thousands).
        const refused = (yield* b.stats).refused
        expect(refused).toBeGreaterThanOrEqual(1)
        expect(refused).toBeLessThanOrEqual(10)
        yield* Scope.close(slots, Exit.void)
        // The backoff is capped near 1 s: the client gets the freed slot by itself and subscribes again.
        const pub = Either.getOrThrow(encodeFrame("PUB", "freed.x", JSON.stringify({ payload: { n: 1 } })))
        const events = yield* Effect.sync(() => publisher.write(pub)).pipe(
          Effect.zipRight(sleep(50)),
          Effect.zipRight(Ref.get(got)),
          Effect.repeat({ until: (xs) => xs.length > 0, times: 100 })
        )
        expect(events[0]?.payload).toEqual({ n: 1 })
        expect(yield* bus.state).toBe("connected")
      })
  )

  it.scopedLive(`more than ${MAX_PATTERNS_PER_CONNECTION} distinct patterns are refused locally`, () =>
    Effect.gen(function* () {
      const path = socketPath()
      const b = yield* broker(path)
      const bus = yield* makeUnixBus({ socketPath: path })
      for (let i = 0; i < MAX_PATTERNS_PER_CONNECTION; i++) yield* bus.subscribe(`pat.${i}`)
      const e = yield* Effect.flip(bus.subscribe("pat.one-more"))
      expect(e.message).toMatch(/1024 distinct patterns/)
      // Another subscription on a pattern already held is fine, and the connection is intact.
      const got = yield* collect(yield* bus.subscribe("pat.7"))
      const pub = yield* makeUnixBus({ socketPath: path })
      yield* sleep(100)
      yield* pub.publish("pat.7", { n: 7 })
      const events = yield* poll(Ref.get(got), (xs) => xs.length > 0)
      expect(events.map((x) => x.payload)).toEqual([{ n: 7 }])
      expect((yield* bus.stats).reconnects).toBe(0)
      expect((yield* b.stats).violations).toBe(0)
    })
  )

  it.scopedLive(
    "a payload nested past the broker's depth limit is a BusError; at the limit it is delivered",
    () =>
      Effect.gen(function* () {
        const path = socketPath()
        const b = yield* broker(path)
        const sub = yield* makeUnixBus({ socketPath: path })
        const got = yield* collect(yield* sub.subscribe("nest.x"))
        const pub = yield* makeUnixBus({ socketPath: path })
        yield* sleep(50)
        const e = yield* Effect.flip(pub.publish("nest.x", nestedPayload(MAX_JSON_DEPTH)))
        expect(e.message).toMatch(/deeper than 63/)
        yield* pub.publish("nest.x", nestedPayload(MAX_JSON_DEPTH - 1))
        const events = yield* poll(Ref.get(got), (xs) => xs.length > 0)
        expect(events).toHaveLength(1)
        expect(events[0]?.payload).toEqual(nestedPayload(MAX_JSON_DEPTH - 1))
        expect((yield* pub.stats).reconnects).toBe(0)
        expect((yield* b.stats).violations).toBe(0)
      })
  )

  it.scopedLive(
    "an undecodable EVT body is skipped and counted; the connection and later events survive",
    () =>
      Effect.gen(function* () {
        const path = socketPath()
        let connections = 0
        const evt = (body: string) => Either.getOrThrow(encodeFrame("EVT", "odd.x", body))
        const server = createServer((s: Socket) => {
          connections++
          const d = new Decoder()
          s.on("data", (c) => {
            for (const f of Either.getOrThrow(d.push(c)))
              if (f.verb === "SUB")
                s.write(
                  Buffer.concat([
                    // A foreign broker that forwards anything: too deep, not JSON, not an object.
                    evt(`{"payload":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`),
                    evt("{nope"),
                    evt("[1,2]"),
                    evt(JSON.stringify({ payload: { ok: true } }))
                  ])
                )
          })
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            server.listen(path, () => resume(Effect.void))
          }),
          () => Effect.sync(() => server.close())
        )
        const bus = yield* makeUnixBus({ socketPath: path })
        const got = yield* collect(yield* bus.subscribe("odd.>"))
        const events = yield* poll(Ref.get(got), (xs) => xs.length > 0)
        yield* sleep(50)
        expect((yield* Ref.get(got)).map((e) => e.payload)).toEqual([{ ok: true }])
        expect(events).toHaveLength(1)
        const stats = yield* bus.stats
        expect(stats.droppedUndecodable).toBe(3)
        expect(stats.reconnects).toBe(0)
        expect(connections).toBe(1)
      })
  )
})
