// BusLive picks the backend from DecnetConfig (built from a map here, from env/INI in production):
// null, fake, unix against the real broker, nats against the real server, and a clear bad-type error.
import { randomBytes } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import { serveBroker } from "../../src/bus/Broker.js"
import { Bus } from "../../src/bus/Bus.js"
import { BusLive } from "../../src/bus/BusLive.js"
import { makeUnixBus } from "../../src/bus/UnixBus.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"

const natsUrl = process.env.DECNET_TEST_NATS_URL ?? "nats://127.0.0.1:4222"
const withEnv = (env: Record<string, string>) => Effect.provide(DecnetConfig.fromMap(env))

/** Subscribe, publish (retrying a few times: SUB has no ack), and return the first event, if any. */
const roundTrip = (topic: string) =>
  Effect.gen(function* () {
    const bus = yield* Bus
    const stream = yield* bus.subscribe(topic)
    const first = yield* Stream.runHead(stream).pipe(Effect.fork)
    yield* bus
      .publish(topic, { hello: "world" })
      .pipe(Effect.zipRight(Effect.sleep("30 millis")), Effect.repeat({ times: 5 }))
    return yield* first.await
  })

describe("BusLive selection", () => {
  it.scopedLive("DECNET_BUS_ENABLED=false → the null bus", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      expect(yield* bus.state).toBe("closed")
      yield* bus.publish("a.b", {})
      const got = yield* Effect.scoped(Effect.flatMap(bus.subscribe("a.>"), Stream.runCollect))
      expect(Chunk.size(got)).toBe(0)
    }).pipe(Effect.provide(BusLive()), withEnv({ DECNET_BUS_ENABLED: "FALSE", DECNET_BUS_TYPE: "nats" }))
  )

  it.scopedLive("DECNET_BUS_TYPE=fake → in-process (the publisher sees its own events)", () =>
    Effect.gen(function* () {
      const bus = yield* Bus
      expect(yield* bus.state).toBe("connected")
      const stream = yield* bus.subscribe("f.>")
      yield* bus.publish("f.x", { n: 1 })
      const got = yield* Stream.runHead(stream)
      expect(Option.map(got, (e) => e.payload)).toEqual(Option.some({ n: 1 }))
    }).pipe(Effect.provide(BusLive()), withEnv({ DECNET_BUS_TYPE: "fake" }))
  )

  it.scopedLive("unix (default) → the broker at DECNET_BUS_SOCKET; socketPath option wins", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "decnet-buslive-"))
      const path = join(dir, "bus.sock")
      yield* serveBroker({ socketPath: path, group: "", heartbeatSeconds: 0 })
      const viaEnv = yield* Effect.gen(function* () {
        const bus = yield* Bus
        const stream = yield* bus.subscribe("u.>")
        const first = yield* Stream.runHead(stream).pipe(Effect.fork)
        const other = yield* makeUnixBus({ socketPath: path })
        yield* other
          .publish("u.x", { via: "env" })
          .pipe(Effect.zipRight(Effect.sleep("30 millis")), Effect.repeat({ times: 5 }))
        return { state: yield* bus.state, first: yield* first.await }
      }).pipe(Effect.provide(BusLive({ clientName: "live-test" })), withEnv({ DECNET_BUS_SOCKET: path }))
      expect(viaEnv.state).toBe("connected")
      expect(viaEnv.first._tag === "Success" && Option.getOrUndefined(viaEnv.first.value)?.payload).toEqual({
        via: "env"
      })
      const state = yield* Effect.flatMap(Bus, (b) => b.state).pipe(
        Effect.provide(BusLive({ socketPath: path })),
        withEnv({ DECNET_BUS_TYPE: "unix", DECNET_BUS_SOCKET: join(dir, "nowhere.sock") })
      )
      expect(state).toBe("connected")
    })
  )

  it.scopedLive("DECNET_BUS_TYPE=nats → the NATS server at DECNET_BUS_URL", () =>
    Effect.gen(function* () {
      const topic = `t${randomBytes(6).toString("hex")}.live`
      const exit = yield* roundTrip(topic).pipe(
        Effect.provide(BusLive()),
        withEnv({ DECNET_BUS_TYPE: "NATS", DECNET_BUS_URL: natsUrl })
      )
      expect(exit._tag === "Success" && Option.getOrUndefined(exit.value)?.topic).toBe(topic)
    })
  )

  it.scopedLive("an unknown DECNET_BUS_TYPE is a ConfigError naming the key and the valid values", () =>
    Effect.gen(function* () {
      const err = yield* Layer.build(
        BusLive().pipe(Layer.provide(DecnetConfig.fromMap({ DECNET_BUS_TYPE: "kafka" })))
      ).pipe(Effect.flip)
      expect(err._tag).not.toBe("BusError")
      expect(String(err)).toContain("DECNET_BUS_TYPE")
      expect(String(err)).toContain("unix|nats|fake")
      expect(String(err)).toContain("kafka")
    })
  )
})

describe("bus settings keep NATS credentials out of sight", () => {
  it.effect("DECNET_BUS_URL is Redacted and connect errors mask the userinfo", () =>
    Effect.gen(function* () {
      const { withoutCredentials } = yield* Effect.promise(() => import("../../src/bus/NatsBus.js"))
      const { bus: settings } = yield* DecnetConfig.pipe(
        Effect.provide(DecnetConfig.fromMap({ DECNET_BUS_URL: "nats://svc:hunter2@127.0.0.1:4222" }))
      )
      const url = Option.getOrThrow(settings.url)
      expect(String(url)).not.toContain("hunter2")
      expect(JSON.stringify(settings)).not.toContain("hunter2")
      expect(withoutCredentials("nats://svc:hunter2@127.0.0.1:4222")).toBe("nats://***@127.0.0.1:4222")
      expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222")
    })
  )
})
