import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { telnetHoneypot } from "../../src/honeypots/telnet/index.js"
import { eventsOf, TestLayer, waitForEvents } from "./support.js"

const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-telnet-"))
const layer = TestLayer({ artifactsDir: artifacts })

const start = Effect.gen(function* () {
  const [listener] = yield* telnetHoneypot.start({ host: "127.0.0.1", port: () => 0 })
  return listener!.port
})

/**
 * A scripted telnet client: answers every DO with WONT and WILL with DONT (except the server's
 * ECHO/SGA, which a real client accepts), strips IAC sequences, and plays `[expect, send]` steps.
 */
export const telnetScript = (port: number, steps: ReadonlyArray<readonly [string, string]>, timeoutMs = 10_000) =>
  new Promise<{ text: string; negotiation: Array<number> }>((resolve) => {
    const s = net.connect(port, "127.0.0.1")
    let text = ""
    const negotiation: Array<number> = []
    let step = 0
    let seen = 0
    const done = () => {
      clearTimeout(timer)
      s.destroy()
      resolve({ text, negotiation })
    }
    const timer = setTimeout(done, timeoutMs)
    const advance = () => {
      while (step < steps.length) {
        const [want, send] = steps[step]!
        const at = text.indexOf(want, seen)
        if (at < 0) return
        seen = at + want.length
        step++
        s.write(send)
      }
    }
    s.on("data", (d: Buffer) => {
      for (let i = 0; i < d.length; i++) {
        if (d[i] === 255 && i + 2 < d.length + 1 && d[i + 1] !== undefined && d[i + 1]! >= 251) {
          const verb = d[i + 1]!
          const opt = d[i + 2]!
          negotiation.push(verb, opt)
          if (verb === 253 && opt === 31) s.write(Buffer.from([255, 251, 31, 255, 250, 31, 0, 120, 0, 40, 255, 240]))
          else if (verb === 253) s.write(Buffer.from([255, 252, opt]))
          else if (verb === 251) s.write(Buffer.from([255, 253, opt]))
          i += 2
        } else text += String.fromCharCode(d[i]!)
      }
      advance()
    })
    s.on("close", done)
    s.on("error", done)
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
      expect(auth.map((a) => [a.fields.principal, a.fields.secret_printable, a.fields.secret_kind, a.fields.src_ip])).toEqual([
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

  it.live("closes after three failed logins with no shell", () =>
    Effect.gen(function* () {
      const port = yield* start
      const steps: Array<readonly [string, string]> = []
      for (let i = 0; i < 3; i++) steps.push(["login: ", `user${i}\r\n`], ["Password: ", `pw${i}\r\n`])
      const r = yield* Effect.promise(() => telnetScript(port, steps))
      expect(r.text.match(/Login incorrect/g)).toHaveLength(3)
      const auth = yield* eventsOf("auth_attempt")
      expect(auth.map((a) => a.fields.principal)).toEqual(["user0", "user1", "user2"])
      expect(yield* eventsOf("command")).toHaveLength(0)
    }).pipe(Effect.provide(layer), Effect.scoped)
  )
})
