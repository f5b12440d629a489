import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { planServices, startDecky } from "../../src/honeypots/Decky.js"
import {
  HONEYPOT_SLUGS,
  isHoneypotSlug,
  loadAllHoneypots,
  loadHoneypot,
  loadHoneypots,
  UnknownHoneypot
} from "../../src/honeypots/Registry.js"
import { EventSinkMemory, HoneypotContextLive, MemorySink } from "../../src/honeypots/runtime/index.js"
import { parseRfc5424 } from "../../src/logging/Parser.js"
import { spawnAsync } from "../support/spawn.js"
import { run } from "./support.js"

const SERVICES = [
  "ssh",
  "telnet",
  "http",
  "https",
  "ftp",
  "smtp",
  "smtp_relay",
  "imap",
  "pop3",
  "redis",
  "mysql",
  "postgres",
  "mssql",
  "mongodb",
  "ldap",
  "smb",
  "rdp",
  "vnc"
]

describe("honeypot registry", () => {
  it("lists exactly the 17 service modules plus the smtp_relay mode", () => {
    expect([...HONEYPOT_SLUGS].sort()).toEqual([...SERVICES].sort())
  })

  it.effect("every slug loads a module whose slug, ports and description are set", () =>
    Effect.gen(function* () {
      for (const slug of HONEYPOT_SLUGS) {
        const module = yield* loadHoneypot(slug)
        expect(module.slug).toBe(slug)
        expect(module.ports.tcp.length + module.ports.udp.length).toBeGreaterThan(0)
        expect(module.description.length).toBeGreaterThan(10)
      }
      const all = yield* loadAllHoneypots
      expect(all.map((m) => m.slug)).toEqual([...HONEYPOT_SLUGS])
    })
  )

  it.effect("smtp_relay is the smtp template in open-relay mode under its own slug", () =>
    Effect.gen(function* () {
      const [smtp, relay] = yield* loadHoneypots(["smtp", "smtp_relay"])
      expect(relay?.slug).toBe("smtp_relay")
      expect(relay?.ports).toEqual(smtp?.ports)
      expect(relay).not.toBe(smtp)
    })
  )

  it.effect("an unknown slug fails with UnknownHoneypot listing every valid slug", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(loadHoneypot("telnetd"))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(loadHoneypot("telnetd"))
      expect(error).toBeInstanceOf(UnknownHoneypot)
      expect(error._tag).toBe("UnknownHoneypot")
      expect(error.slug).toBe("telnetd")
      for (const slug of SERVICES) expect(error.message).toContain(slug)
      expect(error.message).toMatch(/^unknown honeypot service 'telnetd'\. Valid services: ssh, telnet, /)
      expect(isHoneypotSlug("redis")).toBe(true)
      expect(isHoneypotSlug("telnetd")).toBe(false)
    })
  )

  it.effect("loadHoneypots fails on the first unknown slug in a list", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(loadHoneypots(["redis", "ssh", "bogus", "also-bogus"]))
      expect(error.slug).toBe("bogus")
    })
  )

  it("loading redis does not load ssh2; loading ssh does", async () => {
    // A fresh process, so nothing else has imported ssh2 yet. ssh2 is CommonJS, so it shows in require.cache.
    const script = `
      import { createRequire } from "node:module"
      import { Effect } from "effect"
      import { loadHoneypot } from "./src/honeypots/Registry.js"
      const cache = createRequire(import.meta.url).cache
      const ssh2 = () => Object.keys(cache).some((k) => k.includes("/node_modules/ssh2/"))
      const before = ssh2()
      await Effect.runPromise(loadHoneypot("redis"))
      const afterRedis = ssh2()
      await Effect.runPromise(loadHoneypot("ssh"))
      console.log(JSON.stringify({ before, afterRedis, afterSsh: ssh2() }))
    `
    const r = await spawnAsync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      timeout: 60_000
    })
    expect(r.stderr).toBe("")
    expect(JSON.parse(r.stdout)).toEqual({ before: false, afterRedis: false, afterSsh: true })
  })
})

describe("startDecky from the registry", () => {
  const Layer_ = HoneypotContextLive({ decky: "decky-reg" }).pipe(Layer.provideMerge(EventSinkMemory))

  it.scoped("runs redis and http in one scope on ephemeral ports, driven by redis-cli and curl", () =>
    Effect.gen(function* () {
      const services = yield* planServices(["redis", "http"], { redis: { reply_delay_ms: [0, 0] } })
      const running = yield* startDecky({ host: "127.0.0.1", services, port: () => 0 })
      expect(running.map((r) => r.slug)).toEqual(["redis", "http"])
      const redisPort = running[0]?.listeners[0]?.port ?? 0
      const httpPort = running[1]?.listeners[0]?.port ?? 0
      expect(redisPort).toBeGreaterThan(0)
      expect(running[0]?.listeners[0]?.defaultPort).toBe(6379)

      const r = yield* run("redis-cli", [
        "-h",
        "127.0.0.1",
        "-p",
        String(redisPort),
        "AUTH",
        "alice",
        "s3cret"
      ])
      expect(r.stdout).toContain("no password is set")
      const c = yield* run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `http://127.0.0.1:${httpPort}/`
      ])
      expect(c.stdout).toMatch(/^\d{3}$/)

      const sink = yield* MemorySink
      let parsed = (yield* sink.lines).map(parseRfc5424)
      for (
        let i = 0;
        i < 100 && !parsed.some((e) => e?.service === "http" && e.event_type === "request");
        i++
      ) {
        yield* Effect.sleep("50 millis")
        parsed = (yield* sink.lines).map(parseRfc5424)
      }
      const auth = parsed.find((e) => e?.event_type === "auth")
      expect(auth?.decky).toBe("decky-reg")
      expect(auth?.service).toBe("redis")
      expect(auth?.fields.principal).toBe("alice")
      expect(auth?.fields.secret_printable).toBe("s3cret")
      expect(parsed.filter((e) => e?.event_type === "startup").map((e) => e?.service)).toEqual([
        "redis",
        "http"
      ])
      expect(parsed.some((e) => e?.service === "http" && e.event_type === "request")).toBe(true)
    }).pipe(Effect.provide(Layer_))
  )

  it.scoped("a config error names the service and the key", () =>
    Effect.gen(function* () {
      const services = yield* planServices(["redis"], { redis: { reply_delay_ms: "fast" } })
      const error = yield* Effect.flip(startDecky({ host: "127.0.0.1", services, port: () => 0 }))
      expect(error._tag).toBe("HoneypotConfigError")
      expect(error.message).toContain('invalid redis config: "reply_delay_ms"')
    }).pipe(Effect.provide(Layer_))
  )
})
