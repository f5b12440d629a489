import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import { events, eventsBySrcPort, lineCases, rawExchange, runFuzz, TestLayer } from "./support.js"

// PASV/EPSV are left out: a following LIST would wait (like vsftpd) for a data connection the fuzzer never opens.
const VALID = [
  "USER anonymous", "PASS guest@", "SYST", "FEAT", "PWD", "CWD /", "CWD ..", "CWD /etc", "CDUP", "TYPE I", "TYPE A", "LIST",
  "NLST -a", "RETR README.txt", "RETR ../../etc/passwd", "SIZE README.txt", "MDTM .htaccess", "STOR x.php", "DELE README.txt",
  "MKD www", "REST 100", "STAT", "NOOP", "HELP", "OPTS UTF8 ON", "PORT 127,0,0,1,1,1", "EPRT |1|127.0.0.1|1|", "ABOR", "MODE S",
  "STRU F", "AUTH TLS", "SITE CHMOD 777 x", "RNFR a", "RNTO b", "APPE y"
]

describe("ftp fuzz", () => {
  it.scopedLive("20,000 mutated commands and random bytes over real sockets: every connection closes cleanly, service still answers", () =>
    Effect.gen(function* () {
      const [listener] = yield* ftpHoneypot.start({ host: "127.0.0.1", config: { login_mode: "always" }, port: () => 0 })
      const port = listener!.port
      const report = yield* runFuzz({ port, arbitrary: lineCases(VALID), cases: 20_000, perConnection: 200 })
      expect(report.cases).toBe(20_000)
      expect(report.results.filter((r) => !r.closed)).toEqual([])
      expect(report.results.every((r) => r.replyBytes > 0)).toBe(true)
      const after = yield* rawExchange(port, "USER a\r\nPASS b\r\nPWD\r\nQUIT\r\n", { untilIncludes: "221 " })
      expect(after.text).toMatch(/257 "\/" is (the current directory|your current location)\r\n221[ -]/)
      // Only connection/user/auth/transfer events exist: none is per-byte, each connection has one connection+disconnect.
      const by = eventsBySrcPort(yield* events)
      for (const r of report.results) {
        const es = by.get(String(r.srcPort)) ?? []
        expect(es.filter((e) => e.type === "connection").length).toBe(1)
        expect(es.filter((e) => e.type === "disconnect").length).toBe(1)
        expect(es.length).toBeLessThanOrEqual(2 + 200)
      }
    }).pipe(Effect.provide(TestLayer())),
    120_000
  )
})
