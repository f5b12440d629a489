// The in-process runtime: deckies on their own loopback addresses, offset ports without root, a port
// another program holds skipped (with a warning naming decky, service and port), a mutation swapping a
// decky's services, and `down` leaving nothing listening.
import { mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import { InProcessRuntime, portCandidates } from "../../src/fleet/InProcess.js"
import { Decky, Deployment } from "../../src/fleet/Model.js"
import { DeckyRuntime } from "../../src/fleet/Runtime.js"
import { EventSinkMemory } from "../../src/honeypots/runtime/index.js"
import { events, run } from "../honeypots/support.js"

const artifacts = mkdtempSync(join(tmpdir(), "decnet-inprocess-"))
afterAll(() => rmSync(artifacts, { recursive: true, force: true }))

const decky = (name: string, ip: string, services: ReadonlyArray<"redis" | "http" | "ftp">) =>
  new Decky({
    name,
    ip,
    services: [services[0] ?? "redis", ...services.slice(1)],
    distro: "debian",
    base_image: "debian:bookworm-slim",
    build_base: "debian",
    hostname: name,
    archetype: null,
    service_config: { redis: { reply_delay_ms: [0, 0] } },
    nmap_os: "linux",
    mutate_interval: null,
    last_mutated: 0,
    last_login_attempt: 0,
    host_uuid: null
  })

const deployment = (...deckies: ReadonlyArray<Decky>) =>
  new Deployment({
    mode: "unihost",
    runtime: "inprocess",
    interface: "lo",
    subnet: "127.77.0.0/24",
    gateway: "127.77.0.1",
    deckies: [deckies[0] ?? decky("x", "127.77.0.9", ["redis"]), ...deckies.slice(1)],
    log_file: null,
    ipvlan: false,
    mutate_interval: null
  })

const TestLayer = InProcessRuntime({ privileged: false }).pipe(
  Layer.provideMerge(EventSinkMemory),
  Layer.provideMerge(DecnetConfig.fromMap({ DECNET_ARTIFACTS_ROOT: artifacts }))
)

/** A plain TCP server holding `host:port` for the test's scope. */
const holdPort = (host: string, port: number) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<net.Server>((resolve) => {
          const s = net.createServer()
          s.listen(port, host, () => resolve(s))
        })
    ),
    (s) => Effect.promise(() => new Promise<void>((r) => s.close(() => r())))
  )

const canConnect = (host: string, port: number) =>
  Effect.promise(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, host)
        s.once("connect", () => {
          s.destroy()
          resolve(true)
        })
        s.once("error", () => resolve(false))
      })
  )

describe("InProcessRuntime", () => {
  it("offsets well-known ports by 10,000 without root, and falls back further, then to any port", () => {
    expect(portCandidates(22, false)).toEqual([10022, 20022, 30022, 40022, 50022, 0])
    expect(portCandidates(27017, true)).toEqual([27017, 37017, 47017, 57017, 0])
  })

  it.scopedLive("runs two deckies on their own loopback addresses; each answers real clients", () =>
    Effect.gen(function* () {
      const runtime = yield* DeckyRuntime
      const a = decky("decky-a", "127.77.0.11", ["redis", "http"])
      const b = decky("decky-b", "127.77.0.12", ["redis"])
      const portsA = yield* runtime.up(a, deployment(a, b))
      const portsB = yield* runtime.up(b, deployment(a, b))
      expect(portsA.map((p) => [p.service, p.host, p.port])).toEqual([
        ["redis", "127.77.0.11", 16379],
        ["http", "127.77.0.11", 10080]
      ])
      expect(portsB).toEqual([
        { service: "redis", proto: "tcp", known: 6379, host: "127.77.0.12", port: 16379 }
      ])
      const r = yield* run("redis-cli", ["-h", "127.77.0.12", "-p", "16379", "PING"])
      expect(r.stdout.trim()).toBe("PONG")
      const status = yield* runtime.status
      expect(status.map((s) => [s.name, s.state])).toEqual([
        ["decky-a", "running"],
        ["decky-b", "running"]
      ])
      const seen = yield* events
      expect(seen.filter((e) => e.type === "startup").map((e) => e.raw.split(" ")[2])).toEqual([
        "decky-a",
        "decky-a",
        "decky-b"
      ])
    }).pipe(Effect.provide(TestLayer))
  )

  it.scopedLive("a port another program holds is skipped with a warning naming decky, service and port", () =>
    Effect.gen(function* () {
      yield* holdPort("127.77.0.21", 16379)
      const logged: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logged.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      const runtime = yield* DeckyRuntime
      const d = decky("decky-busy", "127.77.0.21", ["redis"])
      const ports = yield* runtime
        .up(d, deployment(d))
        .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(ports[0]?.port).toBe(26379)
      expect(
        logged.some((l) => /decky-busy: redis cannot use port 16379 \(another program holds it\)/.test(l))
      ).toBe(true)
      expect((yield* run("redis-cli", ["-h", "127.77.0.21", "-p", "26379", "PING"])).stdout.trim()).toBe(
        "PONG"
      )
    }).pipe(Effect.provide(TestLayer))
  )

  it.scopedLive("a decky whose start fails is reported failed with the reason until it runs or goes", () =>
    Effect.gen(function* () {
      const runtime = yield* DeckyRuntime
      // ftp's passive range with min > max: nothing could ever bind, so the start fails (not a busy port).
      const broken = new Decky({
        ...decky("decky-f", "127.77.0.41", ["ftp"]),
        service_config: { ftp: { pasv_min_port: 40010, pasv_max_port: 40000 } }
      })
      const failed = yield* Effect.either(runtime.up(broken, deployment(broken)))
      expect(failed._tag).toBe("Left")
      const [status] = yield* runtime.status
      expect(status?.name).toBe("decky-f")
      expect(status?.state).toBe("failed")
      expect(status?.error).toMatch(/^decky-f: /)
      expect(status?.services).toEqual([{ service: "ftp", state: "stopped" }])
      // Fixed and started again: running, the failure forgotten.
      const fixed = decky("decky-f", "127.77.0.41", ["ftp"])
      yield* runtime.up(fixed, deployment(fixed))
      expect((yield* runtime.status).map((s) => [s.name, s.state])).toEqual([["decky-f", "running"]])
      yield* runtime.down("decky-f")
      // A failed decky that is taken down is no longer reported.
      yield* Effect.either(runtime.up(broken, deployment(broken)))
      yield* runtime.down("decky-f")
      expect(yield* runtime.status).toEqual([])
    }).pipe(Effect.provide(TestLayer))
  )

  it.scopedLive("a mutation swaps the services; down leaves nothing listening", () =>
    Effect.gen(function* () {
      const runtime = yield* DeckyRuntime
      const d = decky("decky-m", "127.77.0.31", ["redis"])
      yield* runtime.up(d, deployment(d))
      expect(yield* canConnect("127.77.0.31", 16379)).toBe(true)
      const mutated = decky("decky-m", "127.77.0.31", ["ftp"])
      const ports = yield* runtime.up(mutated, deployment(mutated))
      expect(ports.map((p) => p.service)).toEqual(["ftp"])
      expect(yield* canConnect("127.77.0.31", 16379)).toBe(false)
      expect(yield* canConnect("127.77.0.31", 10021)).toBe(true)
      yield* runtime.down("decky-m")
      expect(yield* canConnect("127.77.0.31", 10021)).toBe(false)
      expect(yield* runtime.status).toEqual([])
    }).pipe(Effect.provide(TestLayer))
  )
})
