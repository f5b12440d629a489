import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { planDecky, resolveIdentity, startDecky } from "../../src/fleet/Decky.js"
import { PortPlan } from "../../src/fleet/Ports.js"
import {
  HONEYPOT_SLUGS,
  isHoneypotSlug,
  loadAllHoneypots,
  loadHoneypot,
  loadHoneypots,
  UnknownHoneypot
} from "../../src/honeypots/Registry.js"
import { defaultLimits } from "../../src/honeypots/runtime/index.js"
import { spawnAsync } from "../support/spawn.js"
import { events, run, TestLayer } from "./support.js"

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
  const plan = (slugs: ReadonlyArray<string>, configs: Record<string, unknown>) =>
    planDecky({
      identity: resolveIdentity(
        { name: Option.some("decky-reg") },
        {
          artifactsRoot: "/tmp/decnet-test-artifacts",
          decky: { nodeName: Option.none(), hostname: Option.none(), instanceId: Option.none() }
        }
      ),
      host: "127.0.0.1",
      slugs,
      configs,
      ports: PortPlan.explicit(new Map(), "ephemeral"),
      limits: defaultLimits
    })

  it.scopedLive("runs redis and http in one scope on ephemeral ports, driven by redis-cli and curl", () =>
    Effect.gen(function* () {
      const running = yield* startDecky(yield* plan(["redis", "http"], { redis: { reply_delay_ms: [0, 0] } }))
      expect(running.services.map((r) => r.slug)).toEqual(["redis", "http"])
      const redisPort = running.services[0]?.listeners[0]?.port ?? 0
      const httpPort = running.services[1]?.listeners[0]?.port ?? 0
      expect(redisPort).toBeGreaterThan(0)
      expect(running.services[0]?.listeners[0]?.defaultPort).toBe(6379)

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

      let seen = yield* events
      for (let i = 0; i < 100 && !seen.some((e) => e.app === "http" && e.type === "request"); i++) {
        yield* Effect.sleep("50 millis")
        seen = yield* events
      }
      const lines = seen.map((e) => e.raw)
      const auth = seen.find((e) => e.type === "auth")
      expect(auth?.app).toBe("redis")
      expect(lines.every((l) => l.includes(" decky-reg "))).toBe(true)
      expect(auth?.fields.principal).toBe("alice")
      expect(auth?.fields.secret_printable).toBe("s3cret")
      expect(seen.filter((e) => e.type === "startup").map((e) => e.app)).toEqual(["redis", "http"])
      expect(seen.some((e) => e.app === "http" && e.type === "request")).toBe(true)
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scoped("a config error names the service and the key", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        startDecky(yield* plan(["redis"], { redis: { reply_delay_ms: "fast" } }))
      )
      expect(error._tag).toBe("HoneypotConfigError")
      expect(error.message).toContain('invalid redis config: "reply_delay_ms"')
    }).pipe(Effect.provide(TestLayer()))
  )

  it.effect("a plan refuses a config for a service the decky does not run, and an out-of-range offset", () =>
    Effect.gen(function* () {
      const stray = yield* Effect.flip(plan(["redis"], { ssh: {} }))
      expect(stray.message).toBe("--config has an entry for 'ssh', which is not in --services")
      const far = yield* Effect.flip(
        planDecky({
          identity: resolveIdentity(
            {},
            {
              artifactsRoot: "/tmp/x",
              decky: { nodeName: Option.some("n"), hostname: Option.none(), instanceId: Option.none() }
            }
          ),
          host: "127.0.0.1",
          slugs: ["redis"],
          ports: PortPlan.offset(60_000),
          limits: defaultLimits
        })
      )
      expect(far.message).toBe("--port-offset 60000 puts redis's port 6379 at 66379, outside 1-65535")
    })
  )
})
