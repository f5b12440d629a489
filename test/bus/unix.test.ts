// UnixBus against the real broker over real UNIX sockets (in-process broker; the cross-process suite
// runs it as a child). No wall-clock assertions: waits poll with a bounded number of retries.
import { createServer, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Logger, LogLevel, Ref, Schedule, Scope, Stream } from "effect"
import { serveBroker } from "../../src/bus/Broker.js"
import type { BusEvent } from "../../src/bus/Bus.js"
import { makeUnixBus, type UnixBusService } from "../../src/bus/UnixBus.js"
import { Decoder, encodeFrame } from "../../src/bus/Wire.js"
import { BAD_PATTERNS, BAD_TOPICS, collect, poll, sleep, tempSocketPath } from "./support.js"

const socketPath = () => tempSocketPath("decnet-unixbus-")
const broker = (path: string) => serveBroker({ socketPath: path, group: "", heartbeatSeconds: 0 })

const waitCount = (ref: Ref.Ref<ReadonlyArray<BusEvent>>, n: number) =>
  poll(Ref.get(ref), (xs) => xs.length >= n)

// A SUB has no ack (spec/bus.md §1.3): give the broker a moment to see it before publishing.
const settle = sleep(50)

describe("UnixBus ↔ broker", () => {
  it.scopedLive("wildcard delivery with the broker's envelope; header topic wins", () =>
    Effect.gen(function* () {
      const path = socketPath()
      yield* broker(path)
      const sub = yield* makeUnixBus({ socketPath: path, name: "t-sub" })
      const pub = yield* makeUnixBus({ socketPath: path, name: "t-pub" })
      expect(yield* sub.state).toBe("connected")
      const star = yield* collect(yield* sub.subscribe("u.*.x"))
      const tail = yield* collect(yield* sub.subscribe("u.>"))
      yield* settle
      yield* pub.publish("u.a.x", { n: 1 }, "kind")
      yield* pub.publish("u.b", { n: 2 })
      yield* pub.publish("u.c.d.x", { n: 3 })
      yield* pub.publish("v.a.x", { n: 4 })
      const all = yield* waitCount(tail, 3)
      expect(all.map((e) => e.topic)).toEqual(["u.a.x", "u.b", "u.c.d.x"])
      const s = yield* Ref.get(star)
      expect(s.map((e) => e.topic)).toEqual(["u.a.x"])
      const e = s[0]
      expect(e && Object.keys(e)).toEqual(["v", "id", "topic", "type", "ts", "payload"])
      expect(e?.id).toMatch(/^[0-9a-f]{32}$/)
      expect(e?.type).toBe("kind")
      expect(e?.payload).toEqual({ n: 1 })
      expect(all[1]?.type).toBe("")
    })
  )

  it.scopedLive(
    "the broker never echoes to the publisher; the client delivers its own events to its own subscriptions once; overlapping patterns deliver once per local subscription",
    () =>
      Effect.gen(function* () {
        const path = socketPath()
        yield* broker(path)
        const a = yield* makeUnixBus({ socketPath: path, name: "a" })
        const b = yield* makeUnixBus({ socketPath: path, name: "b" })
        const aGot = yield* collect(yield* a.subscribe("e.>"))
        const bWide = yield* collect(yield* b.subscribe("e.>"))
        const bStar = yield* collect(yield* b.subscribe("e.*"))
        yield* settle
        yield* a.publish("e.one", { from: "a" })
        yield* waitCount(bWide, 1)
        // b's marker is queued behind a's event on a's connection if the broker had echoed it.
        yield* b.publish("e.two", { from: "b" })
        // a sees its own event at once (delivered locally), then b's; a broker echo would add a second "a".
        const first = yield* waitCount(aGot, 2)
        expect(first.map((e) => e.payload)).toEqual([{ from: "a" }, { from: "b" }])
        yield* sleep(50)
        expect((yield* Ref.get(aGot)).length).toBe(2)
        expect((yield* Ref.get(bWide)).map((e) => e.topic)).toEqual(["e.one", "e.two"])
        expect((yield* Ref.get(bStar)).map((e) => e.topic)).toEqual(["e.one", "e.two"])
      })
  )

  it.scopedLive("closing a subscription UNSUBs only when no other local subscription has the pattern", () =>
    Effect.gen(function* () {
      const path = socketPath()
      const brk = yield* broker(path)
      const sub = yield* makeUnixBus({ socketPath: path })
      const pub = yield* makeUnixBus({ socketPath: path })
      const s1 = yield* Scope.make()
      const s2 = yield* Scope.make()
      const first = yield* collect(yield* sub.subscribe("q.*").pipe(Scope.extend(s1))).pipe(Scope.extend(s1))
      const second = yield* collect(yield* sub.subscribe("q.*").pipe(Scope.extend(s2))).pipe(Scope.extend(s2))
      yield* settle
      yield* pub.publish("q.a", { n: 1 })
      yield* waitCount(second, 1)
      expect((yield* Ref.get(first)).length).toBe(1)
      // One local subscription left: the broker must keep routing to this connection.
      yield* Scope.close(s1, Exit.void)
      yield* settle
      yield* pub.publish("q.b", { n: 2 })
      const left = yield* waitCount(second, 2)
      expect(left.map((e) => e.topic)).toEqual(["q.a", "q.b"])
      // Last one gone: UNSUB reaches the broker, which then routes nothing more to this client.
      yield* Scope.close(s2, Exit.void)
      yield* settle
      const before = (yield* brk.stats).enqueued
      yield* pub.publish("q.c", { n: 3 })
      yield* poll(brk.stats, (s) => s.published >= 3)
      expect((yield* brk.stats).published).toBe(3)
      expect((yield* brk.stats).enqueued).toBe(before)
    })
  )

  it.scopedLive("fan-out to 10 subscriber clients, in order", () =>
    Effect.gen(function* () {
      const path = socketPath()
      yield* broker(path)
      const pub = yield* makeUnixBus({ socketPath: path, name: "fan-pub" })
      const refs: Array<Ref.Ref<ReadonlyArray<BusEvent>>> = []
      for (let i = 0; i < 10; i++) {
        const bus = yield* makeUnixBus({ socketPath: path, name: `fan-${i}` })
        refs.push(yield* collect(yield* bus.subscribe("fan.>")))
      }
      yield* settle
      for (let n = 0; n < 200; n++) yield* pub.publish(`fan.t${n % 3}`, { n })
      for (const r of refs) {
        const got = yield* waitCount(r, 200)
        expect(got.map((e) => e.payload.n)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      }
    })
  )

  it.scopedLive("invalid topics and patterns are BusErrors", () =>
    Effect.gen(function* () {
      const path = socketPath()
      yield* broker(path)
      const bus = yield* makeUnixBus({ socketPath: path })
      for (const t of BAD_TOPICS) {
        const e = yield* Effect.flip(bus.publish(t, {}))
        expect(e._tag).toBe("BusError")
      }
      for (const p of BAD_PATTERNS) {
        const e = yield* Effect.flip(Effect.scoped(bus.subscribe(p)))
        expect(e._tag).toBe("BusError")
      }
      const big = yield* Effect.flip(bus.publish("a.b", { x: "y".repeat(1024 * 1024) }))
      expect(big.message).toMatch(/1 MiB/)
    })
  )

  it.scopedLive("a subscription that is not consumed keeps the newest 1024 events and counts the rest", () =>
    Effect.gen(function* () {
      const path = socketPath()
      yield* broker(path)
      const sub = yield* makeUnixBus({ socketPath: path })
      const pub = yield* makeUnixBus({ socketPath: path })
      const stream = yield* sub.subscribe("slow.x")
      yield* settle
      for (let n = 0; n < 3000; n++) {
        yield* pub.publish("slow.x", { n })
        if (n % 100 === 99) yield* sleep(2)
      }
      const stats = yield* poll(sub.stats, (s) => s.droppedSubscriberFull >= 3000 - 1024)
      expect(stats.droppedSubscriberFull).toBe(3000 - 1024)
      const got = Chunk.toArray(yield* stream.pipe(Stream.take(1024), Stream.runCollect))
      expect(got[0]?.payload.n).toBe(3000 - 1024)
      expect(got[1023]?.payload.n).toBe(2999)
    })
  )

  it.scopedLive("publish after close is dropped without failing; subscribe after close fails", () =>
    Effect.gen(function* () {
      const path = socketPath()
      yield* broker(path)
      const scope = yield* Scope.make()
      const bus: UnixBusService = yield* makeUnixBus({ socketPath: path }).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      expect(yield* bus.state).toBe("closed")
      yield* bus.publish("late.a", {})
      yield* bus.publish("late.b", {})
      expect((yield* bus.stats).droppedClosed).toBe(2)
      const e = yield* Effect.flip(Effect.scoped(bus.subscribe("late.>")))
      expect(e.message).toMatch(/closed/)
    })
  )

  it.scopedLive(
    "starts without a broker: publishes are dropped, the subscription resumes once it appears",
    () =>
      Effect.gen(function* () {
        const path = socketPath()
        const bus = yield* makeUnixBus({ socketPath: path, name: "early" })
        expect(yield* bus.state).not.toBe("connected")
        yield* bus.publish("early.x", { n: 0 })
        expect((yield* bus.stats).droppedDisconnected).toBe(1)
        const got = yield* collect(yield* bus.subscribe("early.>"))
        yield* broker(path)
        const st = yield* poll(bus.state, (s) => s === "connected")
        expect(st).toBe("connected")
        const pub = yield* makeUnixBus({ socketPath: path })
        // Retry publishing until the (re)sent SUB has reached the broker; bounded.
        const seen = yield* pub
          .publish("early.y", { n: 1 })
          .pipe(
            Effect.zipRight(sleep(20)),
            Effect.zipRight(Ref.get(got)),
            Effect.repeat({ until: (xs) => xs.length > 0, times: 100 })
          )
        expect(seen[0]?.topic).toBe("early.y")
      })
  )

  it.scopedLive("a bad frame from the broker drops the link; the client reconnects and resubscribes", () =>
    Effect.gen(function* () {
      const path = socketPath()
      let connections = 0
      const subsSeen: Array<string> = []
      const server = createServer((s: Socket) => {
        connections++
        if (connections === 1) {
          s.write("GARBAGE\n\0\0\0\0")
          return
        }
        const d = new Decoder()
        s.on("data", (c) => {
          for (const f of Either.getOrThrow(d.push(c)))
            if (f.verb === "SUB") {
              subsSeen.push(f.args)
              s.write(
                Either.getOrThrow(
                  encodeFrame(
                    "EVT",
                    "r.x",
                    JSON.stringify({
                      v: 1,
                      id: "i",
                      topic: "spoofed",
                      type: "t",
                      ts: 1,
                      payload: { ok: true }
                    })
                  )
                )
              )
            }
        })
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          server.listen(path, () => resume(Effect.void))
        }),
        () => Effect.sync(() => server.close())
      )
      const bus = yield* makeUnixBus({ socketPath: path })
      const got = yield* collect(yield* bus.subscribe("r.*"))
      const events = yield* waitCount(got, 1)
      expect(connections).toBeGreaterThanOrEqual(2)
      expect(subsSeen).toContain("r.*")
      expect(events[0]?.topic).toBe("r.x")
      expect(events[0]?.payload).toEqual({ ok: true })
      expect((yield* bus.stats).reconnects).toBeGreaterThanOrEqual(1)
    })
  )
  it.scopedLive("drops while disconnected and after close log one WARN each, then DEBUG", () => {
    const logs: Array<[string, string]> = []
    const capture = Logger.make(({ logLevel, message }) => {
      logs.push([logLevel.label, String(Array.isArray(message) ? message.join(" ") : message)])
    })
    return Effect.gen(function* () {
      const path = socketPath()
      const scope = yield* Scope.make()
      const bus = yield* makeUnixBus({ socketPath: path, reconnect: Schedule.spaced("1 hour") }).pipe(
        Scope.extend(scope)
      )
      const drops = (what: RegExp) => logs.filter(([, m]) => what.test(m)).map(([l]) => l)
      for (let i = 0; i < 3; i++) yield* bus.publish("down.x", { i })
      expect(drops(/not connected/)).toEqual(["WARN", "DEBUG", "DEBUG"])
      yield* Scope.close(scope, Exit.void)
      for (let i = 0; i < 3; i++) yield* bus.publish("down.x", { i })
      expect(drops(/after close/)).toEqual(["WARN", "DEBUG", "DEBUG"])
      const stats = yield* bus.stats
      expect(stats.droppedDisconnected).toBe(3)
      expect(stats.droppedClosed).toBe(3)
    }).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  })

  it.scopedLive("a broker that stops reading never blocks publish: the bounded buffer drops and counts", () =>
    Effect.gen(function* () {
      const path = socketPath()
      const held: Array<Socket> = []
      const server = createServer((s: Socket) => {
        s.pause() // never reads: the kernel buffer fills, then our outbound buffer
        held.push(s)
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          server.listen(path, () => resume(Effect.void))
        }),
        () =>
          Effect.sync(() => {
            for (const s of held) s.destroy()
            server.close()
          })
      )
      const bus = yield* makeUnixBus({ socketPath: path, outboundLimitBytes: 64 * 1024 })
      const pad = "z".repeat(1000)
      for (let i = 0; i < 20_000; i++) {
        yield* bus.publish("stuck.x", { i, pad })
        if (i % 500 === 499) yield* sleep(1)
      }
      const stats = yield* bus.stats
      expect(stats.droppedOutboundFull).toBeGreaterThan(0)
      expect(stats.published + stats.droppedOutboundFull).toBe(20_000)
      expect(yield* bus.state).toBe("connected")
    })
  )
})
