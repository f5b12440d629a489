// Differential fidelity, imap (issue 14): Debian's Dovecot 2.3.19 imapd (a stock Debian mail host: STARTTLS
// with a self-signed certificate, plaintext logins allowed, PLAIN and LOGIN; test/fidelity/servers/imap.ts)
// and the imap emulator with the same accounts get the same probes: nmap's own service probes for port 143
// (read from the installed nmap-service-probes), imap-login's error cases (tags, parser errors, literals,
// AUTHENTICATE, the three-bad-commands close), failed logins with Dovecot's delay and per-IP penalty, and
// scripted sessions after login on the same mailbox (the emulator's bait, appended to the real INBOX).
// What a scanner can observe must match: the reply bytes (command timings and UIDVALIDITY normalised), and
// whether the connection was then closed, reset or left open; and the TLS surface ssl-enum-ciphers enumerates
// after STARTTLS and on 993 (tlsScan.ts). Accepted differences: accepted/imap.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { accepted } from "./accepted/imap.js"
import { differences, named } from "./diff.js"
import { appendBait, differencesFrom, sessionDifferences, sortRuns } from "./imapPop3.js"
import { nmapProbes, probe } from "./probe.js"
import { DOVECOT, emulatorConfig, start } from "./servers/imap.js"
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

/** Dovecot's per-command timing, the mailbox's UIDVALIDITY, and the LIST order (readdir's). */
const normalise = (b: Buffer): string =>
  sortRuns(
    b
      .toString("latin1")
      // Dovecot's login process says so when its auth process is slow to answer (a loaded test machine).
      .replace(/\* OK Waiting for authentication process to respond\.\.\r\n/g, "")
      .replace(/\(\d+\.\d{3} \+ \d+\.\d{3}(?: \+ \d+\.\d{3})? secs\)/g, "(T secs)")
      .replace(/UIDVALIDITY \d+/g, "UIDVALIDITY N"),
    "* LIST "
  )

const LOGIN = "a LOGIN admin admin123\r\n"

/** Before login: each on a fresh connection, from 127.0.0.1 (none fails a login). */
const PRE_LOGIN = [
  "a CAPABILITY\r\n",
  "a CAPABILITY extra\r\n",
  "a NOOP\r\n",
  "a noop extra\r\n",
  "a ID NIL\r\n",
  "a ID\r\n",
  'a ID ("name" "nmap")\r\n',
  "a ID foo\r\n",
  "a ID (\r\n",
  "a ENABLE QRESYNC\r\n",
  "a LOGOUT\r\n",
  "a SELECT INBOX\r\n",
  "a FOO\r\n",
  "FOO\r\n",
  "a\r\n",
  "\r\n",
  " a NOOP\r\n",
  "a  NOOP\r\n",
  "a+b NOOP\r\n",
  "* NOOP\r\n",
  "a FOO\r\nb FOO\r\n",
  "a FOO\r\nb FOO\r\nc FOO\r\n",
  "a FOO\r\nb NOOP\r\nc BAR\r\nd BAZ\r\ne NOOP\r\n",
  "LOGIN admin admin123\r\n",
  "a LOGIN\r\n",
  "a LOGIN admin\r\n",
  "a LOGIN admin admin123 extra\r\n",
  'a LOGIN "admin\r\n',
  "a NOOP (\r\n",
  "a NOOP )\r\n",
  "a LOGIN {abc}\r\n",
  "a LOGIN {99999}\r\n",
  "a LOGIN {8193}\r\n",
  "a LOGIN {3}\r\n",
  "a LOGIN a\tb c\r\n",
  "a AUTHENTICATE\r\n",
  "a AUTHENTICATE CRAM-MD5\r\n",
  "a AUTHENTICATE PLAIN\r\n",
  "a AUTHENTICATE PLAIN\r\n*\r\n",
  "a AUTHENTICATE PLAIN\r\n!!!\r\n",
  "a AUTHENTICATE PLAIN !!!\r\n",
  "a AUTHENTICATE LOGIN\r\n",
  "a AUTHENTICATE LOGIN\r\n*\r\n",
  "a AUTHENTICATE LOGIN YWRtaW4=\r\n",
  "a NOOP\rb NOOP\r\n",
  "a NOOP\n",
  "a STARTTLS\r\n",
  "SSH-2.0-OpenSSH_9.2p1\r\n",
  "HELP\r\n",
  "USER root\r\n"
]

/** Logins that succeed (no delay), each sent at once. */
const LOGINS = [
  LOGIN,
  "a AUTHENTICATE PLAIN AGFkbWluAGFkbWluMTIz\r\n",
  "a AUTHENTICATE LOGIN\r\nYWRtaW4=\r\nYWRtaW4xMjM=\r\n",
  "a LOGIN {5}\r\nadmin {8+}\r\nadmin123\r\n",
  `${LOGIN}${"x FOO\r\n".repeat(19)}`,
  `${LOGIN}${"x FOO\r\n".repeat(20)}`
]

/** Scripted client sessions after login: each command once the previous reply is complete. */
const SESSIONS: ReadonlyArray<{ name: string; steps: ReadonlyArray<string> }> = [
  [
    LOGIN,
    "b CAPABILITY",
    "c NOOP",
    "d ID NIL",
    "e NAMESPACE",
    'f LIST "" "*"',
    'g LIST "" ""',
    'h LIST "" "%"',
    'i LIST "" "S*"',
    "j LOGOUT"
  ],
  [
    LOGIN,
    "b FOO",
    "FOO",
    "",
    "c LOGIN a b",
    "d AUTHENTICATE PLAIN",
    "e STARTTLS",
    "f FETCH 1 FLAGS",
    "g CLOSE",
    "h UNSELECT",
    "i CHECK",
    "j ENABLE QRESYNC",
    "k STATUS Nope (MESSAGES)",
    "l SELECT Nope",
    "m FETCH",
    "n LOGOUT"
  ],
  [
    LOGIN,
    "b STATUS INBOX (MESSAGES UNSEEN UIDNEXT)",
    "c STATUS INBOX (UIDVALIDITY RECENT)",
    "d SELECT INBOX",
    "e SEARCH ALL",
    "f UID SEARCH ALL",
    "g FETCH 1:* (FLAGS)",
    "h UID FETCH 1:* (UID RFC822.SIZE)",
    "i FETCH 99 FLAGS",
    "j FETCH 2 (BODY.PEEK[HEADER])",
    "k FETCH 3 (BODY.PEEK[])",
    "l UID FETCH 5 (BODY.PEEK[TEXT])",
    "m FETCH 4 (ENVELOPE)",
    "n FETCH 1:3 ALL",
    "o CHECK",
    "p CLOSE",
    "q LOGOUT"
  ],
  [
    LOGIN,
    "b EXAMINE INBOX",
    "c FETCH 10 (FLAGS INTERNALDATE RFC822.SIZE)",
    "d STORE 1 +FLAGS (\\Deleted)",
    "e EXPUNGE",
    "f IDLE",
    "DONE",
    "g UNSELECT",
    "h LOGOUT"
  ]
].map((steps) => ({
  name: JSON.stringify(steps.map((l) => l.trim()).join(" / ")).slice(0, 70),
  steps: steps.map((l) => (l.endsWith("\r\n") ? l : `${l}\r\n`))
}))

/** Failed logins: each from its own source address, read until 3.5 s of silence (past the failure delay). */
const FAILED = [
  "a LOGIN admin wrong\r\n",
  "a LOGIN nobody wrong\r\nb NOOP\r\n",
  'a LOGIN "" ""\r\n',
  "a AUTHENTICATE PLAIN AGFkbWluAHdyb25n\r\n",
  "a AUTHENTICATE PLAIN =\r\n",
  "a AUTHENTICATE PLAIN AGFkbWlu\r\n",
  "a AUTHENTICATE LOGIN\r\nYWRtaW4=\r\nd3Jvbmc=\r\n",
  "a LOGIN {5}\r\nadmin {5+}\r\nwrong\r\n"
]

/**
 * The penalty: a second failure from the same address waits 4 s before it is even checked, then the
 * failure delay: its answer comes 5.5-6 s after the first (read until 8 s of silence).
 */
const PENALTY = ["a LOGIN admin x1\r\nb LOGIN admin x2\r\nc NOOP\r\n"]

/** Read the emulator's INBOX for admin: flags, internal date and bytes of each message. */
const readBait = async (port: number) => {
  const o = await probe(
    HOST,
    port,
    Buffer.from(`${LOGIN}b SELECT INBOX\r\nc FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])\r\nd LOGOUT\r\n`),
    500
  )
  const text = o.reply.toString("latin1")
  const out: Array<{ flags: string; date: string; body: string }> = []
  const re = /\* \d+ FETCH \(FLAGS \(([^)]*)\) INTERNALDATE "([^"]+)" BODY\[\] \{(\d+)\}\r\n/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const size = Number(m[3])
    out.push({ flags: m[1] ?? "", date: m[2] ?? "", body: text.slice(re.lastIndex, re.lastIndex + size) })
  }
  return out
}

suite("imap: the emulator answers probes as Debian's Dovecot imapd does", () => {
  let real: RealServer | undefined
  let fakePort = 0
  let fakeTlsPort = 0
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-imap-"))
  const endpoints = () =>
    [
      { host: HOST, port: real?.port ?? 0 },
      { host: HOST, port: fakePort }
    ] as const

  beforeAll(async () => {
    const realPort = await freePort()
    fakePort = await freePort()
    fakeTlsPort = await freePort()
    const fake = decnet(
      [
        "honeypot",
        "imap",
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
    real = await start({ host: HOST, port: realPort })
    const up = await waitUntil(async () => {
      const b = await probe(HOST, fakePort, Buffer.alloc(0), 100).catch(() => undefined)
      return b !== undefined && b.reply.length > 0
    }, 30_000)
    if (!up) throw new Error(`the emulator did not answer:\n${fake.stderr()}`)
    const bait = await readBait(fakePort)
    if (bait.length !== 10) throw new Error(`the emulator's INBOX has ${bait.length} messages`)
    const appended = await appendBait(HOST, realPort, bait)
    if ((appended.match(/ OK \[APPENDUID /g) ?? []).length !== bait.length)
      throw new Error(`dovecot refused the bait:\n${appended}`)
  }, 60_000)

  afterAll(async () => {
    await real?.stop()
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it("answers nmap's probes for 143 and imap-login's error cases with the same bytes and the same ending", async () => {
    const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), 143), ...named(PRE_LOGIN)]
    expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining(["NULL", "GetRequest"]))
    const [realEnd, fakeEnd] = endpoints()
    const found = await differences(realEnd, fakeEnd, corpus, accepted, { realName: "dovecot", normalise })
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)

  it("answers logins and the sessions after them on the same mailbox as Dovecot's imap does", async () => {
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

  it("offers Dovecot's TLS after STARTTLS and on 993: versions, suites and whose order, groups, DHE, tickets", async () => {
    const [a, b, c] = await Promise.all([
      scanTls(HOST, real?.port ?? 0, upgrades.imap),
      scanTls(HOST, fakePort, upgrades.imap),
      scanTls(HOST, fakeTlsPort)
    ])
    console.log(`dovecot STARTTLS:\n  ${describeSurface(a).join("\n  ")}`)
    // What was measured on Dovecot 2.3.19 with Debian's defaults (so a broken scan cannot pass as equal).
    expect(a.versions.map((v) => `${v.version} ${v.order} ${v.suites.length}`)).toEqual([
      "TLSv1.2 client 28",
      "TLSv1.3 client 3"
    ])
    // Dovecot's 993 listener has the same ssl settings as STARTTLS on 143.
    const found = [
      ...surfaceDifferences(a, b, accepted, "dovecot STARTTLS"),
      ...surfaceDifferences(a, c, accepted, "dovecot STARTTLS (against the emulator's 993)")
    ]
    expect(found, found.join("\n")).toEqual([])
  }, 120_000)

  it("answers failed logins after Dovecot's failure delay, and the next one after its per-IP penalty", async () => {
    const [realEnd, fakeEnd] = endpoints()
    const failed = await differencesFrom(SOURCES, 10, realEnd, fakeEnd, named(FAILED), accepted, {
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
      quiet(40, FAILED.slice(0, 2), 1_000),
      quiet(43, PENALTY, 3_000),
      quiet(45, PENALTY, 8_000)
    ])
    const found = [...failed, ...waits.flat()]
    expect(found, found.join("\n")).toEqual([])
  }, 60_000)
})
