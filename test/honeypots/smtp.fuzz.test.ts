import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { smtpRelayHoneypot } from "../../src/honeypots/smtp/index.js"
import { events, eventsBySrcPort, lineCases, rawExchange, runFuzz, TestLayer } from "./support.js"

// STARTTLS and QUIT are left out (they end the plaintext conversation); curl covers STARTTLS.
const VALID = [
  "EHLO attacker.example",
  "HELO x",
  "EHLO",
  "MAIL FROM:<a@b.org>",
  "MAIL FROM:<> SIZE=100",
  "RCPT TO:<c@d.org>",
  "RCPT TO:<x@y.test>",
  "RCPT TO:<bad addr>",
  "DATA",
  "Subject: hi",
  ".",
  "..dot",
  "RSET",
  "NOOP",
  "VRFY root",
  "AUTH PLAIN AGFkbWluAHB3",
  "AUTH LOGIN",
  "YWRtaW4=",
  "AUTH PLAIN",
  "AUTH CRAM-MD5",
  "AUTH LOGIN dXNlcg==",
  "*",
  "ETRN x",
  "HELP",
  "EXPN staff",
  "BDAT 10 LAST"
]

describe("smtp fuzz", () => {
  it.scopedLive(
    "20,000 mutated commands and random bytes (relay mode, capture on): no crash, bounded logging",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "smtp-fuzz-"))
      return Effect.gen(function* () {
        const [listener] = yield* smtpRelayHoneypot.start({
          host: "127.0.0.1",
          config: { rcpt_drop_rate: 0.1 },
          port: () => 0
        })
        const port = listener!.port
        const report = yield* runFuzz({ port, arbitrary: lineCases(VALID), cases: 20_000, perConnection: 50 })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)
        const after = yield* rawExchange(port, "EHLO ok\r\nQUIT\r\n", { untilIncludes: "221 2.0.0 Bye" })
        expect(after.text).toMatch(
          /^220 decky-01 ESMTP Postfix \(Ubuntu\)\r\n250-decky-01\r\n[\s\S]*221 2\.0\.0 Bye\r\n$/
        )
        const by = eventsBySrcPort(yield* events)
        for (const r of report.results) {
          const es = by.get(String(r.srcPort)) ?? []
          expect(es.filter((e) => e.type === "unknown_command").length).toBeLessThanOrEqual(1)
          expect(es.filter((e) => e.type === "connect").length).toBe(1)
          expect(es.length).toBeLessThanOrEqual(2 + 2 * 50)
        }
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    },
    120_000
  )
})
