import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Either, Layer, Option, Redacted } from "effect"
import fc from "fast-check"
import {
  DEFAULT_INI_PATH,
  DecnetConfig,
  type DecnetSettings,
  decnetConfig,
  formatConfigError,
  iniPath,
  iniToEnv,
  layerFromFile,
  providerFromFile
} from "../../src/config/index.js"
import { NodeFileSystem } from "@effect/platform-node"

const fromEnv = (env: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(env)))

const load = (env: Record<string, string>) =>
  Effect.runSync(Effect.either(Effect.withConfigProvider(decnetConfig, fromEnv(env))))

const tmpIni = (text: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ini-"))
  const file = path.join(dir, "decnet.ini")
  fs.writeFileSync(file, text)
  return file
}

const SAMPLE = `
; host config
[decnet]
mode = agent            ; inline comment
disallow-master = false # another
log-directory = /var/log/decnet

[agent]
host-uuid = 1234-abcd
master-host = 10.0.0.1

[master]
ignored-key = yes

[api]
host = 127.0.0.2
port = 9000
bogus = 1

[database]
type = mysql
password = hunter2hunter2

[ingester]
batch-size = 50

[tracing]
enabled = true
otel-endpoint = http://127.0.0.1:4318
`

describe("iniToEnv", () => {
  it("maps [decnet], the mode section and domain sections", () => {
    const { env, warnings } = iniToEnv(SAMPLE)
    expect(env.get("DECNET_MODE")).toBe("agent")
    expect(env.get("DECNET_DISALLOW_MASTER")).toBe("false")
    expect(env.get("DECNET_LOG_DIRECTORY")).toBe("/var/log/decnet")
    expect(env.get("DECNET_HOST_UUID")).toBe("1234-abcd")
    expect(env.get("DECNET_MASTER_HOST")).toBe("10.0.0.1")
    expect(env.has("DECNET_IGNORED_KEY")).toBe(false)
    expect(env.get("DECNET_API_HOST")).toBe("127.0.0.2")
    expect(env.get("DECNET_API_PORT")).toBe("9000")
    expect(env.get("DECNET_DB_TYPE")).toBe("mysql")
    expect(env.get("DECNET_BATCH_SIZE")).toBe("50")
    expect(env.get("DECNET_DEVELOPER_TRACING")).toBe("true")
    expect(env.get("DECNET_OTEL_ENDPOINT")).toBe("http://127.0.0.1:4318")
    expect(env.has("DECNET_DB_PASSWORD")).toBe(false)
    expect(env.has("DECNET_BOGUS")).toBe(false)
    expect(warnings.some((w) => w.includes("[api] bogus"))).toBe(true)
    expect(warnings.some((w) => w.includes("[database] password"))).toBe(true)
  })

  it("an explicit mode picks the matching section", () => {
    const { env } = iniToEnv(SAMPLE, "master")
    expect(env.get("DECNET_IGNORED_KEY")).toBe("yes")
    expect(env.has("DECNET_HOST_UUID")).toBe(false)
  })

  it("refuses secrets even through the automatic [decnet] mapping", () => {
    const { env, warnings } = iniToEnv("[decnet]\njwt-secret = abc\nadmin-password = x\n")
    expect(env.size).toBe(0)
    expect(warnings).toHaveLength(2)
  })

  it("never throws on arbitrary input (property)", () => {
    const iniish = fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom(
          "[decnet]",
          "[agent]",
          "[api]",
          "[__proto__]",
          "[constructor]",
          "a=b",
          "[x.y]",
          "k[]=1"
        ),
        fc.tuple(fc.string(), fc.string()).map(([k, v]) => `${k} = ${v}`)
      ),
      { maxLength: 20 }
    )
    fc.assert(
      fc.property(iniish, fc.option(fc.string(), { nil: undefined }), (lines, mode) => {
        const { env } = iniToEnv(lines.join("\n"), mode)
        for (const [k, v] of env) {
          expect(k.startsWith("DECNET_")).toBe(true)
          expect(typeof v).toBe("string")
        }
      }),
      { numRuns: 10_000 }
    )
  })
})

describe("DecnetConfig", () => {
  it("defaults", () => {
    const cfg = Either.getOrThrow(load({}))
    expect(cfg.mode).toBe("master")
    expect(cfg.api).toEqual({
      host: "127.0.0.1",
      port: 8000,
      docs: true,
      limiterEnabled: true,
      sseMaxPerUser: 5,
      sseKeepaliveSeconds: 15,
      contractTest: false
    })
    expect(cfg.db.type).toBe("sqlite")
    expect(cfg.bus.enabled).toBe(true)
    expect(Option.isNone(cfg.bus.socket)).toBe(true)
    expect(cfg.developer).toBe(false)
    expect(Option.isNone(cfg.jwt.secret)).toBe(true)
  })

  it("a bad port names the key", () => {
    const result = load({ DECNET_API_PORT: "abc" })
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(String(result.left)).toContain("DECNET_API_PORT: expected an integer 1-65535, got 'abc'")
    }
    for (const bad of ["0", "65536", "-1", "80.5"]) {
      const r = load({ DECNET_WEB_PORT: bad })
      expect(Either.isLeft(r) && String(r.left).includes("DECNET_WEB_PORT")).toBe(true)
    }
  })

  it("the API's switches, the SSE cap, the SSE keepalive and the tarpit watcher's period", () => {
    const cfg = Either.getOrThrow(
      load({
        DECNET_API_DOCS: "false",
        DECNET_LIMITER_ENABLED: "off",
        DECNET_SSE_MAX_PER_USER: "2",
        DECNET_CONTRACT_TEST: "true"
      })
    )
    expect(cfg.api).toMatchObject({
      docs: false,
      limiterEnabled: false,
      sseMaxPerUser: 2,
      contractTest: true
    })
    const zero = load({ DECNET_SSE_MAX_PER_USER: "0" })
    expect(Either.isLeft(zero) && String(zero.left).includes("DECNET_SSE_MAX_PER_USER")).toBe(true)
    expect(Either.getOrThrow(load({ DECNET_SSE_KEEPALIVE_SECONDS: "0.25" })).api.sseKeepaliveSeconds).toBe(
      0.25
    )
    for (const bad of ["0", "-1", "abc"]) {
      const r = load({ DECNET_SSE_KEEPALIVE_SECONDS: bad })
      expect(Either.isLeft(r) && String(r.left).includes("DECNET_SSE_KEEPALIVE_SECONDS"), bad).toBe(true)
    }
    // The tarpit watcher's period: the same rule (a decimal above 0, 15 s by default).
    expect(Either.getOrThrow(load({})).tarpit.pollSeconds).toBe(15)
    expect(Either.getOrThrow(load({ DECNET_TARPIT_POLL_INTERVAL: "0.5" })).tarpit.pollSeconds).toBe(0.5)
    for (const bad of ["0", "-1", "soon"]) {
      const r = load({ DECNET_TARPIT_POLL_INTERVAL: bad })
      expect(Either.isLeft(r) && String(r.left).includes("DECNET_TARPIT_POLL_INTERVAL"), bad).toBe(true)
    }
    const typo = load({ DECNET_LIMITER_ENABLED: "nope" })
    expect(Either.isLeft(typo) && String(typo.left).includes("DECNET_LIMITER_ENABLED")).toBe(true)
  })

  it("mode must be master or agent", () => {
    const r = load({ DECNET_MODE: "slave" })
    expect(
      Either.isLeft(r) && String(r.left).includes("DECNET_MODE: expected one of master|agent, got 'slave'")
    ).toBe(true)
    expect(Either.getOrThrow(load({ DECNET_MODE: "AGENT" })).mode).toBe("agent")
  })

  it("enum checks for db and bus type", () => {
    const r = load({ DECNET_DB_TYPE: "postgres" })
    expect(Either.isLeft(r) && String(r.left).includes("DECNET_DB_TYPE")).toBe(true)
    expect(Either.getOrThrow(load({ DECNET_BUS_TYPE: "nats" })).bus.type).toBe("nats")
  })

  it("flags: one convention for every boolean (true|1|yes|on, false|0|no|off, empty = default)", () => {
    const flags: ReadonlyArray<readonly [string, (s: DecnetSettings) => boolean, boolean]> = [
      ["DECNET_DEVELOPER", (s) => s.developer, false],
      ["DECNET_DEVELOPER_TRACING", (s) => s.developerTracing, false],
      ["DECNET_TESTING", (s) => s.testing, false],
      ["DECNET_SYSTEM_SERVICE", (s) => s.system.service, false],
      ["DECNET_BUS_ENABLED", (s) => s.bus.enabled, true],
      ["DECNET_DISALLOW_MASTER", (s) => s.disallowMaster, true]
    ]
    for (const [name, read, fallback] of flags) {
      const value = (raw: string | undefined) =>
        read(Either.getOrThrow(load(raw === undefined ? {} : { [name]: raw })))
      expect(value(undefined), `${name} unset`).toBe(fallback)
      expect(value(""), `${name} empty`).toBe(fallback)
      expect(value("   "), `${name} blank`).toBe(fallback)
      for (const on of ["true", "TRUE", "1", "yes", "Yes", "on", " On "])
        expect(value(on), `${name}=${on}`).toBe(true)
      for (const off of ["false", "False", "0", "no", "NO", "off", " off "])
        expect(value(off), `${name}=${off}`).toBe(false)
      for (const bad of ["maybe", "2", "enabled", "t", "y"]) {
        const r = load({ [name]: bad })
        expect(Either.isLeft(r), `${name}=${bad}`).toBe(true)
        if (Either.isLeft(r)) {
          expect(formatConfigError(r.left)).toBe(
            `${name}: expected a boolean (true|1|yes|on or false|0|no|off), got '${bad}'`
          )
          expect(r.left.message.startsWith(name)).toBe(true)
        }
      }
    }
  })

  it("the variables the layers consume are all here, with their defaults", () => {
    const cfg = Either.getOrThrow(load({ HOME: "/home/u" }))
    expect(cfg.bcryptRounds).toBe(12)
    expect(cfg.testing).toBe(false)
    expect(cfg.system).toEqual({ service: false, invocationId: Option.none(), home: "/home/u" })
    expect(Option.isNone(cfg.bus.clientName)).toBe(true)
    expect(cfg.docker.host).toEqual({ _tag: "Unix", path: "/var/run/docker.sock" })
    expect(cfg.db).toMatchObject({
      type: "sqlite",
      host: "localhost",
      port: 3306,
      name: "decnet",
      user: "decnet"
    })
    expect(cfg.otelEndpoint).toBe("http://localhost:4318")
    const set = Either.getOrThrow(
      load({
        DECNET_BCRYPT_ROUNDS: "4",
        INVOCATION_ID: "abc",
        DECNET_BUS_CLIENT_NAME: "worker-1",
        DOCKER_HOST: "tcp://127.0.0.1:2375"
      })
    )
    expect(set.bcryptRounds).toBe(4)
    expect(set.system.invocationId).toEqual(Option.some("abc"))
    expect(set.bus.clientName).toEqual(Option.some("worker-1"))
    expect(set.docker.host).toEqual({ _tag: "Tcp", host: "127.0.0.1", port: 2375 })
    for (const [name, bad, expected] of [
      ["DECNET_BCRYPT_ROUNDS", "3", "an integer 4-31"],
      ["DECNET_DB_PORT", "99999", "an integer 1-65535"],
      ["DECNET_HONEYPOT_MAX_CONN", "0", `an integer 1-${Number.MAX_SAFE_INTEGER}`]
    ] as const) {
      const r = load({ [name]: bad })
      expect(Either.isLeft(r) && formatConfigError(r.left)).toBe(
        `${name}: expected ${expected}, got '${bad}'`
      )
    }
  })

  it("honeypot limits and the decky's own environment", () => {
    const cfg = Either.getOrThrow(
      load({ DECNET_HONEYPOT_MAX_LINE_BYTES: "4096", NODE_NAME: "web-1", HOSTNAME: "" })
    )
    expect(cfg.honeypot.maxLineBytes).toBe(4096)
    expect(cfg.honeypot.maxConnections).toBe(1024)
    expect(cfg.decky).toEqual({
      nodeName: Option.some("web-1"),
      hostname: Option.none(),
      instanceId: Option.none()
    })
    expect(cfg.artifactsRoot).toBe("/var/lib/decnet/artifacts")
  })

  it.effect("DecnetConfig.fromMap builds the tag from a record or pairs, ignoring the real environment", () =>
    Effect.gen(function* () {
      const fromRecord = yield* Effect.provide(DecnetConfig, DecnetConfig.fromMap({ DECNET_MODE: "Agent" }))
      const fromPairs = yield* Effect.provide(DecnetConfig, DecnetConfig.fromMap([["DECNET_API_PORT", "9"]]))
      expect(fromRecord.mode).toBe("agent")
      expect(fromPairs.api.port).toBe(9)
      const bad = yield* Effect.flip(
        Effect.provide(DecnetConfig, DecnetConfig.fromMap({ DECNET_MODE: "slave" }))
      )
      expect(formatConfigError(bad)).toBe("DECNET_MODE: expected one of master|agent, got 'slave'")
    })
  )

  it("secrets are Redacted", () => {
    const secret = "s3cr3t-value-that-must-not-leak-0123456789"
    const cfg = Either.getOrThrow(load({ DECNET_JWT_SECRET: secret, DECNET_DB_PASSWORD: secret }))
    const jwt = Option.getOrThrow(cfg.jwt.secret)
    expect(String(jwt)).not.toContain(secret)
    expect(JSON.stringify(cfg)).not.toContain(secret)
    expect(Redacted.value(jwt)).toBe(secret)
  })

  it.effect("the DecnetConfig layer resolves from the ambient provider", () =>
    Effect.gen(function* () {
      const cfg = yield* DecnetConfig
      expect(cfg.api.port).toBe(1234)
    }).pipe(
      Effect.provide(DecnetConfig.layer),
      Effect.withConfigProvider(fromEnv({ DECNET_API_PORT: "1234" }))
    )
  )
})

describe("INI file on disk", () => {
  it.effect("env wins over INI; INI fills the gaps; mode from env picks the section", () =>
    Effect.gen(function* () {
      const file = tmpIni(SAMPLE)
      const env = fromEnv({ DECNET_API_PORT: "7000", DECNET_MODE: "master" })
      const cfg = yield* Effect.provide(
        DecnetConfig,
        DecnetConfig.layer.pipe(Layer.provide(layerFromFile(file, env)))
      )
      expect(cfg.api.port).toBe(7000)
      expect(cfg.api.host).toBe("127.0.0.2")
      expect(cfg.mode).toBe("master")
      expect(cfg.db.type).toBe("mysql")
      expect(cfg.ingester.batchSize).toBe(50)
      expect(cfg.developerTracing).toBe(true)
      expect(Option.isNone(cfg.db.password)).toBe(true)
    })
  )

  it.effect("a bad value in the INI fails naming the key", () =>
    Effect.gen(function* () {
      const file = tmpIni("[api]\nport = http\n")
      const result = yield* Effect.either(
        Effect.provide(DecnetConfig, DecnetConfig.layer.pipe(Layer.provide(layerFromFile(file, fromEnv({})))))
      )
      expect(Either.isLeft(result) && String(result.left).includes("DECNET_API_PORT")).toBe(true)
    })
  )

  it.effect("DECNET_CONFIG chooses the file; default /etc/decnet/decnet.ini", () =>
    Effect.gen(function* () {
      expect(yield* iniPath(fromEnv({}))).toBe(DEFAULT_INI_PATH)
      expect(DEFAULT_INI_PATH).toBe("/etc/decnet/decnet.ini")
      expect(yield* iniPath(fromEnv({ DECNET_CONFIG: "/tmp/x.ini" }))).toBe("/tmp/x.ini")
    })
  )

  it.effect("a missing file is fine", () =>
    Effect.gen(function* () {
      const provider = yield* providerFromFile("/nonexistent/decnet.ini", fromEnv({ DECNET_API_PORT: "1" }))
      const cfg = yield* Effect.withConfigProvider(decnetConfig, provider)
      expect(cfg.api.port).toBe(1)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )

  it.effect("an unreadable file is a clear IniFileError", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-ini-"))
      // A directory at the path: exists, but reading it fails (works as root, unlike chmod 000).
      const result = yield* Effect.either(providerFromFile(dir, fromEnv({})))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("IniFileError")
        expect(result.left.message).toContain(dir)
      }
      const bin = path.join(dir, "bin.ini")
      fs.writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0xc3]))
      const bad = yield* Effect.either(providerFromFile(bin, fromEnv({})))
      expect(Either.isLeft(bad) && bad.left.reason.includes("UTF-8")).toBe(true)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )
})

// A value means one thing wherever it is consumed: each layer takes it from DecnetConfig, so a bad value is
// DecnetConfig's error verbatim and a good one is read the same by the gate, the DB, the bus, tracing, Docker.
describe("every consumer gives the same answer", () => {
  const configError = (env: Record<string, string>) =>
    Effect.flip(Effect.provide(DecnetConfig, DecnetConfig.fromMap(env))).pipe(Effect.map(formatConfigError))
  const layerError = <A, E>(layer: Layer.Layer<A, E, DecnetConfig>, env: Record<string, string>) =>
    Effect.flip(Effect.scoped(Layer.build(layer.pipe(Layer.provide(DecnetConfig.fromMap(env))))))

  it.effect("DECNET_MODE=Agent: agent for DecnetConfig and for the CLI gate", () =>
    Effect.gen(function* () {
      const { readGating, masterBlocked } = yield* Effect.promise(() => import("../../src/cli/mode.js"))
      const env = DecnetConfig.fromMap({ DECNET_MODE: "Agent", DECNET_DISALLOW_MASTER: "YES" })
      const cfg = yield* Effect.provide(DecnetConfig, env)
      const gating = yield* Effect.provide(readGating, env)
      expect(cfg.mode).toBe("agent")
      expect(gating).toEqual({ mode: cfg.mode, disallowMaster: cfg.disallowMaster })
      expect(masterBlocked(gating)).toBe(true)
    })
  )

  it.effect("DECNET_DB_PORT=99999 fails DbLive with DecnetConfig's own message", () =>
    Effect.gen(function* () {
      const { DbLive } = yield* Effect.promise(() => import("../../src/db/Client.js"))
      const env = { DECNET_DB_TYPE: "mysql", DECNET_DB_PORT: "99999" }
      const expected = yield* configError(env)
      expect(expected).toBe("DECNET_DB_PORT: expected an integer 1-65535, got '99999'")
      const viaDb = yield* layerError(DbLive, env)
      expect(ConfigError.isConfigError(viaDb) && formatConfigError(viaDb)).toBe(expected)
    })
  )

  it.effect(
    "DECNET_BUS_ENABLED=off disables BusLive and the app bus alike; a bad word fails both alike",
    () =>
      Effect.gen(function* () {
        const { BusLive } = yield* Effect.promise(() => import("../../src/bus/BusLive.js"))
        const { AppBus, AppBusFromConfig } = yield* Effect.promise(() => import("../../src/bus/AppBus.js"))
        const { Bus } = yield* Effect.promise(() => import("../../src/bus/Bus.js"))
        const off = DecnetConfig.fromMap({ DECNET_BUS_ENABLED: "off", DECNET_BUS_TYPE: "nats" })
        const state = yield* Effect.scoped(
          Effect.flatMap(Bus, (b) => b.state).pipe(Effect.provide(BusLive().pipe(Layer.provide(off))))
        )
        const up = yield* Effect.scoped(
          Effect.flatMap(AppBus, (a) => a.connected).pipe(
            Effect.provide(AppBusFromConfig().pipe(Layer.provide(off)))
          )
        )
        expect(state).toBe("closed")
        expect(up).toBe(false)
        const env = { DECNET_BUS_ENABLED: "nope" }
        const expected = yield* configError(env)
        for (const e of [yield* layerError(BusLive(), env), yield* layerError(AppBusFromConfig(), env)])
          expect(ConfigError.isConfigError(e) && formatConfigError(e)).toBe(expected)
      })
  )

  it.effect("DOCKER_HOST=ssh://… fails the Docker layer with DecnetConfig's message", () =>
    Effect.gen(function* () {
      const { DockerLive } = yield* Effect.promise(() => import("../../src/docker/DockerLive.js"))
      const env = { DOCKER_HOST: "ssh://me@host" }
      const expected = yield* configError(env)
      expect(expected).toContain("DOCKER_HOST: expected unix:///path/to/docker.sock or tcp://host:port")
      const e = yield* layerError(DockerLive, env)
      expect(ConfigError.isConfigError(e) && formatConfigError(e)).toBe(expected)
    })
  )

  it.effect("DECNET_DEVELOPER_TRACING=On turns tracing on; a bad word fails it like the rest", () =>
    Effect.gen(function* () {
      const { TracingLive } = yield* Effect.promise(() => import("../../src/tracing/Tracing.js"))
      const native = yield* Effect.tracer
      const on = yield* Effect.tracer.pipe(
        Effect.provide(
          TracingLive.pipe(
            Layer.provide(
              DecnetConfig.fromMap({
                DECNET_DEVELOPER_TRACING: "On",
                DECNET_OTEL_ENDPOINT: "http://127.0.0.1:9"
              })
            )
          )
        )
      )
      expect(on).not.toBe(native)
      const env = { DECNET_DEVELOPER_TRACING: "sometimes" }
      const e = yield* layerError(TracingLive, env)
      expect(ConfigError.isConfigError(e) && formatConfigError(e)).toBe(yield* configError(env))
    })
  )
})
