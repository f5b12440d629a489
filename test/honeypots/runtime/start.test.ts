import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, Schema } from "effect"
import type { HoneypotEvent } from "../../../src/logging/HoneypotEvent.js"
import {
  defineEvents,
  defineHoneypot,
  describeBindError,
  EventSink,
  EventSinkMemory,
  HoneypotContextLive,
  MemorySink,
  serveTcp
} from "../../../src/honeypots/runtime/index.js"

const TestLayer = HoneypotContextLive({ decky: "decky-rt" }).pipe(Layer.provideMerge(EventSinkMemory))

/** A tiny module: one TCP port that answers a greeting; config with a default and an optional key. */
const echoEvents = defineEvents("echo", {})

const echo = defineHoneypot({
  slug: "echo",
  description: "test module",
  ports: { tcp: [7], udp: [] },
  events: echoEvents,
  config: Schema.Struct({
    greeting: Schema.optionalWith(Schema.String, { default: () => "hello" }),
    delay_ms: Schema.optional(Schema.Int)
  }),
  run: (options) =>
    Effect.map(
      serveTcp({
        ...options.address(),
        events: echoEvents,
        handler: (conn) => conn.write(`${options.config.greeting}\n`)
      }),
      (l) => [l]
    )
})

const greet = (port: number) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve) => {
        const s = net.connect(port, "127.0.0.1")
        let out = ""
        s.on("data", (d) => {
          out += d.toString()
        })
        s.on("close", () => resolve(out))
        s.on("error", () => resolve(out))
      })
  )

describe("MemorySink", () => {
  const event = (msg: string): HoneypotEvent => ({
    timestamp: new Date(0),
    decky: "d",
    service: "s",
    event_type: "e",
    attacker_ip: "192.0.2.1",
    attacker_port: 1,
    fields: {},
    msg,
    severity: 6
  })
  const msgOf = (line: string | undefined) => line?.replace(/^.*\] /, "")

  it.effect("appends every line, returns snapshots, and clears", () =>
    Effect.gen(function* () {
      const sink = yield* EventSink
      const memory = yield* MemorySink
      for (let i = 0; i < 50_000; i++) yield* sink.write(event(`line ${i}`))
      const snapshot = yield* memory.lines
      expect(snapshot).toHaveLength(50_000)
      expect(msgOf(snapshot[49_999])).toBe("line 49999")
      yield* sink.write(event("one more"))
      expect(snapshot).toHaveLength(50_000)
      expect(yield* memory.lines).toHaveLength(50_001)
      yield* memory.clear
      expect(yield* memory.lines).toEqual([])
      expect(snapshot).toHaveLength(50_000)
      yield* sink.write(event("after clear"))
      expect((yield* memory.lines).map(msgOf)).toEqual(["after clear"])
    }).pipe(Effect.provide(EventSinkMemory))
  )

  it.effect("each build of the layer is a separate sink", () =>
    Effect.gen(function* () {
      yield* Effect.flatMap(EventSink, (s) => s.write(event("a"))).pipe(Effect.provide(EventSinkMemory))
      const lines = yield* Effect.flatMap(MemorySink, (m) => m.lines).pipe(Effect.provide(EventSinkMemory))
      expect(lines).toEqual([])
    })
  )
})

describe("Honeypot.start", () => {
  it.scoped("decodes config defaults, binds, and emits startup", () =>
    Effect.gen(function* () {
      const [listener] = yield* echo.start({ host: "127.0.0.1", port: () => 0 })
      expect(listener?.defaultPort).toBe(7)
      expect(yield* greet(listener?.port ?? 0)).toBe("hello\n")
      const lines = yield* (yield* MemorySink).lines
      expect(lines[0]).toMatch(
        /^<134>1 \S+ decky-rt echo - startup \[relay@55555\] echo server starting as decky-rt$/
      )
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped("unknown keys are dropped by default (the original's validate_cfg)", () =>
    Effect.gen(function* () {
      const [listener] = yield* echo.start({
        host: "127.0.0.1",
        port: () => 0,
        config: { greeting: "hi", colour: 1 }
      })
      expect(yield* greet(listener?.port ?? 0)).toBe("hi\n")
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped("unknownConfigKeys=error names the unknown key and the valid ones", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        echo.start({
          host: "127.0.0.1",
          port: () => 0,
          config: { greting: "hi" },
          unknownConfigKeys: "error"
        })
      )
      expect(error._tag).toBe("HoneypotConfigError")
      expect(error.message).toBe(
        'invalid echo config: unknown key "greting" (valid keys: "greeting" | "delay_ms")'
      )
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped("unknownConfigKeys=warn logs the dropped key once and starts", () =>
    Effect.gen(function* () {
      const logged: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logged.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const [listener] = yield* echo
        .start({ host: "127.0.0.1", port: () => 0, config: { greting: "x" }, unknownConfigKeys: "warn" })
        .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(yield* greet(listener?.port ?? 0)).toBe("hello\n")
      expect(logged).toEqual(['echo config: ignoring unknown "greting"'])
    }).pipe(Effect.provide(TestLayer))
  )

  it.scoped(
    "a wrong type is one line naming the key, without the optional's 'Expected undefined' noise",
    () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          echo.start({ host: "127.0.0.1", port: () => 0, config: { greeting: 5, delay_ms: 1.5 } })
        )
        expect(error.message).toBe(
          'invalid echo config: "greeting": Expected string, actual 5; "delay_ms": Expected an integer, actual 1.5'
        )
        const notObject = yield* Effect.flip(echo.start({ host: "127.0.0.1", port: () => 0, config: [1] }))
        expect(notObject.message).toBe("invalid echo config: expected a JSON object")
      }).pipe(Effect.provide(TestLayer))
  )

  it.effect("a module without knobs (Schema.Struct({})) still refuses unknown keys and non-objects", () =>
    Effect.gen(function* () {
      const bare = defineHoneypot({
        slug: "bare",
        description: "no config keys",
        ports: { tcp: [7], udp: [] },
        config: Schema.Struct({}),
        events: defineEvents("bare", {}),
        run: () => Effect.succeed([])
      })
      const unknown = yield* Effect.flip(bare.validateConfig({ banner: "x" }, "error"))
      expect(unknown.message).toBe('invalid bare config: unknown key "banner" (bare has no config keys)')
      for (const input of ["text", 5, null, ["a"]]) {
        const e = yield* Effect.flip(bare.validateConfig(input))
        expect(e.message).toBe("invalid bare config: expected a JSON object")
      }
      yield* bare.validateConfig({})
      yield* bare.validateConfig({ banner: "x" }, "ignore")
    })
  )

  it.scoped("a port in use fails with EADDRINUSE and a readable message", () =>
    Effect.gen(function* () {
      const [first] = yield* echo.start({ host: "127.0.0.1", port: () => 0 })
      const port = first?.port ?? 0
      const error = yield* Effect.flip(echo.start({ host: "127.0.0.1", port: () => port }))
      expect(error._tag).toBe("HoneypotListenError")
      if (error._tag !== "HoneypotListenError") return
      expect(error.code).toBe("EADDRINUSE")
      expect(error.service).toBe("echo")
      expect(error.message).toBe(
        `cannot bind 127.0.0.1:${port}: address already in use (another process listens there)`
      )
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("the listener is closed when the scope closes", () =>
    Effect.gen(function* () {
      const port = yield* Effect.scoped(
        Effect.map(echo.start({ host: "127.0.0.1", port: () => 0 }), (ls) => ls[0]?.port ?? 0)
      )
      const refused = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const s = net.connect(port, "127.0.0.1")
            s.on("connect", () => {
              s.destroy()
              resolve("connected")
            })
            s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"))
          })
      )
      expect(refused).toBe("ECONNREFUSED")
    }).pipe(Effect.provide(TestLayer))
  )
})

describe("describeBindError", () => {
  const err = (code: string) => Object.assign(new Error(`listen ${code}`), { code })
  it("explains the common refusals", () => {
    expect(describeBindError("127.0.0.1", 22, err("EACCES"))).toBe(
      "cannot bind 127.0.0.1:22: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    )
    expect(describeBindError("127.0.0.1", 8080, err("EACCES"))).toBe(
      "cannot bind 127.0.0.1:8080: permission denied"
    )
    expect(describeBindError("10.9.9.9", 80, err("EADDRNOTAVAIL"))).toBe(
      "cannot bind 10.9.9.9:80: address not available (10.9.9.9 is not an address of this host)"
    )
    expect(describeBindError("127.0.0.1", 69, err("EWHATEVER"), "udp")).toBe(
      "cannot bind udp 127.0.0.1:69: listen EWHATEVER"
    )
  })
})
