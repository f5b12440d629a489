import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pop3Honeypot } from "../../src/honeypots/pop3/index.js"
import {
  eventsOf,
  nmapService,
  nmapServiceXml,
  rawExchange,
  run,
  TestLayer,
  waitForEvents,
  scripted
} from "./support.js"

const start = (config: unknown = {}) =>
  Effect.map(pop3Honeypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ({
    plain: ls[0]!.port,
    tls: ls[1]!.port
  }))

describe("pop3 honeypot", () => {
  it.scopedLive(
    "an accepted PASS ends the pre-login grace; without one the runtime closes the connection",
    () =>
      Effect.gen(function* () {
        const { plain } = yield* start()
        const [authed, anonymous] = yield* Effect.all(
          [
            scripted(plain, ["USER admin\r\nPASS admin123\r\n", 1200, "STAT\r\n"]),
            scripted(plain, ["USER admin\r\nPASS nope\r\n", 1200, "NOOP\r\n"])
          ],
          { concurrency: 2 }
        )
        expect(authed.text).toMatch(/\+OK Logged in\.\r\n\+OK 10 \d+\r\n$/)
        expect(authed.closed).toBe(false)
        expect(anonymous.closed).toBe(true)
        // The failure answers after Dovecot's ~2 s delay: the 600 ms grace closes the connection first.
        expect(anonymous.text).toBe("+OK Dovecot (Debian) ready.\r\n+OK\r\n")
        const closed = yield* eventsOf("connection_closed")
        expect(closed.map((e) => e.fields.reason)).toEqual(["login_grace"])
      }).pipe(Effect.provide(TestLayer({ limits: { loginGraceMs: 600 } })))
  )

  it.scopedLive("curl lists and retrieves bait mail; creds and retr logged with src_ip", () =>
    Effect.gen(function* () {
      const { plain } = yield* start()
      const g = yield* rawExchange(plain, "", { untilIncludes: "\r\n" })
      expect(g.text).toBe("+OK Dovecot (Debian) ready.\r\n")
      const list = yield* run("curl", ["-s", `pop3://admin:admin123@127.0.0.1:${plain}/`])
      expect(list.code).toBe(0)
      expect(list.stdout.trim().split("\r\n")).toHaveLength(10)
      const msg = yield* run("curl", ["-s", `pop3://admin:admin123@127.0.0.1:${plain}/3`])
      expect(msg.stdout).toContain("ghp_16C7e42F292c6912E7710c838347Ae178B4a")
      const bad = yield* run("curl", ["-s", `pop3://root:nope@127.0.0.1:${plain}/`])
      expect(bad.code).toBe(67)
      const es = yield* waitForEvents((es) => es.filter((e) => e.type === "auth").length >= 3)
      expect(
        es
          .filter((e) => e.type === "auth")
          .map((e) => [
            e.fields.src_ip,
            e.fields.principal,
            e.fields.secret_printable,
            e.fields.secret_b64,
            e.fields.outcome
          ])
      ).toEqual([
        ["127.0.0.1", "admin", "admin123", Buffer.from("admin123").toString("base64"), "success"],
        ["127.0.0.1", "admin", "admin123", Buffer.from("admin123").toString("base64"), "success"],
        ["127.0.0.1", "root", "nope", Buffer.from("nope").toString("base64"), "failure"]
      ])
      expect((yield* eventsOf("retr")).map((e) => [e.fields.message_num, e.fields.src_ip])).toEqual([
        ["3", "127.0.0.1"]
      ])
      expect((yield* eventsOf("command")).every((e) => e.fields.cmd !== "PASS" || e.fields.args === "")).toBe(
        true
      )
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("STLS via curl --ssl-reqd, pop3s on the 995 listener, AUTH PLAIN", () =>
    Effect.gen(function* () {
      const { plain, tls } = yield* start()
      const st = yield* run("curl", ["-s", "-k", "--ssl-reqd", `pop3://mail:mail@127.0.0.1:${plain}/1`])
      expect(st.stdout).toContain("AKIAIOSFODNN7EXAMPLE")
      const s = yield* run("curl", [
        "-s",
        "-k",
        "--login-options",
        "AUTH=PLAIN",
        `pop3s://user:user@127.0.0.1:${tls}/`
      ])
      expect(s.code).toBe(0)
      const auth = yield* Effect.flatMap(
        waitForEvents((es) => es.filter((e) => e.type === "auth").length >= 2),
        () => eventsOf("auth")
      )
      expect(auth.map((e) => [e.fields.principal, e.fields.secret_printable, e.fields.outcome])).toEqual([
        ["mail", "mail", "success"],
        ["user", "user", "success"]
      ])
      expect(auth[1]!.fields.mechanism).toBe("PLAIN")
      const raw = yield* rawExchange(plain, "PASS x\r\nSTAT\r\nUSER a\r\nPASS b\r\nFOO\r\nQUIT\r\n", {
        untilIncludes: "Logging out"
      })
      expect(raw.text).toBe(
        "+OK Dovecot (Debian) ready.\r\n-ERR No username given.\r\n-ERR Unknown command.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n-ERR Unknown command.\r\n+OK Logging out\r\n"
      )
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "nmap -sV identifies Dovecot pop3d",
    () =>
      Effect.gen(function* () {
        const { plain } = yield* start()
        const xml = yield* nmapServiceXml(plain)
        expect(nmapService(xml)).toMatchObject({ name: "pop3", product: "Dovecot pop3d" })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )

  it.scopedLive("email_seed: seed .eml messages are listed and retrievable after the built-in ten", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "pop3-seed-"))
      writeFileSync(
        join(dir, "a.eml"),
        "From: hr@corp.example\nSubject: payroll\n\n.leading dot\npayroll password: Payr0ll!\n"
      )
      const { plain } = yield* start({ email_seed: dir })
      const list = yield* run("curl", ["-s", `pop3://user:user@127.0.0.1:${plain}/`])
      expect(list.stdout.trim().split("\r\n")).toHaveLength(11)
      const msg = yield* run("curl", ["-s", `pop3://user:user@127.0.0.1:${plain}/11`])
      expect(msg.stdout).toContain("\r\n.leading dot\r\npayroll password: Payr0ll!")
    }).pipe(Effect.provide(TestLayer()))
  )
})
