import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { httpsHoneypot } from "../../src/honeypots/https/index.js"
import { request } from "./httpCases.js"
import { events, eventsBySrcPort, run, runFuzz, TestLayer } from "./support.js"

describe("https fuzz", () => {
  it.scopedLive(
    "20,000 mutated requests over real TLS connections: connections close, service keeps answering",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* httpsHoneypot.start({ host: "127.0.0.1", config: {}, port: () => 0 })
        const port = listener!.port
        const report = yield* runFuzz({
          port,
          arbitrary: request,
          cases: 20_000,
          perConnection: 25,
          concurrency: 8,
          tls: true
        })
        expect(report.cases).toBe(20_000)
        expect(report.results.filter((r) => !r.closed)).toEqual([])
        // The fuzz connections' events, before curl's: curl negotiates h2 (an http2_settings event), and
        // the kernel can hand its connection a source port one of the fuzz connections used.
        const all = yield* events
        const ok = yield* run("curl", [
          "-k",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `https://127.0.0.1:${port}/still-alive`
        ])
        expect(ok.stdout).toBe("403")
        // Most cases end their connection with an Apache 400 (unparsable, or HTTP/1.1 without Host,
        // which Apache refuses), so a fifth of the connections reaching the app proves it ran.
        expect(all.filter((e) => e.type === "request").length).toBeGreaterThan(report.connections / 5)
        const by = eventsBySrcPort(all)
        // The kernel reuses source ports across short connections: bounds are per connection that
        // used the port.
        const uses = new Map<number, number>()
        for (const r of report.results) uses.set(r.srcPort, (uses.get(r.srcPort) ?? 0) + 1)
        for (const r of report.results) {
          const es = by.get(String(r.srcPort)) ?? []
          const connections = uses.get(r.srcPort) ?? 1
          const count = (t: string) => es.filter((e) => e.type === t).length
          expect(count("request")).toBeLessThanOrEqual(25 * connections)
          expect(count("http_request_fingerprint")).toBe(count("request"))
          // At most one access record per request, plus one for a parser error reply (it ends the connection).
          expect(count("http_access")).toBeLessThanOrEqual(count("request") + connections)
          expect(es.length).toBe(count("request") + count("http_request_fingerprint") + count("http_access"))
        }
      }).pipe(Effect.provide(TestLayer())),
    120_000
  )
})
