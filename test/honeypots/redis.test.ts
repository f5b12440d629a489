import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { redisHoneypot } from "../../src/honeypots/redis/index.js"
import { globToRegExp, splitInline } from "../../src/honeypots/redis/Resp.js"
import {
  eventsOf,
  nmapService,
  nmapServiceXml,
  rawExchange,
  run,
  TestLayer,
  waitForEvents
} from "./support.js"

const start = (config: Record<string, unknown> = {}) =>
  Effect.map(
    redisHoneypot.start({ host: "127.0.0.1", config: { reply_delay_ms: [0, 2], ...config }, port: () => 0 }),
    (ls) => ls[0]!.port
  )

const cli = (port: number, ...args: Array<string>) =>
  run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])

describe("redis honeypot", () => {
  it.scopedLive(
    "redis-cli: PING, INFO server persona, seeded keyspace, session-local SET/GET; commands logged",
    () =>
      Effect.gen(function* () {
        const port = yield* start()
        expect((yield* cli(port, "PING")).stdout).toBe("PONG\n")
        const info = (yield* cli(port, "INFO", "server")).stdout
        expect(info).toMatch(/^# Server\r?\nredis_version:(7\.2\.[4-7]|7\.0\.1[45]|6\.2\.1[46])\r?\n/)
        expect(info).toMatch(/run_id:[0-9a-f]{40}/)
        expect(info).toMatch(/os:Linux \S+ x86_64/)
        expect(info).not.toContain("# Keyspace")
        const keys = (yield* cli(port, "KEYS", "*")).stdout.trim().split("\n")
        expect(keys.filter((k) => k.startsWith("session:")).length).toBeGreaterThanOrEqual(3)
        expect(keys.some((k) => /^stats:\w+:(prod|staging):requests$/.test(k))).toBe(true)
        expect((yield* cli(port, "SET", "pwned", "1")).stdout).toBe("OK\n")
        expect((yield* cli(port, "GET", "pwned")).stdout).toBe("\n")
        expect((yield* cli(port, "CONFIG", "GET", "dir")).stdout).toBe("dir\n/var/lib/redis\n")
        expect((yield* cli(port, "FLUSHEVERYTHING")).stdout.trim()).toBe(
          // Redis 7's own text: the name as sent, then the arguments (none here)
          "ERR unknown command 'FLUSHEVERYTHING', with args beginning with:"
        )
        const cmds = yield* Effect.flatMap(
          waitForEvents((es) => es.filter((e) => e.type === "command").length >= 7),
          () => eventsOf("command")
        )
        expect(cmds.map((e) => [e.fields.cmd, e.fields.args, e.fields.src_ip])).toEqual(
          expect.arrayContaining([
            ["PING", "[]", "127.0.0.1"],
            ["INFO", '["server"]', "127.0.0.1"],
            ["SET", '["pwned","1"]', "127.0.0.1"],
            ["CONFIG", '["GET","dir"]', "127.0.0.1"]
          ])
        )
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("AUTH: captured as credentials; requirepass enforces NOAUTH/WRONGPASS", () =>
    Effect.gen(function* () {
      const open = yield* start()
      const r = yield* cli(open, "-a", "s3cret", "--no-auth-warning", "PING")
      expect(r.stdout).toContain("PONG")
      const locked = yield* start({ password: "letmein" })
      expect((yield* cli(locked, "PING")).stdout.trim()).toBe("NOAUTH Authentication required.")
      expect((yield* cli(locked, "-a", "wrong", "--no-auth-warning", "PING")).stdout).toContain("NOAUTH")
      expect(
        (yield* cli(locked, "--user", "default", "--pass", "letmein", "--no-auth-warning", "PING")).stdout
      ).toBe("PONG\n")
      const auths = yield* Effect.flatMap(
        waitForEvents((es) => es.filter((e) => e.type === "auth").length >= 3),
        () => eventsOf("auth")
      )
      expect(
        auths.map((e) => [
          e.fields.src_ip,
          e.fields.principal,
          e.fields.secret_printable,
          e.fields.secret_b64,
          e.fields.secret_kind
        ])
      ).toEqual([
        ["127.0.0.1", "", "s3cret", Buffer.from("s3cret").toString("base64"), "plaintext"],
        ["127.0.0.1", "", "wrong", Buffer.from("wrong").toString("base64"), "plaintext"],
        ["127.0.0.1", "default", "letmein", Buffer.from("letmein").toString("base64"), "plaintext"]
      ])
      expect(
        (yield* eventsOf("command"))
          .filter((e) => e.fields.cmd === "AUTH")
          .every((e) => e.fields.args === "[]")
      ).toBe(true)
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("protocol errors answer like Redis and close; inline commands work", () =>
    Effect.gen(function* () {
      const port = yield* start()
      const bad = yield* rawExchange(port, "*99999999\r\n")
      expect(bad).toEqual({ text: "-ERR Protocol error: invalid multibulk length\r\n", closed: true })
      const inline = yield* rawExchange(port, 'ECHO "a b\\x41"\r\nQUIT\r\n')
      expect(inline.text).toBe("$4\r\na bA\r\n+OK\r\n")
    }).pipe(Effect.provide(TestLayer()))
  )

  it("inline splitter and glob", () => {
    expect(splitInline(`set "a\\"b" 'c d' e`)).toEqual(["set", 'a"b', "c d", "e"])
    expect(splitInline(`"unterminated`)).toBeUndefined()
    expect(globToRegExp("sess*:[ab]?").test("session:a1")).toBe(true)
    expect(globToRegExp("h[^e]llo").test("hello")).toBe(false)
  })

  it.scopedLive(
    "nmap -sV identifies Redis key-value store",
    () =>
      Effect.gen(function* () {
        const port = yield* start()
        const xml = yield* nmapServiceXml(port)
        expect(nmapService(xml)).toMatchObject({ name: "redis", product: "Redis key-value store" })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )
})
