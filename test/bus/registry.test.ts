import { mkdtempSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Exit, Layer, Ref, Schedule, Schema, Scope, TestClock } from "effect"
import { AppBus, makeAppBus } from "../../src/bus/AppBus.js"
import { serveBroker } from "../../src/bus/Broker.js"
import { Bus, BusError } from "../../src/bus/Bus.js"
import { makeFakeBus } from "../../src/bus/FakeBus.js"
import { runHealthHeartbeat } from "../../src/bus/Heartbeat.js"
import { publishSafely } from "../../src/bus/Helpers.js"
import {
  KNOWN_WORKERS,
  WorkerRegistry,
  WorkerRegistryFromBus,
  WorkerRegistryLive,
  WorkerRow
} from "../../src/bus/Registry.js"
import { makeUnixBus } from "../../src/bus/UnixBus.js"
import { Decoder, encodeFrame, eventFromBody, parseBody } from "../../src/bus/Wire.js"

const settle = Effect.repeatN(Effect.yieldNow(), 20)
const row = (rows: ReadonlyArray<WorkerRow>, name: string) => rows.find((r) => r.name === name)

describe("WorkerRegistry", () => {
  it.scoped("never heard → unknown rows in display order, valid against the row schema", () =>
    Effect.gen(function* () {
      const registry = yield* WorkerRegistry
      const rows = yield* registry.snapshot
      expect(rows.map((r) => r.name)).toEqual([...KNOWN_WORKERS])
      expect(rows[0]!.name).toBe("api")
      expect(rows.at(-1)!.name).toBe("updater")
      for (const r of rows)
        expect(r).toEqual({
          name: r.name,
          status: "unknown",
          last_heartbeat_ts: null,
          seconds_since: null,
          extra: {}
        })
      expect(Schema.decodeUnknownSync(Schema.Array(WorkerRow))(rows)).toEqual(rows)
    }).pipe(Effect.provide(WorkerRegistry.Default))
  )

  it.scoped("a heartbeat is ok until 90 s of silence, then stale; extra drops worker and ts", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const ctx = yield* Layer.build(WorkerRegistryFromBus.pipe(Layer.provide(Layer.succeed(Bus, bus))))
      const registry = yield* Effect.provide(WorkerRegistry, ctx)
      yield* settle
      yield* TestClock.adjust("100 seconds")
      const beat = yield* Scope.make()
      yield* runHealthHeartbeat("profiler", () => ({ queue: 3 })).pipe(
        Effect.provideService(Bus, bus),
        Scope.extend(beat)
      )
      yield* settle
      let p = row(yield* registry.snapshot, "profiler")
      expect(p).toEqual({
        name: "profiler",
        status: "ok",
        last_heartbeat_ts: 100,
        seconds_since: 0,
        extra: { queue: 3 }
      })
      // The next beat at 130 s refreshes it; then the worker dies.
      yield* TestClock.adjust("30 seconds")
      yield* settle
      yield* Scope.close(beat, Exit.void)
      expect(row(yield* registry.snapshot, "profiler")?.last_heartbeat_ts).toBe(130)
      yield* TestClock.adjust("89 seconds")
      p = row(yield* registry.snapshot, "profiler")
      expect(p?.status).toBe("ok")
      expect(p?.seconds_since).toBe(89)
      yield* TestClock.adjust("1 second")
      p = row(yield* registry.snapshot, "profiler")
      expect(p?.status).toBe("stale")
      expect(p?.seconds_since).toBe(90)
      yield* TestClock.adjust("1 hour")
      expect(row(yield* registry.snapshot, "profiler")?.status).toBe("stale")
      expect(row(yield* registry.snapshot, "mutator")?.status).toBe("unknown")
    })
  )

  it.scoped("the bus's own heartbeat (no worker field) shows pid/uptime as extra", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const ctx = yield* Layer.build(WorkerRegistryFromBus.pipe(Layer.provide(Layer.succeed(Bus, bus))))
      const registry = yield* Effect.provide(WorkerRegistry, ctx)
      yield* settle
      yield* TestClock.adjust("50 seconds")
      yield* bus.publish("system.bus.health", { pid: 4242, uptime_s: 12.5, ts: 45 }, "bus.health")
      yield* settle
      expect(row(yield* registry.snapshot, "bus")).toEqual({
        name: "bus",
        status: "ok",
        last_heartbeat_ts: 45,
        seconds_since: 5,
        extra: { pid: 4242, uptime_s: 12.5 }
      })
    })
  )

  it.scoped("unknown names, other topics and odd payloads", () =>
    Effect.gen(function* () {
      const bus = yield* makeFakeBus()
      const ctx = yield* Layer.build(WorkerRegistryFromBus.pipe(Layer.provide(Layer.succeed(Bus, bus))))
      const registry = yield* Effect.provide(WorkerRegistry, ctx)
      yield* settle
      yield* TestClock.adjust("1000 seconds")
      yield* bus.publish("system.evil.health", { worker: "evil", ts: 1000 })
      yield* bus.publish("system.Profiler.health", { ts: 1000 })
      yield* bus.publish("system.mutator.control", { ts: 1000 })
      yield* bus.publish("system.ttp.health.extra", { ts: 1000 })
      // Missing or non-numeric ts → now; a ts in the future never gives negative seconds.
      yield* bus.publish("system.enrich.health", { worker: "enrich" })
      yield* bus.publish("system.ttp.health", { ts: "yesterday" })
      yield* bus.publish("system.webhook.health", { ts: 5000 })
      yield* settle
      const rows = yield* registry.snapshot
      expect(rows).toHaveLength(KNOWN_WORKERS.length)
      expect(rows.map((r) => r.name)).not.toContain("evil")
      expect(row(rows, "mutator")?.status).toBe("unknown")
      expect(row(rows, "profiler")?.status).toBe("unknown")
      expect(row(rows, "enrich")).toMatchObject({
        status: "ok",
        last_heartbeat_ts: 1000,
        seconds_since: 0,
        extra: {}
      })
      expect(row(rows, "ttp")).toMatchObject({ status: "ok", last_heartbeat_ts: 1000 })
      expect(row(rows, "webhook")).toMatchObject({ status: "ok", last_heartbeat_ts: 5000, seconds_since: 0 })
      // record() filters on the topic itself, not only through the subscription pattern.
      yield* registry.record({
        v: 1,
        id: "x",
        topic: "system.a.sniffer.health",
        type: "",
        ts: 0,
        payload: {}
      })
      yield* registry.record({ v: 1, id: "x", topic: "other.sniffer.health", type: "", ts: 0, payload: {} })
      expect(row(yield* registry.snapshot, "sniffer")?.status).toBe("unknown")
    })
  )

  it.scoped("in the API it follows the app bus and starts recording once the bus comes up", () =>
    Effect.gen(function* () {
      const hub = yield* makeFakeBus()
      const up = yield* Ref.make(false)
      const app = yield* makeAppBus(
        Effect.flatMap(Ref.get(up), (u) =>
          u ? Effect.succeed(hub) : new BusError({ op: "connect", message: "down" })
        )
      )
      const ctx = yield* Layer.build(WorkerRegistryLive.pipe(Layer.provide(Layer.succeed(AppBus, app))))
      const registry = yield* Effect.provide(WorkerRegistry, ctx)
      yield* settle
      yield* hub.publish("system.agent.health", { ts: 0 })
      expect(row(yield* registry.snapshot, "agent")?.status).toBe("unknown")
      yield* Ref.set(up, true)
      yield* TestClock.adjust("2 seconds")
      yield* settle
      yield* hub.publish("system.agent.health", { ts: 2 })
      yield* settle
      expect(row(yield* registry.snapshot, "agent")).toMatchObject({ status: "ok", last_heartbeat_ts: 2 })
    })
  )
})

describe("WorkerRegistry against the real broker heartbeat", () => {
  it.scopedLive("system.bus.health from serveBroker lands on the bus row with its pid", () =>
    Effect.gen(function* () {
      const path = join(mkdtempSync(join(tmpdir(), "decnet-reg-")), "bus.sock")
      yield* serveBroker({ socketPath: path, group: "", heartbeatSeconds: 0.2 })
      const registry = yield* WorkerRegistry
      // A raw wire client: SUB system.*.health, then hand each EVT to the registry.
      const body = yield* Effect.async<Uint8Array>((resume) => {
        const s = connect(path, () => {
          s.write(Either.getOrThrow(encodeFrame("HELLO", "registry-test")))
          s.write(Either.getOrThrow(encodeFrame("SUB", "system.*.health")))
        })
        const d = new Decoder()
        s.on("data", (chunk) => {
          const frames = Either.getOrThrow(d.push(chunk))
          const evt = frames.find((f) => f.verb === "EVT" && f.args === "system.bus.health")
          if (evt !== undefined) {
            s.destroy()
            resume(Effect.succeed(evt.body))
          }
        })
        return Effect.sync(() => s.destroy())
      })
      const event = eventFromBody("system.bus.health", Either.getOrThrow(parseBody(body)))
      yield* registry.record(event)
      const bus = row(yield* registry.snapshot, "bus")
      expect(bus?.status).toBe("ok")
      expect(bus?.extra.pid).toBe(process.pid)
      expect(Object.keys(bus?.extra ?? {})).not.toContain("ts")
      expect(Object.keys(bus?.extra ?? {}).some((k) => k.startsWith("uptime"))).toBe(true)
    }).pipe(Effect.provide(WorkerRegistry.Default))
  )
})

describe("WorkerRegistry over UnixBus", () => {
  it.scopedLive("workers' heartbeats and the broker's reach the registry through the real broker", () =>
    Effect.gen(function* () {
      const path = join(mkdtempSync(join(tmpdir(), "decnet-reg-")), "bus.sock")
      yield* serveBroker({ socketPath: path, group: "", heartbeatSeconds: 0.1 })
      const apiBus = yield* makeUnixBus({ socketPath: path, name: "api" })
      const workerBus = yield* makeUnixBus({ socketPath: path, name: "clusterer" })
      const ctx = yield* Layer.build(WorkerRegistryFromBus.pipe(Layer.provide(Layer.succeed(Bus, apiBus))))
      const registry = Context.get(ctx, WorkerRegistry)
      yield* runHealthHeartbeat("clusterer", () => ({ identities: 7 })).pipe(
        Effect.provideService(Bus, workerBus),
        // The first beat may race the registry's SUB; beat faster than 30 s here.
        Effect.zipRight(
          publishSafely("system.clusterer.health", {
            worker: "clusterer",
            ts: Date.now() / 1000,
            identities: 7
          }).pipe(
            Effect.provideService(Bus, workerBus),
            Effect.repeat(Schedule.spaced("50 millis")),
            Effect.forkScoped
          )
        )
      )
      const rows = yield* registry.snapshot.pipe(
        Effect.delay("50 millis"),
        Effect.repeat({
          until: (rs) => rs.every((r) => (r.name !== "bus" && r.name !== "clusterer") || r.status === "ok")
        }),
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "no heartbeats reached the registry" })
      )
      expect(row(rows, "clusterer")).toMatchObject({ status: "ok", extra: { identities: 7 } })
      expect(row(rows, "bus")?.extra).toMatchObject({ pid: process.pid })
      expect(row(rows, "api")?.status).toBe("unknown")
    })
  )
})
