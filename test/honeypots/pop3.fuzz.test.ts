import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pop3Honeypot } from "../../src/honeypots/pop3/index.js"
import { events, eventsBySrcPort, lineCases, rawExchange, runFuzz, TestLayer } from "./support.js"

// STLS and QUIT are left out (they end the plaintext conversation); curl covers both.
const VALID = [
  "USER admin",
  "PASS admin123",
  "USER root",
  "PASS toor",
  "STAT",
  "LIST",
  "LIST 3",
  "UIDL",
  "UIDL 11",
  "RETR 1",
  "RETR 0",
  "TOP 1 2",
  "TOP 2 x",
  "DELE 2",
  "RSET",
  "NOOP",
  "CAPA",
  "AUTH PLAIN AGFkbWluAGFkbWluMTIz",
  "AUTH LOGIN",
  "YWRtaW4=",
  "AUTH",
  "AUTH PLAIN",
  "*",
  "LAST",
  "APOP admin 0123456789abcdef"
]

describe("pop3 fuzz", () => {
  it.scopedLive(
    "20,000 mutated commands and random bytes: no crash, bounded logging",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* pop3Honeypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        const port = listener!.port
        const report = yield* runFuzz({
          port,
          arbitrary: lineCases(VALID),
          cases: 20_000,
          perConnection: 100
        })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)
        const after = yield* rawExchange(port, "USER user\r\nPASS user\r\nSTAT\r\nQUIT\r\n", {
          untilIncludes: "Logging out"
        })
        expect(after.text).toMatch(/\+OK Logged in\.\r\n\+OK 10 \d+\r\n\+OK Logging out\.\r\n$/)
        const by = eventsBySrcPort(yield* events)
        for (const r of report.results) {
          const es = by.get(String(r.srcPort)) ?? []
          expect(es.filter((e) => e.type === "connect").length).toBe(1)
          expect(es.filter((e) => e.type === "command").length).toBeLessThanOrEqual(r.sentLines)
        }
      }).pipe(Effect.provide(TestLayer())),
    120_000
  )
})
