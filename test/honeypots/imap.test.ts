import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { imapHoneypot } from "../../src/honeypots/imap/index.js"
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
  Effect.map(imapHoneypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ({
    plain: ls[0]!.port,
    tls: ls[1]!.port
  }))

describe("imap honeypot", () => {
  it.scopedLive(
    "a successful LOGIN ends the pre-login grace; without one the runtime closes the connection",
    () =>
      Effect.gen(function* () {
        const { plain } = yield* start()
        const [authed, anonymous] = yield* Effect.all(
          [
            scripted(plain, ["a LOGIN admin admin123\r\n", 1200, "b NOOP\r\n"]),
            scripted(plain, ["a LOGIN admin wrong\r\n", 1200, "b NOOP\r\n"])
          ],
          { concurrency: 2 }
        )
        expect(authed.text).toContain("b OK NOOP completed (0.001 + 0.000 secs).")
        expect(authed.closed).toBe(false)
        expect(anonymous.closed).toBe(true)
        expect(anonymous.text).not.toContain("b OK")
        const closed = yield* eventsOf("connection_closed")
        expect(closed.map((e) => e.fields.reason)).toEqual(["login_grace"])
      }).pipe(Effect.provide(TestLayer({ limits: { loginGraceMs: 600 } })))
  )

  it.scopedLive(
    "Dovecot greeting with CAPABILITY; curl logs in and fetches a bait message; creds logged",
    () =>
      Effect.gen(function* () {
        const { plain } = yield* start()
        const g = yield* rawExchange(plain, "", { untilIncludes: "\r\n" })
        expect(g.text).toBe(
          "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.\r\n"
        )
        const list = yield* run("curl", ["-s", `imap://admin:admin123@127.0.0.1:${plain}/INBOX?ALL`])
        expect(list.code).toBe(0)
        expect(list.stdout).toBe("* SEARCH 1 2 3 4 5 6 7 8 9 10\r\n")
        const msg = yield* run("curl", ["-s", `imap://admin:admin123@127.0.0.1:${plain}/INBOX;UID=2`])
        expect(msg.code).toBe(0)
        expect(msg.stdout).toContain("mysql://admin:Sup3rS3cr3t!@10.0.1.5:3306/production")
        const bad = yield* run("curl", ["-s", `imap://root:wrong@127.0.0.1:${plain}/INBOX`])
        expect(bad.code).toBe(67)
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
            e.fields.outcome
          ])
        ).toEqual([
          ["127.0.0.1", "admin", "admin123", Buffer.from("admin123").toString("base64"), "success"],
          ["127.0.0.1", "admin", "admin123", Buffer.from("admin123").toString("base64"), "success"],
          ["127.0.0.1", "root", "wrong", Buffer.from("wrong").toString("base64"), "failure"]
        ])
        const cmds = (yield* eventsOf("command")).map((e) => e.fields.cmd)
        expect(cmds).toContain("SELECT")
        expect(cmds).toContain("UID FETCH")
        const logins = (yield* eventsOf("command")).filter(
          (e) => e.fields.cmd === "LOGIN" || e.fields.cmd === "AUTHENTICATE"
        )
        expect(logins.length).toBeGreaterThan(0)
        for (const e of logins) expect(e.raw).not.toContain("admin123")
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("STARTTLS (curl --ssl-reqd) and implicit TLS on the 993 listener", () =>
    Effect.gen(function* () {
      const { plain, tls } = yield* start()
      const st = yield* run("curl", [
        "-s",
        "-k",
        "--ssl-reqd",
        `imap://user:user@127.0.0.1:${plain}/INBOX;UID=1`
      ])
      expect(st.code).toBe(0)
      expect(st.stdout).toContain("AKIAIOSFODNN7EXAMPLE")
      const imaps = yield* run("curl", ["-s", "-k", `imaps://mail:nope@127.0.0.1:${tls}/INBOX`])
      expect(imaps.code).toBe(67)
      const auths = yield* Effect.flatMap(
        waitForEvents((es) => es.filter((e) => e.type === "auth").length >= 2),
        () => eventsOf("auth")
      )
      expect(auths.map((e) => [e.fields.principal, e.fields.secret_printable, e.fields.outcome])).toEqual([
        ["user", "user", "success"],
        ["mail", "nope", "failure"]
      ])
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("literals, bad tags and state errors answer as Dovecot's imap-login and imap do", () =>
    Effect.gen(function* () {
      const { plain } = yield* start()
      const r = yield* rawExchange(
        plain,
        "a1 SELECT INBOX\r\na2 LOGIN {5}\r\nadmin {8+}\r\nadmin123\r\na3 FETCH 1 FLAGS\r\na4 LOGIN x y\r\n\r\na5 LOGOUT\r\n",
        { untilIncludes: "a5 OK" }
      )
      const lines = r.text.split("\r\n")
      expect(lines[1]).toBe("a1 BAD Error in IMAP command received by server.")
      expect(lines[2]).toBe("+ OK")
      expect(lines[3]).toMatch(/^a2 OK \[CAPABILITY IMAP4rev1 .*\] Logged in$/)
      expect(lines[4]).toBe("a3 BAD No mailbox selected (0.001 + 0.000 secs).")
      expect(lines[5]).toBe("a4 BAD Error in IMAP command LOGIN: Unknown command (0.001 + 0.000 secs).")
      expect(lines[6]).toBe("* BAD Error in IMAP tag: Invalid tag (0.001 + 0.000 secs).")
      expect(lines.slice(7, 9)).toEqual(["* BYE Logging out", "a5 OK Logout completed (0.001 + 0.000 secs)."])
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "nmap -sV identifies Dovecot imapd",
    () =>
      Effect.gen(function* () {
        const { plain } = yield* start()
        const xml = yield* nmapServiceXml(plain)
        // Debian's greeting is in no nmap signature: nmap names Dovecot from its reply to GetRequest.
        expect(nmapService(xml)).toMatchObject({ name: "imap", product: "Dovecot imapd" })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )

  it.scopedLive(
    "email_seed: .eml files from the seed directory follow the built-in bait (UID 11+), picked up on rescan",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "imap-seed-"))
        writeFileSync(
          join(dir, "01.eml"),
          "From: CFO <cfo@corp.example>\nSubject: wire transfer codes\nDate: Tue, 1 Oct 2024 10:00:00 +0000\n\nIBAN DE89370400440532013000 code 7731\n"
        )
        writeFileSync(join(dir, "ignored.txt"), "not mail")
        const { plain } = yield* start({ email_seed: dir, email_seed_rescan: 1 })
        const msg = yield* run("curl", ["-s", `imap://admin:admin123@127.0.0.1:${plain}/INBOX;UID=11`])
        expect(msg.stdout).toContain("IBAN DE89370400440532013000 code 7731")
        writeFileSync(join(dir, "02.eml"), "From: x@y\nSubject: second\n\nsecond seed body\n")
        yield* Effect.sleep("1500 millis")
        const all = yield* run("curl", ["-s", `imap://admin:admin123@127.0.0.1:${plain}/INBOX?ALL`])
        expect(all.stdout).toBe("* SEARCH 1 2 3 4 5 6 7 8 9 10 11 12\r\n")
        const second = yield* run("curl", ["-s", `imap://admin:admin123@127.0.0.1:${plain}/INBOX;UID=12`])
        expect(second.stdout).toContain("second seed body")
      }).pipe(Effect.provide(TestLayer()))
  )
})
