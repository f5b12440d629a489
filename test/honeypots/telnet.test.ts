import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { telnetHoneypot } from "../../src/honeypots/telnet/index.js"
import { eventsOf, rawExchange, TestLayer, waitForEvents } from "./support.js"
import { telnetScript } from "./telnetClient.js"

const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-telnet-"))
afterAll(() => fs.rmSync(artifacts, { recursive: true, force: true }))
const layer = TestLayer({ artifactsDir: artifacts })

const start = Effect.gen(function* () {
  const [listener] = yield* telnetHoneypot.start({ host: "127.0.0.1", port: () => 0 })
  return listener!.port
})

describe("telnet honeypot", () => {
  it.live("negotiates options, logs a failed and a good login, runs commands, records the session", () =>
    Effect.gen(function* () {
      const port = yield* start
      const r = yield* Effect.promise(() =>
        telnetScript(port, [
          ["login: ", "root\r\n"],
          ["Password: ", "toor\r\n"],
          ["Login incorrect", ""],
          ["login: ", "root\r\n"],
          ["Password: ", "admin\r\n"],
          ["# ", "uname -a\r\n"],
          ["# ", "cat /etc/os-release | grep PRETTY\r\n"],
          ["# ", "exit\r\n"]
        ])
      )
      // IAC DO ECHO, DO NAWS, WILL ECHO, WILL SGA: busybox telnetd's opening.
      expect(r.negotiation.slice(0, 8)).toEqual([253, 1, 253, 31, 251, 1, 251, 3])
      expect(r.text).toContain("Ubuntu 20.04.6 LTS")
      expect(r.text).toContain("decky-01 login: ")
      expect(r.text).toContain("Welcome to Ubuntu 20.04.6 LTS (GNU/Linux 5.4.0-150-generic x86_64)")
      expect(r.text).toContain("Linux decky-01 5.4.0-150-generic")
      expect(r.text).toContain('PRETTY_NAME="Ubuntu 20.04.6 LTS"')
      expect(r.text).not.toContain("admin") // the password is never echoed
      const es = yield* waitForEvents((es) => es.some((e) => e.type === "session_recorded"))
      const auth = es.filter((e) => e.type === "auth_attempt")
      expect(
        auth.map((a) => [
          a.fields.principal,
          a.fields.secret_printable,
          a.fields.secret_kind,
          a.fields.src_ip
        ])
      ).toEqual([
        ["root", "toor", "plaintext", "127.0.0.1"],
        ["root", "admin", "plaintext", "127.0.0.1"]
      ])
      expect(auth[0]!.fields.secret_b64).toBe(Buffer.from("toor").toString("base64"))
      const cmds = es.filter((e) => e.type === "command")
      expect(cmds.map((c) => c.fields.cmd)).toEqual(["uname -a", "cat /etc/os-release | grep PRETTY", "exit"])
      expect(cmds[0]!.msg).toBe("CMD uid=0 user=root src=127.0.0.1 pwd=/root cmd=uname -a")
      const rec = es.find((e) => e.type === "session_recorded")!
      expect(rec.fields).toMatchObject({ service: "telnet", src_ip: "127.0.0.1", truncated: "false" })
      const header = JSON.parse(fs.readFileSync(rec.fields.path!, "utf8").split("\n")[0]!)
      expect(header).toMatchObject({ version: 2, width: 120, height: 40 })
    }).pipe(Effect.provide(layer), Effect.scoped)
  )

  // login.defs LOGIN_RETRIES is 5 on Debian and Ubuntu (this test said 3 before the persona was
  // compared with a real busybox telnetd + login); each failure waits for pam_faildelay.
  it.live(
    "closes after five failed logins with no shell, as login(1) does",
    () =>
      Effect.gen(function* () {
        const port = yield* start
        const steps: Array<readonly [string, string]> = []
        for (let i = 0; i < 5; i++) steps.push(["login: ", `user${i}\r\n`], ["Password: ", `pw${i}\r\n`])
        const r = yield* Effect.promise(() => telnetScript(port, steps, 40_000))
        expect(r.text.match(/Login incorrect/g)).toHaveLength(5)
        expect(r.text).toMatch(/\r\nLogin incorrect\r\nMaximum number of tries exceeded \(5\)\r\n$/)
        expect(r.closed).toBe(true)
        const auth = yield* eventsOf("auth_attempt")
        expect(auth.map((a) => a.fields.principal)).toEqual(["user0", "user1", "user2", "user3", "user4"])
        expect(yield* eventsOf("command")).toHaveLength(0)
      }).pipe(Effect.provide(layer), Effect.scoped),
    60_000
  )

  it.live(
    "echoes typed bytes as the pty does: 8-bit bytes raw (no U+FFFD), controls as ^X, erase as \\b \\b",
    () =>
      Effect.gen(function* () {
        const port = yield* start
        const r = yield* rawExchange(
          port,
          Buffer.from("r\u00c3\u00a9\u0080\u00fe\u0001x\u007fy\u00ff\u00ff\r\n", "latin1"),
          {
            untilIncludes: "Password: "
          }
        )
        expect(r.text).toContain(
          "decky-01 login: r\u00c3\u00a9\u0080\u00fe^Ax\b \by\u00ff\u00ff\r\nPassword: "
        )
        expect(r.text).not.toContain("\u00ef\u00bf\u00bd")
      }).pipe(Effect.provide(layer), Effect.scoped)
  )

  it.live("never answers the client's option negotiation (busybox telnetd ignores it)", () =>
    Effect.gen(function* () {
      const port = yield* start
      const r = yield* rawExchange(
        port,
        Buffer.from([255, 251, 24, 255, 253, 5, 255, 251, 34, 255, 252, 1, 255, 254, 3, 0x61, 13, 10]),
        { untilIncludes: "Password: " }
      )
      // The 12 bytes of busybox's own opening are the only IAC bytes the client ever gets.
      expect([...Buffer.from(r.text, "latin1")].filter((b) => b === 255)).toHaveLength(4)
      expect(r.text).toMatch(/login: a\r\nPassword: $/)
    }).pipe(Effect.provide(layer), Effect.scoped)
  )
})
