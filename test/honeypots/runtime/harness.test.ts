import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  defineEvents,
  EventSinkMemory,
  HoneypotContextLive,
  MemorySink,
  Sd,
  serveTcp
} from "../../../src/honeypots/runtime/index.js"

const echoEvents = defineEvents("echo", { line: { text: Sd.Text } })
const holdEvents = defineEvents("hold", { finished: {} })
const lateEvents = defineEvents("late", { summary: {} })

const TestLayer = (limits: Record<string, number> = {}) =>
  HoneypotContextLive({ decky: "decky-test", limits }).pipe(Layer.provideMerge(EventSinkMemory))

const talk = (port: number, send: string, waitForClose = true): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    let out = ""
    s.on("data", (d) => {
      out += d.toString()
      if (!waitForClose && out.includes("\n")) s.end()
    })
    s.on("error", reject)
    s.on("close", () => resolve(out))
    s.on("connect", () => s.write(send))
  })

describe("serveTcp harness", () => {
  it.scoped("runs a line-oriented handler and emits events through the sink", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: echoEvents,
        host: "127.0.0.1",
        port: 0,
        handler: (conn, events) =>
          Effect.gen(function* () {
            const line = yield* conn.readLine()
            yield* events.emit({ _tag: "line", text: line })
            yield* conn.write(`you said ${line}\r\n`)
          })
      })
      const reply = yield* Effect.promise(() => talk(listener.port, "hello\r\n"))
      expect(reply).toBe("you said hello\r\n")
      const lines = yield* (yield* MemorySink).lines
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        /^<134>1 \S+ decky-test echo - line \[relay@55555 src_ip="127\.0\.0\.1" src_port="\d+" text="hello"\]$/
      )
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scoped("closes a connection whose line exceeds the limit, and keeps serving others", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: echoEvents,
        host: "127.0.0.1",
        port: 0,
        handler: (conn) =>
          Effect.gen(function* () {
            const line = yield* conn.readLine()
            yield* conn.write(`ok ${line.length}\n`)
          })
      })
      const big = yield* Effect.promise(() => talk(listener.port, `${"A".repeat(200)}\n`))
      expect(big).toBe("")
      const small = yield* Effect.promise(() => talk(listener.port, "hi\n"))
      expect(small).toBe("ok 2\n")
    }).pipe(Effect.provide(TestLayer({ maxLineBytes: 64 })))
  )

  it.scoped("refuses connections past the per-IP limit", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: holdEvents,
        host: "127.0.0.1",
        port: 0,
        handler: (conn) => Effect.flatMap(conn.write("hi\n"), () => conn.readLine())
      })
      const first = net.connect(listener.port, "127.0.0.1")
      yield* Effect.promise(() => new Promise((r) => first.once("data", r)))
      const second = yield* Effect.promise(() => talk(listener.port, ""))
      expect(second).toBe("")
      first.destroy()
    }).pipe(Effect.provide(TestLayer({ maxConnectionsPerIp: 1 })))
  )

  it.scopedLive("interrupts a handler still running after its client closed (finalizers run)", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: holdEvents,
        host: "127.0.0.1",
        port: 0,
        closeGraceMs: 0,
        // Stuck on something that is not the connection (a data channel, a timer …).
        handler: (conn, events) =>
          Effect.zipRight(conn.write("hi\n"), Effect.never).pipe(
            Effect.ensuring(events.emit({ _tag: "finished" }))
          )
      })
      const c = net.connect(listener.port, "127.0.0.1")
      yield* Effect.promise(() => new Promise((r) => c.once("data", r)))
      c.destroy()
      const sink = yield* MemorySink
      let lines: ReadonlyArray<string> = []
      for (let i = 0; i < 200 && lines.length === 0; i++) {
        lines = yield* sink.lines
        if (lines.length === 0) yield* Effect.sleep("25 millis")
      }
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(" hold - finished ")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("by default lets a handler finish its own work after the client closed", () =>
    Effect.gen(function* () {
      const listener = yield* serveTcp({
        events: lateEvents,
        host: "127.0.0.1",
        port: 0,
        // Post-close work (storing what the client sent, a summary event) is part of the handler.
        handler: (conn, events) =>
          conn
            .readLine()
            .pipe(
              Effect.catchTag("ConnectionClosed", () =>
                Effect.zipRight(Effect.sleep("50 millis"), events.emit({ _tag: "summary" }))
              )
            )
      })
      const c = net.connect(listener.port, "127.0.0.1")
      yield* Effect.promise(() => new Promise((r) => c.once("connect", r)))
      c.destroy()
      const sink = yield* MemorySink
      let lines: ReadonlyArray<string> = []
      for (let i = 0; i < 200 && lines.length === 0; i++) {
        lines = yield* sink.lines
        if (lines.length === 0) yield* Effect.sleep("25 millis")
      }
      expect(lines.map((l) => l.includes(" late - summary "))).toEqual([true])
    }).pipe(Effect.provide(TestLayer()))
  )
})
