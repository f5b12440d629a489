import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { telnetHoneypot } from "../../src/honeypots/telnet/index.js"
import { TelnetDecoder } from "../../src/honeypots/telnet/Protocol.js"
import { LineDiscipline, MAX_TTY_LINE } from "../../src/honeypots/telnet/Tty.js"
import { telnetScript } from "./telnetClient.js"
import { eventsBySrcPort, eventsOf, runFuzz, TestLayer } from "./support.js"

const IAC_BITS = fc.constantFrom(
  [255, 253, 1],
  [255, 251, 31],
  [255, 250, 31, 0, 80, 0, 24, 255, 240],
  [255, 250, 24, 0],
  [255, 255],
  [255, 244],
  [255, 240],
  [255, 250],
  [13, 0],
  [13, 10],
  [127],
  [3],
  [4],
  [27, 91, 65]
)
const piece = fc.oneof(
  { weight: 3, arbitrary: IAC_BITS.map((b) => Buffer.from(b)) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom("root\r\n", "admin\r\n", "ubuntu\r\n", "1234\r\n", "\r\n")
      .map((s) => Buffer.from(s))
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.nat(9000).map((n) => Buffer.from(`${"A".repeat(n)}\r\n`)) }
)
const fuzzCase = fc.array(piece, { minLength: 1, maxLength: 4 }).map((ps) => Buffer.concat(ps))

describe("telnet fuzz", () => {
  it.live(
    "20,000 random/IAC/long-line cases over real sockets: no crash, every connection closes, bounded events",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* telnetHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const port = listener!.port
        const report = yield* runFuzz({
          port,
          arbitrary: fuzzCase,
          cases: 20_000,
          perConnection: 100,
          concurrency: 16
        })
        expect(report.cases).toBe(20_000)
        expect(report.results.every((r) => r.closed)).toBe(true)
        expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)
        const byPort = eventsBySrcPort(yield* eventsOf("auth_attempt"))
        for (const [, es] of byPort) expect(es.length).toBeLessThanOrEqual(3)
        // Still serving a real login afterwards.
        const ok = yield* Effect.promise(() =>
          telnetScript(port, [
            ["login: ", "root\r\n"],
            ["Password: ", "admin\r\n"],
            ["# ", "whoami\r\n"],
            ["# ", "exit\r\n"]
          ])
        )
        expect(ok.text).toContain("whoami\r\nroot\r\n")
      }).pipe(Effect.provide(TestLayer({ limits: { maxConnectionsPerIp: 64 } })), Effect.scoped),
    120_000
  )

  it("the decoder and the line discipline take any bytes: bounded lines, echo only of what was typed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 6000 }), { maxLength: 6 }),
        fc.boolean(),
        (chunks, echo) => {
          const decoder = new TelnetDecoder()
          const tty = new LineDiscipline()
          tty.echo = echo
          let typed = 0
          let echoed = 0
          for (const chunk of chunks) {
            const r = decoder.feed(chunk)
            // busybox answers nothing but AYT (FF FF F1, three bytes each).
            expect(r.reply.length % 3).toBe(0)
            typed += r.data.length
            echoed += tty.feed(r.data).length
            for (let line = tty.next(); line !== undefined; line = tty.next())
              expect(line.bytes.length).toBeLessThanOrEqual(MAX_TTY_LINE)
          }
          if (!echo) expect(echoed).toBe(0)
          // Each typed byte echoes as at most 8 columns' worth (a tab) or 3 bytes per column erased.
          expect(echoed).toBeLessThanOrEqual(typed * 24)
        }
      ),
      { numRuns: 300, seed: 14 }
    )
  })
})
