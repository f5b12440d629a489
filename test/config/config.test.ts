import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Option, Redacted } from "effect"
import fc from "fast-check"
import {
  DEFAULT_INI_PATH,
  DecnetConfig,
  decnetConfig,
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
        fc.constantFrom("[decnet]", "[agent]", "[api]", "[__proto__]", "[constructor]", "a=b", "[x.y]", "k[]=1"),
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
    expect(cfg.api).toEqual({ host: "127.0.0.1", port: 8000 })
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

  it("mode must be master or agent", () => {
    const r = load({ DECNET_MODE: "slave" })
    expect(Either.isLeft(r) && String(r.left).includes("DECNET_MODE: expected one of master|agent, got 'slave'")).toBe(
      true
    )
    expect(Either.getOrThrow(load({ DECNET_MODE: "AGENT" })).mode).toBe("agent")
  })

  it("enum checks for db and bus type", () => {
    const r = load({ DECNET_DB_TYPE: "postgres" })
    expect(Either.isLeft(r) && String(r.left).includes("DECNET_DB_TYPE")).toBe(true)
    expect(Either.getOrThrow(load({ DECNET_BUS_TYPE: "nats" })).bus.type).toBe("nats")
  })

  it("flags: developer needs literal true; bus only off on literal false", () => {
    const cfg = Either.getOrThrow(load({ DECNET_DEVELOPER: "TRUE", DECNET_BUS_ENABLED: "no" }))
    expect(cfg.developer).toBe(true)
    expect(cfg.bus.enabled).toBe(true)
    expect(Either.getOrThrow(load({ DECNET_BUS_ENABLED: "False" })).bus.enabled).toBe(false)
  })

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
    }).pipe(Effect.provide(DecnetConfig.layer), Effect.withConfigProvider(fromEnv({ DECNET_API_PORT: "1234" })))
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
