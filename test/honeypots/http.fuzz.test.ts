import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { httpHoneypot } from "../../src/honeypots/http/index.js"
import { request } from "./httpCases.js"
import { events, eventsBySrcPort, run, runFuzz, TestLayer } from "./support.js"

const h2Preface = fc
  .uint8Array({ maxLength: 200 })
  .map((frames) => Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from(frames)]))

describe("http fuzz", () => {
  it.scopedLive(
    "20,000 mutated requests (h1 + h2c noise) over real sockets: connections close, service keeps answering",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* httpHoneypot.start({
          host: "127.0.0.1",
          config: { http_versions: ["http/1.1", "http/2"] },
          port: () => 0
        })
        const port = listener!.port
        const arbitrary = fc.oneof({ weight: 30, arbitrary: request }, { weight: 1, arbitrary: h2Preface })
        const report = yield* runFuzz({ port, arbitrary, cases: 20_000, perConnection: 10, concurrency: 8 })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        expect(report.results.filter((r) => r.replyBytes > 0).length).toBeGreaterThan(
          report.connections * 0.9
        )
        // The fuzz connections' events, before curl's (its connection may reuse a fuzz source port).
        const all = yield* events
        const ok = yield* run("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `http://127.0.0.1:${port}/still-alive`
        ])
        expect(ok.stdout).toBe("403")
        // Most cases end their pipelined connection with an Apache 400 (unparsable, or HTTP/1.1 without
        // a Host header, which Apache refuses), so well under one request per connection reaches the
        // app; a fifth of the connections is still far above zero and proves the handler ran.
        expect(all.filter((e) => e.type === "request").length).toBeGreaterThan(report.connections / 5)
        const by = eventsBySrcPort(all)
        // The kernel reuses source ports across 2,000 short connections: bounds are per connection
        // that used the port.
        const uses = new Map<number, number>()
        for (const r of report.results) uses.set(r.srcPort, (uses.get(r.srcPort) ?? 0) + 1)
        const kinds = new Set(["request", "http_request_fingerprint", "http_access"])
        for (const r of report.results) {
          const es = by.get(String(r.srcPort)) ?? []
          const connections = uses.get(r.srcPort) ?? 1
          expect(es.every((e) => kinds.has(e.type))).toBe(true)
          const count = (t: string) => es.filter((e) => e.type === t).length
          // Each request the app saw was fingerprinted first; at most one access record follows it,
          // plus one for an error reply of the HTTP/1 engine (400/408/414), which ends the connection.
          expect(count("request")).toBeLessThanOrEqual(10 * connections)
          expect(count("http_request_fingerprint")).toBe(count("request"))
          expect(count("http_access")).toBeLessThanOrEqual(count("request") + connections)
          for (const e of es.filter((e) => e.type === "http_access" && e.fields.method === ""))
            expect(["400", "408", "414"]).toContain(e.fields.status)
          for (const e of es)
            expect(Buffer.byteLength(e.fields.body ?? "", "utf8")).toBeLessThanOrEqual(512 * 3)
          for (const e of es.filter((e) => e.type === "http_request_fingerprint"))
            expect(e.fields.ja4h).toMatch(/_[0-9a-f]{12}_[0-9a-f]{12}_[0-9a-f]{12}$/)
        }
      }).pipe(Effect.provide(TestLayer())),
    120_000
  )
})
