// Differential fidelity, telnet (issue 14): the emulator's persona is busybox telnetd with a PAM
// /bin/login; its reference is Debian's busybox telnetd running Debian's /bin/login with the persona's
// issue.net (test/fidelity/servers/telnet.ts). Both get the same sessions: nmap's probes for port 23
// (read from the installed nmap-service-probes), the client's option negotiation, typed control
// characters (erase, kill, word-erase, ^C, ^D, tabs, ESC sequences, NULs, 8-bit bytes, IAC IAC), typed-ahead
// input, and failed logins up to login's limit. Each is sent once the login prompt is up (the real
// server races its own echo against login's start for input sent at connect time); what a client
// observes must match: every byte, where it came relative to what was sent, and how the connection
// ended. Accepted differences: test/fidelity/accepted/telnet.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { stopAll, waitUntil } from "../support/proc.js"
import { accepted } from "./accepted/telnet.js"
import { startEmulator } from "./nmap.js"
import { nmapProbes, probe } from "./probe.js"
import { BUSYBOX, emulatorConfig, LOGIN, start } from "./servers/telnet.js"
import type { RealServer } from "./servers/types.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const root = process.getuid?.() === 0
const ready = existsSync(BUSYBOX) && existsSync(LOGIN) && existsSync(PROBES_FILE) && root
const suite = ready || onCi ? describe : describe.skip

/** Bytes to send, or milliseconds to wait. */
type Step = string | number
/** Longer than any failure delay: pam_faildelay's 3 s, which Linux-PAM stretches up to 1.5×. */
const FAIL = 5_000
/** Plays of a session whose transcripts differ, before the difference counts (see the worker below). */
const RACE_RETRIES = 2

const SESSIONS: ReadonlyArray<{ readonly name: string; readonly steps: ReadonlyArray<Step> }> = [
  { name: "greeting only", steps: [] },
  { name: "user name", steps: ["root\r\n"] },
  {
    name: "8-bit and control bytes echo raw / as ^X",
    steps: ["r\u00c3\u00a9\u0080\u00fe\u0001x\u007fy\r\n"]
  },
  { name: "^C kills login", steps: ["ab\u0003", 300, "x\r\n"] },
  { name: "^\\ kills login", steps: ["root\r\n", 300, "ab\u001c", 300, "x\r\n"] },
  { name: "^Z is discarded", steps: ["ab\u001a", 300, "x\r\n"] },
  { name: "^U, ^W, ESC, tab", steps: ["abc\u0015", 300, "d\u0017", 300, "\u001b[A\t|\r\n"] },
  { name: "^D ends a name without a newline", steps: ["ab\u0004", 300, "\u0004", FAIL] },
  { name: "^D on an empty name", steps: ["\u0004", FAIL, "\r\n"] },
  {
    name: "client options are not answered",
    steps: [
      "\u00ff\u00fd\u0005\u00ff\u00fb\u0005\u00ff\u00fe\u0001\u00ff\u00fc\u0003\u00ff\u00f1\u00ff\u00f6ab\u00ff\u00ffc\r\u0000"
    ]
  },
  {
    name: "a client's opening negotiation",
    steps: [
      "\u00ff\u00fb\u001f\u00ff\u00fa\u001f\u0000\u0050\u0000\u0018\u00ff\u00f0\u00ff\u00fd\u0003\u00ff\u00fd\u0001\u00ff\u00fb\u0018\u00ff\u00fb\u0022"
    ]
  },
  { name: "terminal type subnegotiation", steps: ["\u00ff\u00fa\u0018\u0000xterm\u00ff\u00f0zz"] },
  { name: "CR and LF in two reads", steps: ["x\r", 300, "\n"] },
  { name: "erase", steps: ["abc\u007f\u007f\u007f\u007f\u007fz\u0008q\r\n"] },
  { name: "tab erase, ^A erase", steps: ["a\tb\u007f\u007f\u007fc\u0001\u007f\r\n"] },
  { name: "NULs", steps: ["\u0000\u0000ab\u0000"] },
  { name: "typed-ahead password is flushed", steps: ["root\r\nwrong\r\n", FAIL] },
  { name: "failed login", steps: ["root\r\n", 300, "wrong\r\nabc", FAIL] },
  { name: "typing during the failure delay", steps: ["root\r\n", 300, "wrong\r\n", 1_000, "abc\r\n", FAIL] },
  {
    name: "login's limit: five failures",
    steps: ["a\r\n", 300, "x\r\n", FAIL, "b\r\n", 300, "y\r\n", FAIL, "c\r\n", 300, "z\r\n", FAIL].concat([
      "d\r\n",
      300,
      "w\r\n",
      FAIL,
      "e\r\n",
      300,
      "v\r\n",
      FAIL,
      "f\r\n"
    ])
  },
  { name: "GET", steps: ["GET / HTTP/1.0\r\n\r\n"] }
]

const duration = (steps: ReadonlyArray<Step>) =>
  steps.reduce<number>((t, s) => t + (typeof s === "number" ? s : 0), 0)

interface Transcript {
  readonly text: string
  readonly ending: "open" | "closed" | "reset"
}

/** One session: wait for the login prompt, then play the steps; what was sent is marked in the text. */
const session = (port: number, steps: ReadonlyArray<Step>) =>
  new Promise<Transcript>((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port })
    let text = ""
    let ending: Transcript["ending"] = "open"
    const finish = () => {
      s.destroy()
      resolve({ text, ending })
    }
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1")
    })
    s.on("end", () => {
      ending = "closed"
    })
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET") ending = "reset"
    })
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
    s.on("connect", async () => {
      await waitUntil(() => text.endsWith(" login: "), 10_000, 10)
      await pause(300)
      for (const step of steps) {
        if (typeof step === "number") await pause(step)
        else if (ending === "open") {
          text += `\u27e8${JSON.stringify(step)}\u27e9`
          s.write(Buffer.from(step, "latin1"))
        }
      }
      await pause(600)
      finish()
    })
  })

suite("telnet: the emulator answers as busybox telnetd with login(1) does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-telnet-emu-"))

  beforeAll(async () => {
    real = await start({ host: "127.0.0.1", port: await freePort() })
    fakePort = await freePort()
    await startEmulator("telnet", "127.0.0.1", [fakePort], emulatorConfig, dir)
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("greets nmap's NULL probe with the same negotiation, issue and prompt", async () => {
    const [a, b] = await Promise.all([
      probe("127.0.0.1", real?.port ?? 0, Buffer.alloc(0), 500),
      probe("127.0.0.1", fakePort, Buffer.alloc(0), 500)
    ])
    expect(b.reply.toString("latin1")).toBe(a.reply.toString("latin1"))
    expect(b.reply.subarray(0, 12)).toEqual(
      Buffer.from([255, 253, 1, 255, 253, 31, 255, 251, 1, 255, 251, 3])
    )
    expect([a.ending, b.ending]).toEqual(["open", "open"])
  })

  it("plays nmap's probes for 23 and the login sessions with the same bytes, order and ending", async () => {
    const nmap = nmapProbes(readFileSync(PROBES_FILE, "utf8"), 23).filter((p) => p.name !== "NULL")
    expect(nmap.map((p) => p.name)).toEqual(["GenericLines", "tn3270"])
    const corpus = [...nmap.map((p) => ({ name: p.name, steps: [p.bytes.toString("latin1")] })), ...SESSIONS]
    const ok = new Set(accepted.map((a) => a.probe))
    // Four sessions at a time (busybox telnetd listens with a backlog of 1), the longest first: each
    // is its own connection, and login's five failures take half a minute.
    const queue = [...corpus].sort((x, y) => duration(y.steps) - duration(x.steps))
    const results: Array<{ name: string; a: Transcript; b: Transcript; attempts: number }> = []
    const worker = async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        // A step that holds two lines races in the real server: busybox telnetd writes each CR-ended
        // piece to the pty separately, and login can read the first line and turn echo off (TCSAFLUSH)
        // before the second arrives, so the second is then neither echoed nor flushed but read as the
        // password. Seen once in CI under load; the emulator always does what the unloaded server does.
        // A pair that differs is played again, up to RACE_RETRIES times: an emulator difference persists.
        for (let attempt = 0; ; attempt++) {
          const [a, b] = await Promise.all([session(real?.port ?? 0, c.steps), session(fakePort, c.steps)])
          const same = a.text === b.text && a.ending === b.ending
          if (same || attempt >= RACE_RETRIES) {
            results.push({ name: c.name, a, b, attempts: attempt + 1 })
            break
          }
        }
      }
    }
    await Promise.all([0, 1, 2, 3].map((i) => new Promise((r) => setTimeout(r, i * 250)).then(worker)))
    expect(results.length).toBe(corpus.length)
    const found = results
      .filter((r) => (r.a.text !== r.b.text || r.a.ending !== r.b.ending) && !ok.has(r.name))
      .map(
        (r) =>
          `${r.name}\n  busybox telnetd: ${JSON.stringify(r.a.text)} (${r.a.ending})\n  emulator: ${JSON.stringify(r.b.text)} (${r.b.ending})`
      )
    expect(found, found.join("\n")).toEqual([])
    expect(results.find((r) => r.name === "login's limit: five failures")?.b.text).toContain(
      "Maximum number of tries exceeded (5)\r\n"
    )
  }, 90_000)
})
