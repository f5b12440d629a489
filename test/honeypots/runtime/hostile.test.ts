// The harness under hostile clients, on a test module: a reader that never reads, a trickler that
// resets every idle timer, a source past the per-IP cap, attacker control bytes in a field. Each case
// checks that memory stays bounded, that the server closes the connection itself, and that the event
// saying so is logged. Deadlines run on Effect's Clock, so TestClock drives them instead of waiting.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import {
  defineEvents,
  EventSinkMemory,
  HoneypotContextLive,
  type HoneypotLimits,
  type Listener,
  MemorySink,
  Sd,
  serveTcp
} from "../../../src/honeypots/runtime/index.js"
import { advanceUntil, connect, realSleep, waitReal } from "../../support/hostile.js"
import { checkEventLine } from "../support.js"

const testEvents = defineEvents("echo", { line: { text: Sd.Text } })

const TestLayer = (limits: Partial<HoneypotLimits> = {}) =>
  HoneypotContextLive({ decky: "decky-hostile", limits }).pipe(Layer.provideMerge(EventSinkMemory))

const eventsNow = Effect.gen(function* () {
  const lines = yield* (yield* MemorySink).lines
  return yield* Effect.forEach(lines, checkEventLine)
})

const REPLY = "x".repeat(64 * 1024)

/** Answers every line with `reply`: a client that pipelines lines and never reads piles replies up. */
const answering = (reply: string) =>
  serveTcp({
    events: testEvents,
    host: "127.0.0.1",
    port: 0,
    handler: (conn, events) =>
      Effect.gen(function* () {
        for (;;) {
          const line = yield* conn.readLine()
          yield* events.emit({ _tag: "line", text: line })
          yield* conn.write(`${reply}\n`)
        }
      })
  })
const chatty = answering(REPLY)

const cutEvents = (reason: string) =>
  Effect.map(eventsNow, (es) =>
    es.filter((e) => e.event_type === "connection_closed" && e.fields.reason === reason)
  )

describe("hostile clients", () => {
  it.scoped("a client that never reads: replies stop at the high-water mark, then idle closes it", () =>
    Effect.gen(function* () {
      const listener: Listener = yield* chatty
      const client = yield* connect(listener.port, { read: false })
      // 4,000 pipelined commands would be 256 MiB of replies without backpressure.
      client.socket.write("ping\n".repeat(4000))
      yield* realSleep(500)
      const stats = listener.stats()
      expect(stats.open).toBe(1)
      // Bounded: the mark (256 KiB) plus one reply still being handed over.
      expect(stats.queuedBytes).toBeLessThanOrEqual(256 * 1024 + REPLY.length + 1)
      const lines = (yield* eventsNow).filter((e) => e.event_type === "line")
      expect(lines.length).toBeLessThan(100)
      yield* advanceUntil("11 seconds", () => listener.stats().open === 0)
      // The client sees the close once it reads again.
      client.socket.resume()
      yield* waitReal(client.closed)
      expect(client.closed()).toBe(true)
      expect(yield* cutEvents("idle")).toHaveLength(1)
      expect(listener.stats().cut.idle).toBe(1)
    }).pipe(Effect.provide(TestLayer({ idleTimeoutMs: 10_000, loginGraceMs: 600_000 })))
  )

  it.scoped(
    "once the kernel's buffers are full, one reply past the backlog cap closes the connection (write_backlog)",
    () =>
      Effect.gen(function* () {
        // 256 KiB replies against a 128 KiB cap: the first that cannot be handed to the kernel is cut.
        const listener = yield* answering("y".repeat(256 * 1024))
        const client = yield* connect(listener.port, { read: false })
        client.socket.write("a\n".repeat(400))
        yield* waitReal(() => listener.stats().open === 0)
        client.socket.resume()
        yield* waitReal(client.closed)
        expect(client.closed()).toBe(true)
        expect(listener.stats().cut.write_backlog).toBe(1)
        expect(yield* cutEvents("write_backlog")).toHaveLength(1)
      }).pipe(Effect.provide(TestLayer({ writeHighWaterBytes: 16 * 1024, maxWriteBacklogBytes: 128 * 1024 })))
  )

  it.scoped("a trickler that resets the idle timer is closed at the login grace", () =>
    Effect.gen(function* () {
      const listener = yield* chatty
      const client = yield* connect(listener.port)
      // One byte every 5 s never trips a 10 s idle timeout; the 120 s grace still ends it.
      for (let i = 0; i < 30 && !client.closed(); i++) {
        client.socket.write("A")
        yield* realSleep(20)
        yield* TestClock.adjust("5 seconds")
        yield* realSleep(20)
      }
      yield* waitReal(client.closed, 1000)
      expect(client.closed()).toBe(true)
      const cut = yield* cutEvents("login_grace")
      expect(cut).toHaveLength(1)
      expect(Number(cut[0]?.fields.after_s)).toBeGreaterThanOrEqual(120)
      expect(yield* cutEvents("idle")).toHaveLength(0)
      expect(listener.stats()).toMatchObject({ open: 0, cut: { login_grace: 1 } })
    }).pipe(Effect.provide(TestLayer({ idleTimeoutMs: 10_000, loginGraceMs: 120_000 })))
  )

  it.scoped("after login the session cap applies instead of the grace", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: testEvents,
        host: "127.0.0.1",
        port: 0,
        handler: (conn) =>
          Effect.gen(function* () {
            yield* conn.readLine()
            conn.loggedIn()
            yield* conn.write("welcome\n")
            for (;;) yield* conn.readLine()
          })
      })
      const client = yield* connect(listener.port)
      client.socket.write("login\n")
      yield* waitReal(() => client.received() > 0)
      for (let i = 0; i < 20; i++) {
        client.socket.write("\n")
        yield* realSleep(10)
        yield* TestClock.adjust("10 seconds")
      }
      yield* realSleep(50)
      // 200 s in: past the 120 s grace, still open because it logged in.
      expect(client.closed()).toBe(false)
      yield* advanceUntil("10 seconds", client.closed, 20)
      expect(client.closed()).toBe(true)
      expect(yield* cutEvents("session_limit")).toHaveLength(1)
      expect(yield* cutEvents("login_grace")).toHaveLength(0)
    }).pipe(
      Effect.provide(TestLayer({ idleTimeoutMs: 250_000, loginGraceMs: 120_000, maxSessionMs: 300_000 }))
    )
  )

  it.scoped("a session cap shorter than the grace counts from the login, not from the grace", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: testEvents,
        host: "127.0.0.1",
        port: 0,
        handler: (conn) =>
          Effect.gen(function* () {
            yield* conn.readLine()
            conn.loggedIn()
            yield* conn.write("welcome\n")
            for (;;) yield* conn.readLine()
          })
      })
      const client = yield* connect(listener.port)
      client.socket.write("login\n")
      yield* waitReal(() => client.received() > 0)
      yield* TestClock.adjust("31 seconds")
      yield* waitReal(() => listener.stats().open === 0, 1000)
      expect(listener.stats().cut.session_limit).toBe(1)
      const cut = yield* cutEvents("session_limit")
      expect(Number(cut[0]?.fields.after_s)).toBeLessThan(60)
    }).pipe(
      Effect.provide(TestLayer({ idleTimeoutMs: 600_000, loginGraceMs: 120_000, maxSessionMs: 30_000 }))
    )
  )

  it.scoped("refusals past the per-IP cap are logged: the first at once, then counted per window", () =>
    Effect.gen(function* () {
      const listener = yield* chatty
      const held = yield* connect(listener.port)
      const refusedClosed: Array<() => boolean> = []
      for (let i = 0; i < 25; i++) refusedClosed.push((yield* connect(listener.port)).closed)
      yield* waitReal(() => refusedClosed.every((c) => c()))
      expect(refusedClosed.every((c) => c())).toBe(true)
      expect(held.closed()).toBe(false)
      expect(listener.stats().refused.perIp).toBe(25)
      const first = (yield* eventsNow).filter((e) => e.event_type === "connection_refused")
      expect(first).toHaveLength(1)
      expect(first[0]).toMatchObject({ attacker_ip: "127.0.0.1", attacker_port: null })
      expect(first[0]?.fields).toEqual({ limit: "per_ip", count: "1", window_s: "0" })
      yield* TestClock.adjust("60 seconds")
      yield* realSleep(50)
      const all = (yield* eventsNow).filter((e) => e.event_type === "connection_refused")
      expect(all).toHaveLength(2)
      expect(all[1]?.fields).toEqual({ limit: "per_ip", count: "24", window_s: "60" })
      // A quiet window forgets the source: the next refusal is reported at once again.
      yield* TestClock.adjust("60 seconds")
      yield* realSleep(50)
      yield* connect(listener.port)
      yield* realSleep(100)
      expect((yield* eventsNow).filter((e) => e.event_type === "connection_refused")).toHaveLength(3)
    }).pipe(
      Effect.provide(TestLayer({ maxConnectionsPerIp: 1, idleTimeoutMs: 3_600_000, loginGraceMs: 3_600_000 }))
    )
  )

  it.scoped("attacker control bytes in a field reach the log escaped and decode back exactly", () =>
    Effect.gen(function* () {
      const listener = yield* chatty
      const client = yield* connect(listener.port)
      const hostile = "a\x1b[31m\x00b\x07\x7f\u009b\u2028c"
      client.socket.write(`${hostile}\n`)
      yield* waitReal(() => client.received() > 0)
      const lines = yield* (yield* MemorySink).lines
      const raw = lines.find((l) => l.includes(" line "))
      expect(raw).toBeDefined()
      expect(raw).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028]/)
      const decoded = yield* checkEventLine(raw ?? "")
      expect(decoded.fields.text).toBe(hostile)
    }).pipe(Effect.provide(TestLayer()))
  )
})
