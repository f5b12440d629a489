import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { smtpHoneypot, smtpRelayHoneypot } from "../../src/honeypots/smtp/index.js"
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

const MAIL =
  "From: Alice <alice@corp.example>\r\nTo: bob@target.org\r\nSubject: invoice 42\r\nMessage-ID: <m1@corp.example>\r\n\r\nPay here: https://evil.example/pay?x=1\r\n.leading dot line\r\n"

const mailFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "smtp-mail-"))
  const f = join(dir, "mail.txt")
  writeFileSync(f, MAIL)
  return f
}

describe("smtp honeypot", () => {
  it.scopedLive(
    "an accepted AUTH ends the pre-login grace; without one the runtime closes the connection",
    () =>
      Effect.gen(function* () {
        const [l] = yield* smtpRelayHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        const plain = Buffer.from("\u0000relayuser\u0000hunter2").toString("base64")
        const [authed, anonymous] = yield* Effect.all(
          [
            scripted(l!.port, [`EHLO x\r\nAUTH PLAIN ${plain}\r\n`, 1200, "NOOP\r\n"]),
            scripted(l!.port, ["EHLO x\r\n", 1200, "NOOP\r\n"])
          ],
          { concurrency: 2 }
        )
        expect(authed.text).toContain("235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n")
        expect(authed.closed).toBe(false)
        expect(anonymous.closed).toBe(true)
        expect(anonymous.text).not.toContain("250 2.0.0 Ok")
        const closed = yield* eventsOf("connection_closed")
        expect(closed.map((e) => e.fields.reason)).toEqual(["login_grace"])
      }).pipe(Effect.provide(TestLayer({ limits: { loginGraceMs: 600 } })))
  )

  it.scopedLive(
    "harvester: Postfix banner on 25 and 587, curl AUTH LOGIN creds captured, 535 and relay denied",
    () =>
      Effect.gen(function* () {
        const ls = yield* smtpHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        expect(ls.map((l) => l.defaultPort)).toEqual([25, 587])
        for (const l of ls) {
          const g = yield* rawExchange(l.port, "", { untilIncludes: "\r\n" })
          expect(g.text).toBe("220 decky-01 ESMTP Postfix (Ubuntu)\r\n")
        }
        const r = yield* run("curl", [
          "-s",
          "-v",
          `smtp://127.0.0.1:${ls[1]!.port}`,
          "--mail-from",
          "spam@x.org",
          "--mail-rcpt",
          "v@y.org",
          "-T",
          mailFile(),
          "--user",
          "postmaster:Passw0rd!",
          "--login-options",
          "AUTH=LOGIN"
        ])
        expect(r.code).toBe(67)
        expect(r.stderr).toContain("535 5.7.8 Error: authentication failed")
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "auth_attempt"))
        const auth = es.filter((e) => e.type === "auth_attempt")
        expect(auth.map((e) => e.fields)).toEqual([
          expect.objectContaining({
            src_ip: "127.0.0.1",
            mechanism: "LOGIN",
            username: "postmaster",
            principal: "postmaster",
            secret_printable: "Passw0rd!",
            secret_b64: Buffer.from("Passw0rd!").toString("base64"),
            secret_kind: "plaintext"
          })
        ])
        expect(auth[0]!.raw.startsWith("<132>1 ")).toBe(true)
        const raw = yield* rawExchange(
          ls[0]!.port,
          "EHLO x\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<c@d.org>\r\nDATA\r\nQUIT\r\n",
          { untilIncludes: "221 " }
        )
        expect(raw.text).toContain("250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n")
        expect(raw.text).toContain(
          "454 4.7.1 <c@d.org>: Relay access denied\r\n554 5.5.1 Error: no valid recipients\r\n221 2.0.0 Bye\r\n"
        )
        expect((yield* eventsOf("rcpt_denied"))[0]!.fields).toMatchObject({
          src_ip: "127.0.0.1",
          rcpt_to: "c@d.org"
        })
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "relay: STARTTLS + AUTH PLAIN via curl --ssl-reqd, message accepted and stored as .eml",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "smtp-art-"))
      return Effect.gen(function* () {
        const ls = yield* smtpRelayHoneypot.start({
          host: "127.0.0.1",
          config: { rcpt_drop_rate: 0 },
          port: () => 0
        })
        const r = yield* run("curl", [
          "-s",
          "-k",
          "--ssl-reqd",
          `smtp://127.0.0.1:${ls[0]!.port}`,
          "--mail-from",
          "spam@x.org",
          "--mail-rcpt",
          "victim@target.org",
          "-T",
          mailFile(),
          "--user",
          "relayuser:hunter2"
        ])
        expect(r.code).toBe(0)
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "message_stored"))
        const auth = es.find((e) => e.type === "auth_attempt")!
        expect(auth.app).toBe("smtp_relay")
        expect(auth.fields).toMatchObject({
          src_ip: "127.0.0.1",
          mechanism: "PLAIN",
          principal: "relayuser",
          secret_printable: "hunter2"
        })
        expect(es.find((e) => e.type === "rcpt_to")!.fields).toMatchObject({
          rcpt_to: "victim@target.org",
          domain: "target.org"
        })
        const accepted = es.find((e) => e.type === "message_accepted")!
        expect(accepted.fields).toMatchObject({
          mail_from: "spam@x.org",
          rcpt_to: "victim@target.org",
          truncated: "false"
        })
        expect(accepted.fields.msg_id).toMatch(/^[BCDFGHJKLMNPQRSTVWXYZ23456789]{8,}$/)
        const stored = es.find((e) => e.type === "message_stored")!
        expect(stored.fields).toMatchObject({
          subject: "invoice 42",
          from_hdr: "Alice <alice@corp.example>",
          message_id_hdr: "<m1@corp.example>",
          urls_json: '["https://evil.example/pay?x=1"]'
        })
        const files = readdirSync(join(artifacts, "smtp"))
        expect(files).toEqual([stored.fields.stored_as])
        const eml = readFileSync(join(artifacts, "smtp", files[0]!), "utf8")
        expect(eml).toContain("Subject: invoice 42\r\n")
        expect(eml).toContain("\r\n.leading dot line\r\n")
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )

  it.scopedLive(
    "nmap -sV identifies Postfix smtpd",
    () =>
      Effect.gen(function* () {
        const ls = yield* smtpHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        const xml = yield* nmapServiceXml(ls[0]!.port)
        expect(nmapService(xml)).toMatchObject({ name: "smtp", product: "Postfix smtpd" })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )
})
