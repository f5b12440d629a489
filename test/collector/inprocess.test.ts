// In-process deckies feed the collector core directly: a real redis decky in this process, a real client
// on loopback, and the typed events it emits found in `.json` as EvidenceRecords (whose raw line is the
// event's RFC 5424 line), in `.log`, and on the bus.
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Logger, Option, Schedule, Schema } from "effect"
import { Collector } from "../../src/collector/Collector.js"
import { InProcessSinkLive } from "../../src/collector/InProcessSink.js"
import { EvidenceWriteError } from "../../src/collector/Writer.js"
import { planDecky, resolveIdentity, startDecky } from "../../src/fleet/Decky.js"
import { PortPlan } from "../../src/fleet/Ports.js"
import { loadHoneypot } from "../../src/honeypots/Registry.js"
import { defaultLimits, EventSink } from "../../src/honeypots/runtime/index.js"
import { HoneypotEventLine } from "../../src/logging/HoneypotEvent.js"
import { event, harness, linesOf, tempDir } from "./support.js"

/** Send `script` to a redis listener and read until the server closes. */
const talk = (port: number, script: string) =>
  Effect.async<string>((resume) => {
    const s = net.connect(port, "127.0.0.1")
    let text = ""
    s.on("connect", () => s.write(script))
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1")
    })
    s.on("close", () => resume(Effect.succeed(text)))
    s.on("error", () => resume(Effect.succeed(text)))
    return Effect.sync(() => s.destroy())
  })

/** Poll (real time) until `check` holds; fail after 10 s. */
const eventually = <A>(what: string, get: () => A, check: (a: A) => boolean) =>
  Effect.suspend(() => {
    const a = get()
    return check(a) ? Effect.succeed(a) : Effect.fail(what)
  }).pipe(
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(25)), times: 400 }),
    Effect.orDieWith((w) => new Error(`timed out waiting for ${w}`))
  )

describe("in-process sink", () => {
  it.scopedLive("a typed event becomes a .json EvidenceRecord, a .log line and a system.log event", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const artifacts = yield* tempDir("decnet-inprocess-")
      const plan = yield* planDecky({
        identity: resolveIdentity(
          { name: Option.some("decky-ip") },
          {
            artifactsRoot: artifacts,
            decky: { nodeName: Option.none(), hostname: Option.none(), instanceId: Option.none() }
          }
        ),
        host: "127.0.0.1",
        slugs: ["redis"],
        configs: { redis: { reply_delay_ms: [0, 0] } },
        ports: PortPlan.explicit(new Map(), "ephemeral"),
        limits: defaultLimits
      })
      const sink = InProcessSinkLive.pipe(Layer.provide(Layer.succeed(Collector, h.collector)))
      const running = yield* startDecky(plan).pipe(Effect.provide(sink))
      const port = running.services[0]?.listeners[0]?.port ?? 0
      yield* talk(port, "AUTH hunter2\r\nGET secret-key\r\nQUIT\r\n")

      const records = yield* eventually("the disconnect record", h.records, (rs) =>
        rs.some((r) => r.event_type === "disconnect")
      )
      expect(records.map((r) => r.event_type)).toEqual([
        "startup",
        "connect",
        "command",
        "auth",
        "command",
        "command",
        "disconnect"
      ])
      const redis = yield* Effect.orDie(loadHoneypot("redis"))
      for (const r of records) {
        expect(r.decky).toBe("decky-ip")
        expect(r.service).toBe("redis")
        expect(r.source).toEqual({ container: "inprocess" })
        // The raw line is the event's own line: it decodes back to the same event.
        const { raw_line, source: _, ...ev } = r
        expect(Schema.decodeEither(HoneypotEventLine)(raw_line)).toEqual(Either.right(ev))
        // And the fields are the service's typed event again.
        expect(Either.isRight(redis.events.decode(r.event_type, r.fields))).toBe(true)
      }
      const auth = records.find((r) => r.event_type === "auth")
      expect(auth?.attacker_ip).toBe("127.0.0.1")
      expect(auth?.attacker_port).toBeGreaterThan(0)
      expect(auth?.fields.secret_printable).toBe("hunter2")
      expect(linesOf(h.log)).toEqual(records.map((r) => r.raw_line))
      const published = yield* h.published("system.log")
      expect(published.map((e) => e.type)).toEqual([
        "startup",
        "connect",
        "command",
        "auth",
        "command",
        "command",
        "disconnect"
      ])
    })
  )

  it.scoped("an event that cannot be written is logged and dropped; the emitter goes on", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const failing = {
        ...h.collector,
        acceptEvent: () =>
          Effect.fail(
            new EvidenceWriteError({ path: "/nowhere", message: "cannot write /nowhere: disk full" })
          )
      }
      const logged: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => void logged.push(String(message)))
      )
      const sink = yield* Effect.provide(
        EventSink,
        InProcessSinkLive.pipe(Layer.provide(Layer.succeed(Collector, failing)))
      )
      yield* sink.write(event()).pipe(Effect.provide(capture))
      expect(logged).toEqual([
        "collector: event redis/auth from decky-01 lost: cannot write /nowhere: disk full"
      ])
    })
  )
})
