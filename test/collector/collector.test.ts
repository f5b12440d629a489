// The collector core on real files and an in-process bus: what reaches `.log`, `.json` and the bus for our
// lines, foreign lines, dropped APP-NAMEs, repeats inside the rate-limit window (TestClock) and shell
// sessions; and the session aggregator and dedupe table on their own.
import * as fs from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, TestClock } from "effect"
import { MAX_DEDUPE_KEYS, makeDeduper } from "../../src/collector/Collector.js"
import { makeSessionAggregator, parseCmdMessage } from "../../src/collector/Sessions.js"
import { encodeEventLine } from "../../src/logging/HoneypotEvent.js"
import { event, harness, linesOf } from "./support.js"

const T0 = Date.UTC(2026, 3, 21, 12, 0, 0)
const textOf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")
const SOURCE = { container: "c0ffee", ts: "2026-04-21T12:00:00.5Z" }

describe("collector core", () => {
  it.scoped("keeps one of our lines: raw to .log, an EvidenceRecord to .json, system.log on the bus", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const ev = event({ fields: { username: "root", secret_printable: "toor" }, msg: "AUTH root" })
      const line = encodeEventLine(ev)
      expect(yield* h.collector.accept(`${line} \r`, SOURCE)).toBe("kept")

      expect(linesOf(h.log)).toEqual([line])
      // The JSON shape the ingester reads, key by key.
      expect(linesOf(h.json).map((l) => JSON.parse(l))).toEqual([
        {
          timestamp: "2026-04-21T12:00:00.123Z",
          decky: "decky-01",
          service: "redis",
          event_type: "auth",
          attacker_ip: "198.51.100.7",
          attacker_port: 51000,
          fields: { username: "root", secret_printable: "toor" },
          msg: "AUTH root",
          severity: 6,
          raw_line: line,
          source: { container: "c0ffee", ts: "2026-04-21T12:00:00.5Z" }
        }
      ])
      expect(h.records()).toEqual([{ ...ev, raw_line: line, source: SOURCE }])

      const logs = yield* h.published("system.log")
      expect(logs.map((e) => [e.type, e.payload])).toEqual([
        [
          "auth",
          {
            decky: "decky-01",
            service: "redis",
            event_type: "auth",
            attacker_ip: "198.51.100.7",
            timestamp: "2026-04-21T12:00:00.123Z"
          }
        ]
      ])
    })
  )

  it.scoped("parses foreign lines with the spec's guessing; a non-ISO timestamp takes the Clock's time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const h = yield* harness()
      const bash =
        "<13>1 2026-04-21T12:00:01.250000+00:00 decky-01 bash 4242 - - CMD uid=0 user=root src=203.0.113.9 pwd=/root cmd=uname -a"
      const prose = "<14>1 yesterday decky-02 app - login - accepted connection from 192.0.2.44 port 2222"
      expect(yield* h.collector.accept(bash, { container: "c1", ts: "2026-04-21T12:00:01Z" })).toBe("kept")
      expect(yield* h.collector.accept(prose, { container: "c1", ts: "2026-04-21T12:00:02Z" })).toBe("kept")
      const [cmd, login] = h.records()
      expect(cmd).toMatchObject({
        timestamp: new Date("2026-04-21T12:00:01.250Z"),
        decky: "decky-01",
        service: "bash",
        event_type: "command",
        attacker_ip: "203.0.113.9",
        attacker_port: null,
        fields: {},
        msg: "CMD uid=0 user=root src=203.0.113.9 pwd=/root cmd=uname -a",
        severity: 5,
        raw_line: bash
      })
      expect(login).toMatchObject({
        timestamp: new Date(T0),
        decky: "decky-02",
        service: "app",
        event_type: "login",
        attacker_ip: "192.0.2.44",
        msg: "accepted connection from 192.0.2.44 port 2222"
      })
    })
  )

  it.scoped("a line that is not RFC 5424 goes to .log only; a blank line goes nowhere", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      expect(yield* h.collector.accept("Traceback (most recent call last):", SOURCE)).toBe("unparsed")
      // A header that parses but a HOSTNAME the event Schema refuses (over 255 characters).
      const long = `<134>1 2026-04-21T12:00:00Z ${"h".repeat(300)} app - evt - x`
      expect(yield* h.collector.accept(long, SOURCE)).toBe("unparsed")
      expect(yield* h.collector.accept("   \t", SOURCE)).toBe("blank")
      expect(linesOf(h.log)).toEqual(["Traceback (most recent call last):", long])
      expect(fs.existsSync(h.json)).toBe(false)
      expect(yield* h.published("system.log")).toEqual([])
      expect(yield* h.collector.stats).toMatchObject({ lines: 2, unparsed: 2, kept: 0 })
    })
  )

  it.scoped("drops the configured APP-NAMEs from .json and the bus, never from .log", () =>
    Effect.gen(function* () {
      const h = yield* harness({ DECNET_COLLECTOR_DROP_APPS: "sshd, CRON" })
      const sshd =
        "<38>1 2026-04-21T12:00:00.1+00:00 decky-01 sshd 812 - - Failed password for root from 198.51.100.7 port 4000 ssh2"
      const cron =
        "<78>1 2026-04-21T12:00:00.2+00:00 decky-01 CRON 99 - - (root) CMD (run-parts /etc/cron.hourly)"
      const sudo =
        "<85>1 2026-04-21T12:00:00.3+00:00 decky-01 sudo 100 - - root : TTY=pts/0 ; COMMAND=/bin/ls"
      expect(yield* h.collector.accept(sshd, SOURCE)).toBe("dropped")
      expect(yield* h.collector.accept(cron, SOURCE)).toBe("dropped")
      // sudo is dropped by default, but this collector's list does not name it.
      expect(yield* h.collector.accept(sudo, SOURCE)).toBe("kept")
      expect(linesOf(h.log)).toEqual([sshd, cron, sudo])
      expect(h.records().map((r) => r.service)).toEqual(["sudo"])
      expect((yield* h.published("system.log")).map((e) => e.payload.service)).toEqual(["sudo"])
    })
  )

  it.scoped("the default drop list covers the spec's daemons", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      for (const app of [
        "sshd",
        "pam_unix",
        "sudo",
        "su",
        "CRON",
        "cron",
        "systemd",
        "kernel",
        "rsyslogd",
        "dbus-daemon"
      ])
        expect(yield* h.collector.acceptEvent(event({ service: app }))).toBe("dropped")
      expect(linesOf(h.log)).toHaveLength(10)
      expect(fs.existsSync(h.json)).toBe(false)
    })
  )

  it.scoped(
    "dedupes (ip, decky, service, type) inside the window for the listed types only (TestClock)",
    () =>
      Effect.gen(function* () {
        const h = yield* harness({ DECNET_COLLECTOR_RL_WINDOW_SEC: "1.5" })
        const connect = event({ event_type: "connect" })
        const accept = (e = connect) => h.collector.acceptEvent(e)
        expect(yield* accept()).toBe("kept")
        yield* TestClock.adjust("1 second")
        expect(yield* accept()).toBe("deduped")
        // Another address, decky, service or type is another key.
        expect(yield* accept(event({ event_type: "connect", attacker_ip: "198.51.100.8" }))).toBe("kept")
        expect(yield* accept(event({ event_type: "connect", decky: "decky-02" }))).toBe("kept")
        expect(yield* accept(event({ event_type: "connect", service: "ftp" }))).toBe("kept")
        expect(yield* accept(event({ event_type: "close" }))).toBe("kept")
        // Not a lifecycle type: never deduplicated.
        expect(yield* accept(event({ event_type: "auth" }))).toBe("kept")
        expect(yield* accept(event({ event_type: "auth" }))).toBe("kept")
        // The window runs from the last one kept: 1.5 s after it, the next passes.
        yield* TestClock.adjust("500 millis")
        expect(yield* accept()).toBe("kept")
        yield* TestClock.adjust("1499 millis")
        expect(yield* accept()).toBe("deduped")
        expect(linesOf(h.log)).toHaveLength(10)
        expect(h.records().filter((r) => r.event_type === "connect")).toHaveLength(5)
        expect(yield* h.collector.stats).toMatchObject({ lines: 10, kept: 8, deduped: 2 })
      })
  )

  it.scoped(
    "acceptMany over any cutting into chunks = accept line by line: outcomes, .log, .json, bus (property)",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(T0)
        const ours = (type: string, ip: string, msg: string) =>
          encodeEventLine(event({ event_type: type, attacker_ip: ip, msg }))
        const line = fc.oneof(
          // Lifecycle events of few keys (deduplicated inside the window), and kept ones.
          fc
            .tuple(
              fc.constantFrom("connect", "close", "auth"),
              fc.constantFrom("198.51.100.7", "198.51.100.8"),
              fc.string({ maxLength: 8 })
            )
            .map(([t, ip, m]) => ours(t, ip, m)),
          // A dropped APP-NAME, a foreign line, junk, blank and whitespace-padded lines.
          fc.constant(
            "<86>1 2026-04-21T12:00:00Z host sshd 77 - - Accepted password for root from 203.0.113.9 port 4242 ssh2"
          ),
          fc.constant("<13>1 2026-04-21T12:00:00Z host myapp 1 - - user=alice src=203.0.113.5 login"),
          fc.string({ maxLength: 20 }),
          fc.constantFrom("", "   ", "\t")
        )
        const cases = fc.sample(
          fc.record({
            lines: fc.array(line, { maxLength: 40 }),
            cuts: fc.array(fc.nat(40), { maxLength: 6 })
          }),
          { numRuns: 150, seed: 11 }
        )
        for (const c of cases) {
          const one = yield* harness()
          const many = yield* harness()
          const items = c.lines.map((l) => ({ line: l, source: SOURCE }))
          const singly: Array<string> = []
          for (const i of items) singly.push(yield* one.collector.accept(i.line, i.source))
          const bounds = [...new Set([0, ...c.cuts.filter((k) => k <= items.length), items.length])].sort(
            (a, b) => a - b
          )
          const chunked: Array<string> = []
          for (let k = 0; k + 1 < bounds.length; k++)
            chunked.push(...(yield* many.collector.acceptMany(items.slice(bounds[k], bounds[k + 1]))))
          expect(chunked).toEqual(singly)
          expect(textOf(many.log)).toBe(textOf(one.log))
          expect(linesOf(many.json)).toEqual(linesOf(one.json))
          const payloads = (h: typeof one) =>
            Effect.map(h.published("system.log"), (es) => es.map((e) => e.payload))
          expect(yield* payloads(many)).toEqual(yield* payloads(one))
          expect(yield* many.collector.stats).toEqual(yield* one.collector.stats)
        }
      }),
    120_000
  )

  it.scoped("a window of 0 turns deduplication off", () =>
    Effect.gen(function* () {
      const h = yield* harness({ DECNET_COLLECTOR_RL_WINDOW_SEC: "0" })
      for (let i = 0; i < 3; i++)
        expect(yield* h.collector.acceptEvent(event({ event_type: "connect" }))).toBe("kept")
    })
  )

  it.scoped("an in-process event is written as its own line, source inprocess", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const ev = event({ fields: { cmd: "GET", args: '["k"]' }, event_type: "command" })
      expect(yield* h.collector.acceptEvent(ev)).toBe("kept")
      expect(linesOf(h.log)).toEqual([encodeEventLine(ev)])
      expect(h.records()).toEqual([
        { ...ev, raw_line: encodeEventLine(ev), source: { container: "inprocess" } }
      ])
    })
  )

  it.scoped("a shell session's commands are published as attacker.session.ended", () =>
    Effect.gen(function* () {
      const h = yield* harness()
      const at = (s: number) => new Date(T0 + s * 1000)
      const cmd = (s: number, line: string, ip = "198.51.100.7") =>
        event({
          service: "ssh",
          event_type: "command",
          timestamp: at(s),
          attacker_ip: ip,
          fields: { cmd: line, uid: "0", user: "root", pwd: "/root" },
          msg: `CMD uid=0 user=root src=${ip} pwd=/root cmd=${line}`
        })
      yield* h.collector.acceptEvent(cmd(-600, "older than the session"))
      yield* h.collector.acceptEvent(cmd(1, "whoami"))
      yield* h.collector.acceptEvent(cmd(2, "uname -a"))
      yield* h.collector.acceptEvent(cmd(3, "id", "198.51.100.99"))
      yield* h.collector.acceptEvent(
        event({
          service: "ssh",
          event_type: "session_recorded",
          timestamp: at(10),
          fields: {
            sid: "s-1",
            service: "ssh",
            duration_s: "30.000",
            bytes: "512",
            truncated: "false",
            path: "/var/lib/decnet/artifacts/decky-01/ssh/s-1.cast"
          }
        })
      )
      const ended = yield* h.published("attacker.session.ended")
      expect(ended).toHaveLength(1)
      expect(ended[0]?.type).toBe("session.ended")
      expect(ended[0]?.payload).toEqual({
        session_id: "s-1",
        attacker_uuid: null,
        attacker_ip: "198.51.100.7",
        decky_id: "decky-01",
        service: "ssh",
        ended_at: at(10).toISOString(),
        duration_s: 30,
        commands: [
          {
            id: "s-1#0",
            command_text: "whoami",
            ts: at(1).toISOString(),
            decky: "decky-01",
            service: "ssh",
            uid: "0",
            user: "root",
            src: "198.51.100.7",
            pwd: "/root"
          },
          {
            id: "s-1#1",
            command_text: "uname -a",
            ts: at(2).toISOString(),
            decky: "decky-01",
            service: "ssh",
            uid: "0",
            user: "root",
            src: "198.51.100.7",
            pwd: "/root"
          }
        ],
        shard_path: "/var/lib/decnet/artifacts/decky-01/ssh/s-1.cast"
      })
      // Every command and the session were also system.log events, and all are in .json.
      expect((yield* h.published("system.log")).map((e) => e.type)).toEqual([
        "command",
        "command",
        "command",
        "command",
        "session_recorded"
      ])
      expect(h.records()).toHaveLength(5)
    })
  )
})

describe("session aggregator", () => {
  const T = Date.UTC(2026, 4, 2, 6, 22, 0)
  const bashCmd = (s: number, body: string, ip = "192.168.1.5") =>
    event({
      service: "bash",
      event_type: "command",
      timestamp: new Date(T + s * 1000),
      attacker_ip: ip,
      attacker_port: null,
      msg: body
    })
  const recorded = (s: number, fields: Record<string, string>) =>
    event({
      service: "sessrec",
      event_type: "session_recorded",
      timestamp: new Date(T + s * 1000),
      attacker_ip: "192.168.1.5",
      fields
    })

  it("splits a foreign bash CMD body into uid/user/src/pwd and the command, spaces kept", () => {
    expect(
      parseCmdMessage("CMD uid=0 user=root src=192.168.1.5 pwd=/root cmd=nmap -p- 192.168.1.0/24")
    ).toEqual({
      uid: "0",
      user: "root",
      src: "192.168.1.5",
      pwd: "/root",
      cmd: "nmap -p- 192.168.1.0/24"
    })
    // telnet's variant has no user or src.
    expect(parseCmdMessage("CMD uid=1000 pwd=/home/u cmd=ls")).toEqual({
      uid: "1000",
      pwd: "/home/u",
      cmd: "ls"
    })
    expect(parseCmdMessage("not a command")).toBeUndefined()
    const agg = makeSessionAggregator(3600)
    agg.add(bashCmd(0, "CMD uid=0 user=root src=192.168.1.5 pwd=/root cmd=cat /etc/passwd"), 0)
    const p = agg.add(recorded(5, { sid: "x", service: "ssh", duration_s: "10" }), 0)
    expect(p?.commands).toEqual([
      {
        id: "x#0",
        command_text: "cat /etc/passwd",
        ts: new Date(T).toISOString(),
        decky: "decky-01",
        service: "bash",
        uid: "0",
        user: "root",
        src: "192.168.1.5",
        pwd: "/root"
      }
    ])
    expect(p?.service).toBe("ssh")
    expect(p?.shard_path).toBeNull()
  })

  it("a session takes the commands of its window, once; back-to-back sessions are distinct", () => {
    const agg = makeSessionAggregator(3600)
    agg.add(bashCmd(-600, "CMD uid=0 cmd=too-old"), 0)
    agg.add(bashCmd(50, "CMD uid=0 cmd=whoami"), 0)
    const s1 = agg.add(recorded(60, { sid: "s1", duration_s: "60" }), 0)
    expect(s1?.commands.map((c) => c.command_text)).toEqual(["whoami"])
    agg.add(bashCmd(400, "CMD uid=0 cmd=ls"), 0)
    const s2 = agg.add(recorded(430, { sid: "s2", duration_s: "60" }), 0)
    expect(s2?.commands.map((c) => [c.id, c.command_text])).toEqual([["s2#0", "ls"]])
    expect(agg.size()).toBe(1)
  })

  it("without a sid the session id is null and command ids are synthetic; commands of another decky stay", () => {
    const agg = makeSessionAggregator(3600)
    agg.add(bashCmd(1, "CMD uid=0 cmd=whoami"), 0)
    agg.add({ ...bashCmd(2, "CMD uid=0 cmd=hostname"), decky: "decky-02" }, 0)
    const p = agg.add(recorded(5, { sid: "", duration_s: "60" }), 0)
    expect(p?.session_id).toBeNull()
    expect(p?.commands.map((c) => c.id)).toEqual([`192.168.1.5-${new Date(T + 1000).toISOString()}#0`])
    expect(agg.size()).toBe(1)
  })

  it("ignores Unknown addresses; commands expire after the TTL (Clock time)", () => {
    const agg = makeSessionAggregator(10)
    agg.add(bashCmd(0, "CMD uid=0 cmd=ghost", "Unknown"), 0)
    expect(agg.size()).toBe(0)
    agg.add(bashCmd(0, "CMD uid=0 cmd=old"), 0)
    agg.add(bashCmd(30, "CMD uid=0 cmd=fresh"), 30_000)
    expect(agg.size()).toBe(1)
    const p = agg.add(recorded(40, { sid: "s", duration_s: "3600" }), 31_000)
    expect(p?.commands.map((c) => c.command_text)).toEqual(["fresh"])
  })
})

describe("dedupe table", () => {
  it(`holds at most ${MAX_DEDUPE_KEYS} keys, forgetting the least recently kept`, () => {
    const d = makeDeduper(1, ["connect"])
    const ev = (i: number) => event({ event_type: "connect", attacker_ip: `10.0.${i >> 8}.${i & 255}` })
    for (let i = 0; i <= MAX_DEDUPE_KEYS; i++) d.mark(ev(i), 0)
    expect(d.size()).toBe(MAX_DEDUPE_KEYS)
    // The first key was forgotten (passes again); the last is still remembered.
    expect(d.check(ev(0), 0)).toBe(true)
    expect(d.check(ev(MAX_DEDUPE_KEYS), 0)).toBe(false)
  })
})
