// What the imap and pop3 differential tests share: the whole suite (Debian's Dovecot and the emulator with
// the same accounts and the same mailbox get the same probes: nmap's, the login process's error cases,
// logins and scripted sessions, the TLS surface after STARTTLS/STLS and on the TLS port, failed logins with
// Dovecot's delay and per-IP penalty), each test file giving its protocol's probes and normalisation; and
// its parts: a probe from a chosen loopback source address (Dovecot keeps its failed-login penalty per
// source IP, so each failed-login probe comes from an address of its own, the same one for the real server
// and the emulator), a client that waits between steps, and the report of a difference.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll } from "../support/proc.js"
import type { Accepted } from "./accepted.js"
import { type CorpusProbe, differences, named } from "./diff.js"
import { nmapProbes, type Observation, observe, probe, untilAnswered } from "./probe.js"
import { DOVECOT, startDovecot } from "./servers/imap.js"
import type { RealServer } from "./servers/types.js"
import { describeSurface, scanTls, surfaceDifferences, upgrades } from "./tlsScan.js"

/**
 * A client that waits: the greeting, then each step once the reply to the previous one has gone quiet
 * for `quietMs` (as a mail client does; Dovecot runs pipelined commands in parallel and interleaves
 * their replies, which no client relies on).
 */
export const probeSteps = (host: string, port: number, steps: ReadonlyArray<string>, quietMs: number) =>
  observe(host, port, Buffer.alloc(0), {
    quietMs,
    maxMs: 30_000,
    steps: steps.map((step) => Buffer.from(step, "latin1"))
  })

/** Scripted sessions, one after the other: the differences not accepted. */
export const sessionDifferences = async (
  real: { host: string; port: number },
  fake: { host: string; port: number },
  sessions: ReadonlyArray<{ readonly name: string; readonly steps: ReadonlyArray<string> }>,
  accepted: ReadonlyArray<Accepted>,
  options: { normalise: (b: Buffer) => string; quietMs: number; realName: string }
): Promise<Array<string>> => {
  const ok = new Set(accepted.map((a) => a.probe))
  const out: Array<string> = []
  for (const session of sessions) {
    const [a, b] = await Promise.all([
      probeSteps(real.host, real.port, session.steps, options.quietMs),
      probeSteps(fake.host, fake.port, session.steps, options.quietMs)
    ])
    const d = explain(session.name, a, b, options)
    if (d !== undefined && !ok.has(session.name)) out.push(d)
  }
  return out
}

/** One difference in words, from the first line that differs (long sessions differ late); or none. */
const explain = (
  name: string,
  a: Observation,
  b: Observation,
  options: { normalise: (b: Buffer) => string; realName: string }
): string | undefined => {
  const ra = options.normalise(a.reply)
  const rb = options.normalise(b.reply)
  if (ra === rb && a.ending === b.ending) return undefined
  const la = ra.split("\r\n")
  const lb = rb.split("\r\n")
  let at = 0
  while (at < la.length && la[at] === lb[at]) at++
  const from = (l: Array<string>) => l.slice(Math.max(0, at - 1), at + 3).join("\r\n")
  const show = (o: Observation, l: Array<string>) =>
    `${at > 1 ? "…" : ""}${JSON.stringify(from(l).slice(0, 600))} (${o.ending})`
  return `${name}\n  ${options.realName}: ${show(a, la)}\n  emulator: ${show(b, lb)}`
}

/**
 * Each probe from its own source address (`${prefix}${first + i}`), all at once: the differences not
 * accepted, as diff.ts words them.
 */
export const differencesFrom = async (
  prefix: string | undefined,
  first: number,
  real: { host: string; port: number },
  fake: { host: string; port: number },
  corpus: ReadonlyArray<CorpusProbe>,
  accepted: ReadonlyArray<Accepted>,
  options: { normalise: (b: Buffer) => string; quietMs: number; realName: string }
): Promise<Array<string>> => {
  const ok = new Set(accepted.map((a) => a.probe))
  const results = await Promise.all(
    corpus.map(async (p, i) => {
      const src = prefix === undefined ? undefined : `${prefix}${first + i}`
      const [a, b] = await Promise.all([
        probe(real.host, real.port, p.bytes, options.quietMs, 20_000, src),
        probe(fake.host, fake.port, p.bytes, options.quietMs, 20_000, src)
      ])
      return ok.has(p.name) ? undefined : explain(p.name, a, b, options)
    })
  )
  return results.filter((r): r is string => r !== undefined)
}

/** Sort each run of consecutive lines starting with `prefix` (an order the server does not promise). */
export const sortRuns = (text: string, prefix: string): string => {
  const out: Array<string> = []
  let run: Array<string> = []
  for (const line of text.split("\r\n")) {
    if (line.startsWith(prefix)) {
      run.push(line)
      continue
    }
    out.push(...run.sort(), line)
    run = []
  }
  out.push(...run.sort())
  return out.join("\r\n")
}

/**
 * APPEND the bait to a real Dovecot's INBOX for admin over IMAP (LITERAL+, with each message's flags
 * and date), then open it once so no message stays \\Recent. Returns the server's replies.
 */
export const appendBait = async (
  host: string,
  port: number,
  bait: ReadonlyArray<{ flags: string; date?: string; body: string }>
) => {
  const cmds = bait.map(
    (m, i) =>
      `a${i} APPEND INBOX (${m.flags})${m.date === undefined ? "" : ` "${m.date}"`} {${Buffer.byteLength(m.body, "latin1")}+}\r\n${m.body}\r\n`
  )
  // LOGIN first, on its own: imap-login's input buffer is small, and while its auth process is still
  // connecting (a loaded machine) a pipelined batch overflows it ("BYE Input buffer full").
  const o = await probeSteps(
    host,
    port,
    ["a LOGIN admin admin123\r\n", cmds.join(""), "s SELECT INBOX\r\nz LOGOUT\r\n"],
    300
  )
  return o.reply.toString("latin1")
}

/** A message of the emulator's INBOX, as appendBait puts it into the real one. */
export interface Bait {
  readonly flags: string
  readonly date?: string
  readonly body: string
}

export interface DovecotSuite {
  readonly protocol: "imap" | "pop3"
  /** The port nmap's probes are chosen for (143, 110), one of them named here must be among them. */
  readonly nmapPort: number
  readonly nmapProbe: string
  /** The TLS upgrade command (STARTTLS, STLS) and the port of TLS from the start (993, 995). */
  readonly starttls: string
  readonly tlsPort: number
  readonly emulatorConfig: Record<string, unknown>
  readonly accepted: ReadonlyArray<Accepted>
  readonly normalise: (b: Buffer) => string
  /** Before login: each on a fresh connection, from 127.0.0.1 (none fails a login). */
  readonly preLogin: ReadonlyArray<string>
  /** Logins that succeed (no delay), each sent at once. */
  readonly logins: ReadonlyArray<string>
  /** Scripted client sessions after login: each command once the previous reply is complete. */
  readonly sessions: ReadonlyArray<{ readonly name: string; readonly steps: ReadonlyArray<string> }>
  /** Failed logins: each from its own source address, read until 3.5 s of silence (past the failure delay). */
  readonly failed: ReadonlyArray<string>
  /**
   * The penalty: a second failure from the same address waits 4 s before it is even checked, then the
   * failure delay: its answer comes 5.5-6 s after the first (read until 8 s of silence).
   */
  readonly penalty: ReadonlyArray<string>
  /** The first of the source addresses 127.14.4.<n> the failed logins use (each suite its own). */
  readonly firstSource: number
  /** The emulator's INBOX for admin, read over the protocol. */
  readonly readBait: (host: string, port: number) => Promise<ReadonlyArray<Bait>>
}

const PROBES_FILE = "/usr/share/nmap/nmap-service-probes"
const HOST = "127.0.0.1"
/** Failed-login probes come from 127.14.4.<n>, one address each (this helper's loopback range). */
const SOURCES = "127.14.4."

/** The differential suite of Dovecot's `protocol` against its emulator. */
export const dovecotSuite = (o: DovecotSuite): void => {
  const onCi = process.env.CI !== undefined && process.env.CI !== ""
  const root = process.getuid?.() === 0
  const ready = root && existsSync(DOVECOT) && existsSync(PROBES_FILE)
  const suite = ready || onCi ? describe : describe.skip
  const { accepted, normalise, protocol } = o

  suite(`${protocol}: the emulator answers probes as Debian's Dovecot ${protocol}d does`, () => {
    let real: RealServer | undefined
    let fakePort = 0
    let fakeTlsPort = 0
    const dir = mkdtempSync(join(tmpdir(), `decnet-fidelity-${protocol}-`))
    const endpoints = () =>
      [
        { host: HOST, port: real?.port ?? 0 },
        { host: HOST, port: fakePort }
      ] as const

    beforeAll(async () => {
      const realPort = await freePort()
      // pop3's bait goes in over IMAP: the same instance serves IMAP on a port of its own.
      const imapPort = protocol === "imap" ? realPort : await freePort()
      fakePort = await freePort()
      fakeTlsPort = await freePort()
      const fake = decnet(
        [
          "honeypot",
          protocol,
          "--host",
          HOST,
          "--port",
          String(fakePort),
          "--port",
          String(fakeTlsPort),
          "--config",
          JSON.stringify(o.emulatorConfig)
        ],
        cleanEnv({ HOME: dir })
      )
      real = await startDovecot(
        protocol,
        { host: HOST, port: realPort },
        protocol === "imap" ? undefined : imapPort
      )
      await untilAnswered([fake], [() => probe(HOST, fakePort, Buffer.alloc(0), 100)])
      const bait = await o.readBait(HOST, fakePort)
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

    it(`answers nmap's probes for ${o.nmapPort} and ${protocol}-login's error cases with the same bytes and the same ending`, async () => {
      const corpus = [...nmapProbes(readFileSync(PROBES_FILE, "utf8"), o.nmapPort), ...named(o.preLogin)]
      expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining(["NULL", o.nmapProbe]))
      const [realEnd, fakeEnd] = endpoints()
      const found = await differences(realEnd, fakeEnd, corpus, accepted, { realName: "dovecot", normalise })
      expect(found, found.join("\n")).toEqual([])
    }, 60_000)

    it(`answers logins and the sessions after them on the same mailbox as Dovecot's ${protocol} does`, async () => {
      const [realEnd, fakeEnd] = endpoints()
      const logins = await differences(realEnd, fakeEnd, named(o.logins), accepted, {
        realName: "dovecot",
        normalise,
        quietMs: 600
      })
      const sessions = await sessionDifferences(realEnd, fakeEnd, o.sessions, accepted, {
        realName: "dovecot",
        normalise,
        quietMs: 200
      })
      const found = [...logins, ...sessions]
      expect(found, found.join("\n")).toEqual([])
    }, 60_000)

    it(`offers Dovecot's TLS after ${o.starttls} and on ${o.tlsPort}: versions, suites and whose order, groups, DHE, tickets`, async () => {
      const [a, b, c] = await Promise.all([
        scanTls(HOST, real?.port ?? 0, upgrades[protocol]),
        scanTls(HOST, fakePort, upgrades[protocol]),
        scanTls(HOST, fakeTlsPort)
      ])
      console.log(`dovecot ${o.starttls}:\n  ${describeSurface(a).join("\n  ")}`)
      // What was measured on Dovecot 2.3.19 with Debian's defaults (so a broken scan cannot pass as equal).
      expect(a.versions.map((v) => `${v.version} ${v.order} ${v.suites.length}`)).toEqual([
        "TLSv1.2 client 28",
        "TLSv1.3 client 3"
      ])
      // Dovecot's TLS-port listener has the same ssl settings as the upgrade on the plain port.
      const found = [
        ...surfaceDifferences(a, b, accepted, `dovecot ${o.starttls}`),
        ...surfaceDifferences(a, c, accepted, `dovecot ${o.starttls} (against the emulator's ${o.tlsPort})`)
      ]
      expect(found, found.join("\n")).toEqual([])
    }, 120_000)

    it("answers failed logins after Dovecot's failure delay, and the next one after its per-IP penalty", async () => {
      const [realEnd, fakeEnd] = endpoints()
      const quiet = (first: number, probes: ReadonlyArray<string>, quietMs: number) =>
        differencesFrom(SOURCES, first, realEnd, fakeEnd, named(probes), accepted, {
          realName: "dovecot",
          normalise,
          quietMs
        })
      const failed = await quiet(o.firstSource, o.failed, 3_500)
      // Silence is what shows the waits: nothing within 1 s of a failed login (the failure delay), and
      // nothing within 3 s after the first failure (the penalty before the second); by 8 s it has come.
      const waits = await Promise.all([
        quiet(o.firstSource + 30, o.failed.slice(0, 2), 1_000),
        quiet(o.firstSource + 33, o.penalty, 3_000),
        quiet(o.firstSource + 35, o.penalty, 8_000)
      ])
      const found = [...failed, ...waits.flat()]
      expect(found, found.join("\n")).toEqual([])
    }, 60_000)
  })
}
