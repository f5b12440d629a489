import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import { eventsOf, nmapService, nmapServiceXml, rawExchange, run, TestLayer, waitForEvents } from "./support.js"

const start = (config: unknown = {}) =>
  Effect.map(ftpHoneypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ls[0]!.port)

const lftp = (port: number, user: string, pass: string, script: string, cwd?: string) =>
  run("lftp", ["-u", `${user},${pass}`, "-p", String(port), "-e", `set net:max-retries 1; set net:timeout 5; set ftp:ssl-allow no; ${script}; bye`, "127.0.0.1"], {
    timeoutMs: 30_000,
    ...(cwd === undefined ? {} : { cwd })
  })

describe("ftp honeypot", () => {
  it.scopedLive("lftp logs in (always), lists the seeded bait tree and downloads an archive with gzip magic", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "always" })
      const dir = mkdtempSync(join(tmpdir(), "ftp-"))
      const ls = yield* lftp(port, "backup", "Winter2024!", "ls")
      expect(ls.code).toBe(0)
      const names = ls.stdout.trim().split("\n").map((l) => l.split(/\s+/).pop())
      expect(names).toContain("README.txt")
      const archives = names.filter((n) => /^(acme|contoso|northwind|initech|globex|hooli)-(prod|stage|backup|archive)-20(22|23|24)\d{4}\.tar\.gz$/.test(n ?? ""))
      expect(archives.length).toBeGreaterThanOrEqual(2)
      expect(archives.length).toBeLessThanOrEqual(5)
      const get = yield* lftp(port, "backup", "Winter2024!", `lcd ${dir}; get ${archives[0]}; get README.txt`)
      expect(get.code).toBe(0)
      expect(readdirSync(dir).sort()).toEqual([archives[0], "README.txt"].sort())
      const bytes = readFileSync(join(dir, archives[0]!))
      expect([...bytes.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08])
      expect(bytes.length).toBeGreaterThanOrEqual(2048)
      expect(readFileSync(join(dir, "README.txt"), "utf8")).toMatch(/drop area[\s\S]*ops-\w+@\w+\.internal/)
      const auth = yield* Effect.flatMap(waitForEvents((es) => es.filter((e) => e.type === "download_attempt").length >= 2), () => eventsOf("auth_attempt"))
      expect(auth.length).toBe(2)
      expect(auth[0]!.fields).toMatchObject({
        src_ip: "127.0.0.1",
        username: "backup",
        principal: "backup",
        secret_printable: "Winter2024!",
        secret_b64: Buffer.from("Winter2024!").toString("base64"),
        secret_kind: "plaintext",
        outcome: "success"
      })
      const downloads = yield* eventsOf("download_attempt")
      expect(downloads.map((e) => [e.fields.path, e.fields.src_ip])).toEqual([[`/${archives[0]}`, "127.0.0.1"], ["/README.txt", "127.0.0.1"]])
      expect((yield* eventsOf("connection"))[0]!.fields.src_ip).toBe("127.0.0.1")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("login_mode never: 530 Login incorrect and an auth_attempt with outcome failure", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "never", banner: "220 ProFTPD 1.3.6 Server ready." })
      const r = yield* lftp(port, "root", "toor", "ls")
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain("Login incorrect")
      const auth = yield* Effect.flatMap(waitForEvents((es) => es.some((e) => e.type === "auth_attempt")), () => eventsOf("auth_attempt"))
      expect(auth[0]!.fields).toMatchObject({ src_ip: "127.0.0.1", principal: "root", secret_printable: "toor", outcome: "failure" })
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("greets with exactly one 220 and refuses uploads and active mode", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "always", banner: "220 (vsFTPd 3.0.3)" })
      const r = yield* rawExchange(port, "USER a\r\nPASS b\r\nPORT 127,0,0,1,4,1\r\nSTOR x.txt\r\nQUIT\r\n", { untilIncludes: "221" })
      expect(r.text).toBe(
        "220 (vsFTPd 3.0.3)\r\n331 Please specify the password.\r\n230 Login successful.\r\n500 Illegal PORT command.\r\n550 Permission denied.\r\n221 Goodbye.\r\n"
      )
      // A Pure-FTPd persona answers with Pure-FTPd's wording, not vsftpd's.
      const seeded = yield* start({ login_mode: "always", banner: "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220 You will be disconnected after 15 minutes of inactivity." })
      const pure = yield* rawExchange(seeded, "USER bob\r\nPASS x\r\nPWD\r\nQUIT\r\n", { untilIncludes: "221 Logout." })
      expect(pure.text).toMatch(/^220---------- Welcome to Pure-FTPd \[privsep\] \[TLS\] ----------\r\n/)
      expect(pure.text).toContain("331 User bob OK. Password required\r\n230 OK. Current restricted directory is /\r\n257 \"/\" is your current location\r\n")
      const custom = yield* start({ banner: "Welcome to corp FTP" })
      const g = yield* rawExchange(custom, "", { untilIncludes: "\r\n" })
      expect(g.text).toBe("220 Welcome to corp FTP\r\n")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("nmap -sV identifies vsftpd / ProFTPD / Pure-FTPd personas", () =>
    Effect.gen(function* () {
      const expected: ReadonlyArray<readonly [string, string, string]> = [
        ["220 (vsFTPd 3.0.5)", "vsftpd", "3.0.5"],
        ["220 ProFTPD 1.3.7a Server ready.", "ProFTPD", "1.3.7a"]
      ]
      for (const [banner, product, version] of expected) {
        const port = yield* start({ banner })
        const xml = yield* nmapServiceXml(port)
        expect(nmapService(xml)).toMatchObject({ name: "ftp", product, version })
        expect(xml.toLowerCase()).not.toContain("honeypot")
      }
      // The seeded default for decky-01, whatever flavour it drew, must be recognised too.
      const seeded = yield* start()
      expect(["vsftpd", "ProFTPD", "Pure-FTPd"]).toContain(nmapService(yield* nmapServiceXml(seeded)).product)
    }).pipe(Effect.provide(TestLayer())),
    300_000
  )
})
