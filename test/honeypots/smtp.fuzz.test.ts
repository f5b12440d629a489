import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import {
  isForbidden,
  LINE_LIMIT,
  mailParamFault,
  parseBdat,
  parseLine,
  parsePath,
  rcptParamFault
} from "../../src/honeypots/smtp/Command.js"
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
  it("property: Postfix's command-line parsers never throw and stay within their limits", () => {
    const line = fc.oneof(
      fc.string({ unit: "binary", maxLength: 3000 }),
      fc.constantFrom(...VALID).chain((v) => fc.string({ maxLength: 40 }).map((tail) => `${v}${tail}`))
    )
    fc.assert(
      fc.property(line, (raw) => {
        const c = parseLine(raw)
        expect(c.verb).toBe(c.verb.toUpperCase())
        expect(c.verb.length + c.rest.length).toBeLessThanOrEqual(LINE_LIMIT)
        expect(c.verb.includes("\u0000") || c.rest.includes("\u0000")).toBe(false)
        if (c.verb === "") expect(c.args).toEqual([])
        else expect(typeof isForbidden(c.verb)).toBe("boolean")
        for (const keyword of ["FROM", "TO"] as const) {
          const path = parsePath(c.rest, keyword)
          if (path._tag !== "Ok") continue
          expect(path.address).not.toMatch(/[ \t<]/)
          mailParamFault(path.params, 10_240_000)
          rcptParamFault(path.params)
        }
        const bdat = parseBdat(c.args)
        if (bdat !== undefined) expect(Number.isSafeInteger(bdat.size)).toBe(true)
      }),
      { numRuns: 5000 }
    )
    expect(parsePath("FROM:<a@b.org> SIZE=99999999", "FROM")).toEqual({
      _tag: "Ok",
      address: "a@b.org",
      params: ["SIZE=99999999"]
    })
    expect(mailParamFault(["SIZE=99999999"], 10_240_000)).toEqual({ _tag: "TooBig" })
    expect(isForbidden("GET")).toBe(true)
    expect(isForbidden("\u0016\u0003\u0001")).toBe(true)
    expect(isForbidden("HELP")).toBe(false)
  })

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
