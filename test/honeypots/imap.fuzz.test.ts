import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { imapHoneypot } from "../../src/honeypots/imap/index.js"
import { events, eventsBySrcPort, lineCases, rawExchange, runFuzz, TestLayer } from "./support.js"

// STARTTLS and LOGOUT are left out (they end the plaintext conversation); curl covers both.
const VALID = [
  "a1 CAPABILITY",
  "a2 LOGIN admin admin123",
  'a2 LOGIN "root" "toor"',
  "a3 SELECT INBOX",
  "a3 EXAMINE Sent",
  "a4 FETCH 1:* (FLAGS ENVELOPE BODY.PEEK[HEADER])",
  "a5 UID FETCH 1:* (UID RFC822.SIZE BODY[])",
  "a5 FETCH 2,4:5 RFC822",
  "a6 SEARCH ALL",
  "a6 UID SEARCH UNSEEN",
  'a7 LIST "" "*"',
  'a7 LSUB "" "%"',
  "a8 STATUS INBOX (MESSAGES UNSEEN)",
  "b1 NOOP",
  "b2 AUTHENTICATE PLAIN AGFkbWluAGFkbWluMTIz",
  "b2 AUTHENTICATE LOGIN",
  "YWRtaW4=",
  "b3 ID NIL",
  "b4 NAMESPACE",
  "b5 CLOSE",
  "b6 STORE 1 +FLAGS (\\Seen)",
  "b7 LOGIN {5}",
  "admin",
  "b8 IDLE",
  "DONE",
  "b9 ENABLE QRESYNC",
  "c1 CREATE x",
  "c2 APPEND INBOX {3+}"
]

describe("imap fuzz", () => {
  it.scopedLive(
    "20,000 mutated commands and random bytes: no crash, command events bounded per connection",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* imapHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        const port = listener!.port
        const report = yield* runFuzz({
          port,
          arbitrary: lineCases(VALID),
          cases: 20_000,
          perConnection: 200
        })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)
        const after = yield* rawExchange(port, "x LOGIN user user\r\ny LOGOUT\r\n", { untilIncludes: "y OK" })
        expect(after.text).toContain("x OK [CAPABILITY IMAP4rev1")
        const by = eventsBySrcPort(yield* events)
        for (const r of report.results) {
          const es = by.get(String(r.srcPort)) ?? []
          expect(es.filter((e) => e.type === "connect").length).toBe(1)
          // One `command` per received line at most (never per byte), plus auth events.
          expect(es.filter((e) => e.type === "command").length).toBeLessThanOrEqual(r.sentLines)
        }
      }).pipe(Effect.provide(TestLayer())),
    120_000
  )
})
