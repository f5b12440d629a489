import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { redisHoneypot } from "../../src/honeypots/redis/index.js"
import { events, eventsBySrcPort, lineCases, rawExchange, runFuzz, TestLayer } from "./support.js"

const COMMANDS: ReadonlyArray<ReadonlyArray<string>> = [
  ["PING"],
  ["INFO"],
  ["INFO", "keyspace"],
  ["KEYS", "*"],
  ["KEYS", "session:*"],
  ["GET", "x"],
  ["SET", "a", "b"],
  ["DEL", "a"],
  ["CONFIG", "GET", "*"],
  ["CONFIG", "SET", "dir", "/tmp"],
  ["AUTH", "pw"],
  ["AUTH", "u", "p"],
  ["SELECT", "1"],
  ["CLIENT", "LIST"],
  ["DBSIZE"],
  ["SCAN", "0"],
  ["TYPE", "k"],
  ["TTL", "k"],
  ["ECHO", "hi"],
  ["COMMAND"],
  ["EXISTS", "a"],
  ["HELLO", "3"],
  ["FLUSHALL"],
  ["SLAVEOF", "127.0.0.1", "1"],
  ["MODULE", "LOAD", "/tmp/x.so"],
  ["EVAL", "return 1", "0"]
]

/** RESP multibulk encodings, correct or with a corrupted header/length. */
const resp = fc
  .tuple(fc.constantFrom(...COMMANDS), fc.nat(6), fc.integer({ min: -2, max: 2 }))
  .map(([args, mode, delta]) => {
    const parts = args.map((a) => `$${Buffer.byteLength(a) + (mode === 1 ? delta : 0)}\r\n${a}\r\n`)
    const head =
      mode === 2
        ? `*${args.length + delta}\r\n`
        : mode === 3
          ? "*x\r\n"
          : mode === 4
            ? "*-1\r\n"
            : `*${args.length}\r\n`
    return Buffer.from(head + parts.join(""), "latin1")
  })

describe("redis fuzz", () => {
  it.scopedLive(
    "20,000 RESP/inline cases (valid, corrupted, random): protocol errors close cleanly, service survives",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* redisHoneypot.start({
          host: "127.0.0.1",
          config: { reply_delay_ms: [0, 0] },
          port: () => 0
        })
        const port = listener!.port
        const arbitrary = fc.oneof(resp, lineCases(COMMANDS.map((c) => c.join(" "))))
        const report = yield* runFuzz({ port, arbitrary, cases: 20_000, perConnection: 40 })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        const after = yield* rawExchange(port, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n")
        expect(after.text).toBe("+PONG\r\n+OK\r\n")
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
