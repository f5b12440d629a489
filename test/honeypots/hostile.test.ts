// Real emulators under the hostile clients that found the gaps: readers that never read (imap FETCH of
// every body, a telnet shell fed pipelined commands), tricklers that reset every idle timer before
// logging in (smtp, ftp, ssh), and control bytes in what an attacker types. Each case checks that the
// memory held stays bounded, that the server closes the connection itself, and that the event saying
// so is logged. Deadlines run on TestClock.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ftpHoneypot } from "../../src/honeypots/ftp/index.js"
import { httpsHoneypot } from "../../src/honeypots/https/index.js"
import { imapHoneypot } from "../../src/honeypots/imap/index.js"
import type { Listener } from "../../src/honeypots/runtime/index.js"
import { smtpHoneypot } from "../../src/honeypots/smtp/index.js"
import { sshHoneypot } from "../../src/honeypots/ssh/index.js"
import { telnetHoneypot } from "../../src/honeypots/telnet/index.js"
import { hasUnsafeCharacter } from "../../src/logging/Rfc5424.js"
import { advanceUntil, connect, realSleep, trickle, waitReal } from "../support/hostile.js"
import { events, TestLayer } from "./support.js"

const cutEvents = (reason: string) =>
  Effect.map(events, (es) => es.filter((e) => e.type === "connection_closed" && e.fields.reason === reason))

const first = (listeners: ReadonlyArray<Listener>): Listener => {
  const l = listeners[0]
  if (l === undefined) throw new Error("no listener")
  return l
}

/** Wait (real time) until the client has received `marker`. */
const until = (client: { readonly text: () => string }, marker: string) =>
  waitReal(() => client.text().includes(marker))

describe("readers that never read", () => {
  it.scoped(
    "imap: FETCH 1:* (BODY[]) pipelined 2,000 times stays at the high-water mark; idle then closes it",
    () =>
      Effect.gen(function* () {
        const [plain] = yield* imapHoneypot.start({ host: "127.0.0.1", port: () => 0 })
        const listener = plain ?? first([])
        const login = yield* connect(listener.port)
        yield* until(login, "* OK")
        login.socket.write("a LOGIN admin admin123\r\nb SELECT INBOX\r\n")
        yield* until(login, "b OK")
        // Now stop reading and ask for every message body, over and over.
        login.socket.pause()
        login.socket.write("c FETCH 1:* (BODY[])\r\n".repeat(2000))
        yield* realSleep(1000)
        const stats = listener.stats()
        expect(stats.open).toBe(1)
        // The 256 KiB mark plus one FETCH reply in hand; without backpressure this was hundreds of MiB.
        expect(stats.queuedBytes).toBeLessThan(2 * 1024 * 1024)
        yield* advanceUntil("61 seconds", () => listener.stats().open === 0)
        expect(listener.stats().open).toBe(0)
        expect(listener.stats().cut.idle).toBe(1)
        expect(yield* cutEvents("idle")).toHaveLength(1)
      }).pipe(Effect.provide(TestLayer({ limits: { idleTimeoutMs: 60_000 } })))
  )

  it.scoped("telnet: a logged-in shell fed pipelined commands stays bounded; idle then closes it", () =>
    Effect.gen(function* () {
      const listener = first(yield* telnetHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
      const client = yield* connect(listener.port)
      yield* until(client, "login: ")
      client.socket.write("root\r\n")
      yield* until(client, "Password: ")
      client.socket.write("admin\r\n")
      yield* until(client, "# ")
      client.socket.pause()
      client.socket.write("cat /etc/passwd\r\n".repeat(100_000))
      yield* realSleep(1500)
      const stats = listener.stats()
      expect(stats.open).toBe(1)
      expect(stats.queuedBytes).toBeLessThan(1024 * 1024)
      yield* advanceUntil("61 seconds", () => listener.stats().open === 0)
      expect(listener.stats().cut.idle).toBe(1)
      expect(yield* cutEvents("idle")).toHaveLength(1)
    }).pipe(Effect.provide(TestLayer({ limits: { idleTimeoutMs: 60_000, loginGraceMs: 600_000 } })))
  )
})

describe("tricklers that never log in", () => {
  it.scoped("smtp: one byte every 5 s keeps the idle timer happy; the 120 s grace still closes it", () =>
    Effect.gen(function* () {
      const listener = first(yield* smtpHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
      const client = yield* connect(listener.port)
      yield* until(client, "220 ")
      yield* trickle(client, "E", "5 seconds")
      expect(client.closed()).toBe(true)
      expect(listener.stats()).toMatchObject({ open: 0, cut: { login_grace: 1, idle: 0 } })
      expect(yield* cutEvents("login_grace")).toHaveLength(1)
    }).pipe(Effect.provide(TestLayer({ limits: { idleTimeoutMs: 10_000 } })))
  )

  it.scoped("ftp: the same trickle before USER/PASS is closed at the grace", () =>
    Effect.gen(function* () {
      const listener = first(yield* ftpHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
      const client = yield* connect(listener.port)
      yield* until(client, "220")
      yield* trickle(client, "U", "5 seconds")
      expect(client.closed()).toBe(true)
      expect(listener.stats().cut.login_grace).toBe(1)
      expect(yield* cutEvents("login_grace")).toHaveLength(1)
    }).pipe(Effect.provide(TestLayer({ limits: { idleTimeoutMs: 10_000 } })))
  )

  it.scoped(
    "ssh: an identification string sent a byte at a time is closed at the grace (LoginGraceTime)",
    () =>
      Effect.gen(function* () {
        const listener = first(yield* sshHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
        const client = yield* connect(listener.port)
        yield* until(client, "SSH-2.0-")
        yield* trickle(client, "S", "5 seconds")
        expect(client.closed()).toBe(true)
        expect(listener.stats().cut.login_grace).toBe(1)
        expect(yield* cutEvents("login_grace")).toHaveLength(1)
      }).pipe(Effect.provide(TestLayer({ limits: { idleTimeoutMs: 10_000 } })))
  )
})

describe("clients that never finish a stage", () => {
  it.scoped("https: a TCP client that never starts the TLS handshake is closed after 15 s (handshake)", () =>
    Effect.gen(function* () {
      const listener = first(yield* httpsHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
      const client = yield* connect(listener.port)
      yield* realSleep(100)
      yield* advanceUntil("5 seconds", () => listener.stats().open === 0, 10)
      yield* waitReal(client.closed)
      expect(client.closed()).toBe(true)
      expect(listener.stats().cut.handshake).toBe(1)
      const cut = yield* cutEvents("handshake")
      expect(cut).toHaveLength(1)
      expect(Number(cut[0]?.fields.after_s)).toBeGreaterThanOrEqual(15)
    }).pipe(Effect.provide(TestLayer()))
  )
})

describe("control bytes from the attacker", () => {
  // Postfix refuses control characters in an address (501 5.1.7), so the bytes travel in a command it
  // does not know, which the emulator logs whole.
  it.scoped("smtp: a command with ESC and NUL reaches the log escaped and decodes back exactly", () =>
    Effect.gen(function* () {
      const listener = first(yield* smtpHoneypot.start({ host: "127.0.0.1", port: () => 0 }))
      const client = yield* connect(listener.port)
      yield* until(client, "220 ")
      client.socket.write("EHLO x\r\n")
      yield* until(client, "250 ")
      client.socket.write("MAIL\x1b[31m\x00b FROM:<a@example.org>\r\n")
      yield* waitReal(() => client.text().includes("500 5.5.2"))
      const unknown = (yield* events).filter((e) => e.type === "unknown_command")
      expect(unknown).toHaveLength(1)
      const line = unknown[0]
      expect(line?.raw.includes("\x1b")).toBe(false)
      expect(hasUnsafeCharacter(line?.raw ?? "")).toBe(false)
      expect(line?.raw).toContain("\\x1b[31m\\x00b")
      expect(line?.fields.command).toBe("MAIL\x1b[31m\x00b FROM:<a@example.org>")
    }).pipe(Effect.provide(TestLayer()))
  )
})
