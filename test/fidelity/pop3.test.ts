// Differential fidelity, pop3 (issue 14): Debian's Dovecot 2.3.19 pop3d (a stock Debian mail host: STLS with
// a self-signed certificate, plaintext logins allowed, PLAIN and LOGIN; test/fidelity/servers/pop3.ts) and
// the pop3 emulator with the same accounts get the same probes: nmap's own service probes for port 110 (read
// from the installed nmap-service-probes), pop3-login's error cases (unknown commands and the three-in-a-row
// close, USER/PASS order, AUTH, APOP), failed logins with Dovecot's delay and per-IP penalty, and scripted
// sessions after login on the same mailbox (the emulator's bait, appended to the real INBOX over IMAP).
// What a scanner can observe must match: the reply bytes (the UIDVALIDITY half of each UIDL normalised),
// and whether the connection was then closed, reset or left open; and the TLS surface ssl-enum-ciphers
// enumerates after STLS and on 995 (tlsScan.ts). Accepted differences: accepted/pop3.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { accepted } from "./accepted/pop3.js"
import { differences, named } from "./diff.js"
import { appendBait, differencesFrom, sessionDifferences } from "./imapPop3.js"
import { nmapProbes, probe } from "./probe.js"
import { DOVECOT, startDovecot } from "./servers/imap.js"
import { emulatorConfig } from "./servers/pop3.js"
import type { RealServer } from "./servers/types.js"
import { describeSurface, scanTls, surfaceDifferences, upgrades } from "./tlsScan.js"

const onCi = process.env.CI !== undefined && process.env.CI !== ""
const root = process.getuid?.() === 0
const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const ready = root && existsSync(DOVECOT) && existsSync(PROBES_FILE)
const suite = ready || onCi ? describe : describe.skip
const HOST = "127.0.0.1"
/** Failed-login probes come from 127.14.4.<n>, one address each (this helper's loopback range). */
const SOURCES = "127.14.4."

/** The UIDVALIDITY half of Dovecot's UIDL (%08Xu%08Xv): the mailbox's creation time. */
const normalise = (b: Buffer): string =>
  b
    .toString("latin1")
    .replace(/\* OK Waiting for authentication process to respond\.\.\r\n/g, "")
    .replace(/^(\+OK )?(\d+ [0-9a-f]{8})[0-9a-f]{8}$/gm, "$1$2V")

const LOGIN = "USER admin\r\nPASS admin123\r\n"

/** Before login: each on a fresh connection, from 127.0.0.1 (none fails a login). */
const PRE_LOGIN = [
  "CAPA\r\n",
  "capa extra\r\n",
  "NOOP\r\n",
  "STAT\r\n",
  "FOO\r\n",
  "\r\n",
  " USER admin\r\n",
  "FOO\r\nBAR\r\n",
  "FOO\r\nBAR\r\nBAZ\r\n",
  "FOO\r\nCAPA\r\nFOO\r\nUSER a\r\nFOO\r\n",
  "USER a\r\nFOO\r\nFOO\r\nFOO\r\n",
  "USER\r\n",
  "USER admin extra\r\n",
  "PASS x\r\n",
  "PASS x\r\nPASS x\r\nPASS x\r\nNOOP\r\n",
  "APOP a b\r\n",
  "AUTH\r\n",
  "AUTH FOO\r\n",
  "AUTH FOO\r\nAUTH FOO\r\nAUTH FOO\r\nFOO\r\n",
  "AUTH PLAIN\r\n",
  "AUTH PLAIN\r\n*\r\n",
  "AUTH PLAIN\r\n!!\r\n",
  "AUTH PLAIN !!\r\n",
  "AUTH LOGIN\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\n*\r\n",
  "AUTH LOGIN YWRtaW4=\r\n",
  "XCLIENT ADDR=1.2.3.4\r\n",
  "STLS\r\n",
  "QUIT\r\n",
  "QUIT x\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "SSH-2.0-OpenSSH_9.2p1\r\n",
  "HELP\r\n",
  "a1 CAPABILITY\r\n"
]

/** Logins that succeed (no delay), each sent at once, and the bad-command limit after login. */
const LOGINS = [
  LOGIN,
  "user admin\r\npass admin123\r\n",
  "AUTH PLAIN AGFkbWluAGFkbWluMTIz\r\n",
  "AUTH PLAIN\r\nAGFkbWluAGFkbWluMTIz\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\nYWRtaW4xMjM=\r\n",
  `${LOGIN}${"FOO\r\n".repeat(20)}`,
  `${LOGIN}${"FOO\r\n".repeat(21)}`,
  `${LOGIN}${"FOO\r\n".repeat(20)}NOOP\r\n${"FOO\r\n".repeat(5)}`
]

/** Scripted client sessions after login: each command once the previous reply is complete. */
const SESSIONS: ReadonlyArray<{ name: string; steps: ReadonlyArray<string> }> = [
  ["USER admin", "PASS admin123", "CAPA", "STAT", "LIST", "UIDL", "LIST 3", "UIDL 3", "NOOP", "QUIT"],
  ["USER admin", "PASS admin123", "RETR 1", "TOP 2 0", "TOP 4 2", "RETR 10", "QUIT"],
  [
    "USER admin",
    "PASS admin123",
    "LIST 99",
    "LIST x",
    "LIST 1 2",
    "LIST 0",
    "RETR",
    "TOP 1",
    "TOP 1 x",
    "TOP",
    "UIDL 11",
    "QUIT"
  ],
  [
    "USER admin",
    "PASS admin123",
    "USER x",
    "PASS y",
    "AUTH PLAIN",
    "STLS",
    "APOP a b",
    "LAST",
    "FOO",
    "RSET",
    "QUIT"
  ],
  // No QUIT after DELE: the real server would expunge the bait.
  ["USER admin", "PASS admin123", "DELE 2", "DELE 2", "RETR 2", "LIST", "STAT", "RSET", "STAT"]
].map((steps) => ({
  name: JSON.stringify(steps.join(" / ")).slice(0, 70),
  steps: steps.map((l) => `${l}\r\n`)
}))

/** Failed logins: each from its own source address, read until 3.5 s of silence (past the failure delay). */
const FAILED = [
  "USER admin\r\nPASS wrong\r\n",
  "USER nobody\r\nPASS wrong\r\nNOOP\r\n",
  "USER admin\r\nPASS\r\n",
  "USER\r\nPASS admin123\r\n",
  "USER admin\r\nPASS admin admin123\r\n",
  "AUTH PLAIN AGFkbWluAHdyb25n\r\n",
  "AUTH PLAIN =\r\n",
  "AUTH LOGIN\r\nYWRtaW4=\r\nd3Jvbmc=\r\n"
]

/**
 * The penalty: a second failure from the same address waits 4 s before it is even checked, then the
 * failure delay: its answer comes 5.5-6 s after the first (read until 8 s of silence).
 */
const PENALTY = ["USER admin\r\nPASS x1\r\nPASS x2\r\nCAPA\r\n"]

/** Read the emulator's INBOX for admin over POP3: each message's bytes, dot-stuffing undone. */
const readBait = async (port: number) => {
  const retr = Array.from({ length: 10 }, (_, i) => `RETR ${i + 1}\r\n`).join("")
  const o = await probe(HOST, port, Buffer.from(`${LOGIN}${retr}QUIT\r\n`), 500)
  const text = o.reply.toString("latin1")
  const out: Array<{ flags: string; body: string }> = []
  const re = /\+OK \d+ octets\r\n([\s\S]*?)\r\n\.\r\n/g
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    out.push({ flags: "\\Seen", body: `${(m[1] ?? "").replace(/^\./gm, "")}\r\n` })
  return out
}

suite("pop3: the emulator answers probes as Debian's Dovecot pop3d does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  let fakeTlsPort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-pop3-"))
  const endpoints = () =>
    [
      { host: HOST, port: real?.port ?? 0 },
      { host: HOST, port: fakePort }
    ] as const

  beforeAll(async () => {
    const realPort = await freePort()
    const imapPort = await freePort()
    fakePort = await freePort()
    fakeTlsPort = await freePort()
    const fake = decnet(
      [
        "honeypot",
        "pop3",
        "--host",
        HOST,
        "--port",
        String(fakePort),
        "--port",
        String(fakeTlsPort),
        "--config",
        JSON.stringify(emulatorConfig)
      ],
      cleanEnv({ HOME: dir })
    )
    real = await startDovecot("pop3", { host: HOST, port: realPort }, imapPort)
    const up = await waitUntil(async () => {
      const b = await probe(HOST, fakePort, Buffer.alloc(0), 100).catch(() => undefined)
      return b !== undefined && b.reply.length > 0
    }, 30_000)
    if (!up) throw new Error(`the emulator did not answer:\n${fake.stderr()}`)
    const bait = await readBait(fakePort)
    if (bait.length !== 10) throw new Error(`the emulator's INBOX has ${bait.length} messages`)
    const appended = await appendBait(HOST, imapPort, bait)
    if ((appended.match(/ OK \[APPENDUID /g) ?? []).length !== bait.length)
      throw new Error(`dovecot refused the bait:\n${appended}`)
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("answers nmap's probes for 110 and pop3-login's error cases with the same bytes and the same ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 110), ...named(PRE_LOGIN)]
    expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining(["NULL", "GenericLines"]))
    const [realEnd, fakeEnd] = endpoints()
    const found = await differences(realEnd, fakeEnd, corpus, accepted, { realName: "dovecot", normalise })
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("answers logins and the sessions after them on the same mailbox as Dovecot's pop3 does", async () => {
    const [realEnd, fakeEnd] = endpoints()
    const logins = await differences(realEnd, fakeEnd, named(LOGINS), accepted, {
      realName: "dovecot",
      normalise,
      quietMs: 600
    })
    const sessions = await sessionDifferences(realEnd, fakeEnd, SESSIONS, accepted, {
      realName: "dovecot",
      normalise,
      quietMs: 200
    })
    const found = [...logins, ...sessions]
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("offers Dovecot's TLS after STLS and on 995: versions, suites and whose order, groups, DHE, tickets", async () => {
    const [a, b, c] = await Promise.all([
      scanTls(HOST, real?.port ?? 0, upgrades.pop3),
      scanTls(HOST, fakePort, upgrades.pop3),
      scanTls(HOST, fakeTlsPort)
    ])
    console.log(`dovecot STLS:\n  ${describeSurface(a).join("\n  ")}`)
    // What was measured on Dovecot 2.3.19 with Debian's defaults (so a broken scan cannot pass as equal).
    expect(a.versions.map((v) => `${v.version} ${v.order} ${v.suites.length}`)).toEqual([
      "TLSv1.2 client 28",
      "TLSv1.3 client 3"
    ])
    // Dovecot's 995 listener has the same ssl settings as STLS on 110.
    const found = [
      ...surfaceDifferences(a, b, accepted, "dovecot STLS"),
      ...surfaceDifferences(a, c, accepted, "dovecot STLS (against the emulator's 995)")
    ]
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("answers failed logins after Dovecot's failure delay, and the next one after its per-IP penalty", async () => {
    const [realEnd, fakeEnd] = endpoints()
    const failed = await differencesFrom(SOURCES, 60, realEnd, fakeEnd, named(FAILED), accepted, {
      realName: "dovecot",
      normalise,
      quietMs: 3_500
    })
    // Silence is what shows the waits: nothing within 1 s of a failed login (the failure delay), and
    // nothing within 3 s after the first failure (the penalty before the second); by 8 s it has come.
    const quiet = (first: number, probes: ReadonlyArray<string>, quietMs: number) =>
      differencesFrom(SOURCES, first, realEnd, fakeEnd, named(probes), accepted, {
        realName: "dovecot",
        normalise,
        quietMs
      })
    const waits = await Promise.all([
      quiet(90, FAILED.slice(0, 2), 1_000),
      quiet(93, PENALTY, 3_000),
      quiet(95, PENALTY, 8_000)
    ])
    const found = [...failed, ...waits.flat()]
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)
})
