import { createHash } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import {
  events,
  eventsBySrcPort,
  lineCases,
  rawExchange,
  runFuzz,
  TestLayer,
  waitForEvents
} from "./support.js"

/**
 * A minimal FTP client: log in, EPSV, connect the data socket, STOR `name`, send `body`, then
 * close the data connection cleanly (`end`) or with a TCP reset (`reset`). Returns the control text.
 */
const storRaw = (port: number, name: string, body: Buffer, close: "end" | "reset") =>
  new Promise<string>((resolve) => {
    const control = net.connect(port, "127.0.0.1")
    let text = ""
    let stage = 0
    const finish = () => {
      control.destroy()
      resolve(text)
    }
    const timer = setTimeout(finish, 15_000)
    control.on("error", finish)
    control.on("close", () => {
      clearTimeout(timer)
      resolve(text)
    })
    control.on("data", (d) => {
      text += d.toString("latin1")
      if (stage === 0 && /(^|\r\n)220 /.test(text)) {
        stage = 1
        control.write("USER fuzz\r\nPASS fuzz\r\nTYPE I\r\nEPSV\r\n")
      }
      const epsv = /229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)/.exec(text)
      if (stage === 1 && epsv !== null) {
        stage = 2
        const data = net.connect(Number(epsv[1]), "127.0.0.1", () =>
          control.write(Buffer.from(`STOR ${name}\r\n`, "utf8"))
        )
        data.on("error", () => {})
        const sendBody = () => {
          if (close === "end") data.end(body)
          else data.write(body, () => data.resetAndDestroy())
        }
        const wait = setInterval(() => {
          if (text.includes("150 ")) {
            clearInterval(wait)
            sendBody()
          }
        }, 5)
      }
      if (stage === 2 && /\r\n(226|426|451|552|553) [^\r]*\r\n/.test(text)) {
        stage = 3
        control.end("QUIT\r\n")
      }
    })
  })

const uploadName = fc
  .oneof(
    fc.constantFrom(
      "../../etc/cron.d/backdoor",
      "a b.txt",
      "..",
      ".",
      "x/../../y.sh",
      "\u00e9vil\u202e.txt",
      "-rf",
      "dir/file",
      "///",
      "."
    ),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 })
  )
  .filter((n) => n.trim() !== "" && !/[\r\n]/.test(n))

// PASV/EPSV are left out: a following LIST would wait (like vsftpd) for a data connection the fuzzer never opens.
const VALID = [
  "USER anonymous",
  "PASS guest@",
  "SYST",
  "FEAT",
  "PWD",
  "CWD /",
  "CWD ..",
  "CWD /etc",
  "CDUP",
  "TYPE I",
  "TYPE A",
  "LIST",
  "NLST -a",
  "RETR README.txt",
  "RETR ../../etc/passwd",
  "SIZE README.txt",
  "MDTM .htaccess",
  "STOR x.php",
  "DELE README.txt",
  "MKD www",
  "REST 100",
  "STAT",
  "NOOP",
  "HELP",
  "OPTS UTF8 ON",
  "PORT 127,0,0,1,1,1",
  "EPRT |1|127.0.0.1|1|",
  "ABOR",
  "MODE S",
  "STRU F",
  "AUTH TLS",
  "SITE CHMOD 777 x",
  "RNFR a",
  "RNTO b",
  "APPE y"
]

describe("ftp fuzz", () => {
  it.scopedLive(
    "STOR with generated names and bodies, closed cleanly or reset: stored under the quarantine only, sha256 matches",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-fuzz-"))
      return Effect.gen(function* () {
        const [listener] = yield* ftpHoneypot.start({
          host: "127.0.0.1",
          config: { login_mode: "always", banner: "220 (vsFTPd 3.0.3)" },
          port: () => 0
        })
        const port = listener!.port
        const cases = fc.sample(
          fc.tuple(
            uploadName,
            fc.uint8Array({ maxLength: 40_000 }),
            fc.constantFrom<"end" | "reset">("end", "end", "reset")
          ),
          { numRuns: 40, seed: 424_242 }
        )
        const replies: Array<string> = []
        for (const [name, bytes, close] of cases)
          replies.push(yield* Effect.promise(() => storRaw(port, name, Buffer.from(bytes), close)))
        const es = yield* waitForEvents(
          (es) =>
            es.filter((e) => e.type === "file_captured").length +
              es.filter((e) => e.type === "upload_attempt" && e.fields.path === "/").length >=
            cases.length
        )
        const captured = es.filter((e) => e.type === "file_captured")
        const stored = readdirSync(join(artifacts, "ftp")).filter((f) => f !== ".incoming")
        // Every stored name is one flat, safe file name; nothing escaped the quarantine dir.
        for (const f of stored) expect(f).toMatch(/^\d{8}T\d{6}Z_[0-9a-f]{12}_[A-Za-z0-9._-]{1,100}$/)
        expect(readdirSync(join(artifacts, "ftp", ".incoming"))).toEqual([])
        expect(new Set(stored)).toEqual(new Set(captured.map((e) => e.fields.stored_as)))
        let roots = 0
        for (const [i, [name, , close]] of cases.entries()) {
          const reply = replies[i]!
          if (name.split("/").every((p) => p === "" || p === "." || p === "..")) {
            // The name resolves to the root directory itself: there is no file to create.
            expect(reply).toContain("\r\n553 Could not create file.\r\n")
            roots++
            continue
          }
          expect(reply).toMatch(
            close === "end"
              ? /\r\n150 Ok to send data\.\r\n226 Transfer complete\.\r\n/
              : /\r\n150 Ok to send data\.\r\n(226|426) /
          )
        }
        for (const e of captured) {
          const content = readFileSync(join(artifacts, "ftp", e.fields.stored_as!))
          expect(createHash("sha256").update(content).digest("hex")).toBe(e.fields.sha256)
          expect(String(content.length)).toBe(e.fields.size)
          expect(e.fields.orig_path).toMatch(/^\/(?!.*\/\.{1,2}(\/|$))/)
          if (e.fields.complete === "true") {
            const src = cases.find(
              ([, b]) => createHash("sha256").update(Buffer.from(b)).digest("hex") === e.fields.sha256
            )
            expect(src).toBeDefined()
          }
        }
        expect(roots).toBeGreaterThan(0)
        expect(captured.filter((e) => e.fields.complete === "false").length).toBeGreaterThan(0)
        expect(captured.filter((e) => e.fields.complete === "true").length).toBeGreaterThanOrEqual(
          cases.filter(([, , c]) => c === "end").length - 3
        )
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    },
    120_000
  )

  it.scopedLive(
    "20,000 mutated commands and random bytes over real sockets: every connection closes cleanly, service still answers",
    () =>
      Effect.gen(function* () {
        const [listener] = yield* ftpHoneypot.start({
          host: "127.0.0.1",
          config: { login_mode: "always" },
          port: () => 0
        })
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
        const after = yield* rawExchange(port, "USER a\r\nPASS b\r\nPWD\r\nQUIT\r\n", {
          untilIncludes: "221 "
        })
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
