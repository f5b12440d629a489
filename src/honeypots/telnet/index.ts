/**
 * telnet honeypot (spec/honeypots.md §2): busybox telnetd + /bin/login on an Ubuntu 20.04
 * persona. Option negotiation per RFC 854/855; `login:`/`Password:` prompts log every try as
 * `auth_attempt`; a login lands in the same fake shell as ssh, recorded as asciicast.
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { Duration, Effect, Option, Random, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  type HoneypotContextService,
  LimitExceeded,
  serveTcp
} from "../runtime/index.js"
import {
  crlf,
  emitCommand,
  emitSessionRecorded,
  motd,
  Recorder,
  Shell,
  shellPersona,
  Terminal
} from "../shell/index.js"
import { type TelnetEvent, telnetEvents } from "./Events.js"
import { INITIAL_NEGOTIATION, TelnetDecoder } from "./Protocol.js"
import { iacEscape, LineDiscipline, type TtyLine } from "./Tty.js"

/**
 * Linux-PAM's randomised failure delay (pam_delay.c _pam_compute_delay): the base times 1 plus the
 * mean of three uniform draws minus one half, so 0.5–1.5 times the base, most often near it.
 */
const pamDelay = (baseMs: number) =>
  Effect.map(
    Effect.all([Random.next, Random.next, Random.next]),
    ([a, b, c]) => baseMs * (1 + (a + b + c) / 3 - 0.5)
  )

/**
 * busybox's print_login_issue: `puts("\r")`, then the file with each LF followed by a CR, all
 * through the pty's ONLCR (LF → CR LF).
 */
const issueBanner = (text: string): string => `\r\r\n${text.replace(/\n/g, "\r\n\r")}`

export const TelnetConfig = Schema.Struct({
  password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  user: Schema.optionalWith(Schema.String, { default: () => "ubuntu" }),
  user_password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  hostname: Schema.optional(Schema.String)
})
export type TelnetConfig = typeof TelnetConfig.Type

const SLUG = "telnet"
/** /bin/login gives up after this many failures (login.defs LOGIN_RETRIES, 5 on Debian and Ubuntu). */
const MAX_LOGIN_TRIES = 5
/** login.defs LOGIN_TIMEOUT: /bin/login's alarm, from its start. */
const LOGIN_TIMEOUT_SECONDS = 60
/** /etc/pam.d/login's `pam_faildelay.so delay=3000000`, before "Login incorrect". */
const FAIL_DELAY_MS = 3000
/** /etc/issue.net of the persona, as busybox telnetd prints it before exec'ing login. */
const ISSUE_NET = "Ubuntu 20.04.6 LTS\n"
const MAX_FIELD = 256
const MAX_SESSION_INPUT = 4 * 1024 * 1024
const MAX_COMMAND_EVENTS = 2000

export const telnetHoneypot = defineHoneypot({
  slug: SLUG,
  description: "busybox telnetd with /bin/login (Ubuntu 20.04 persona) and a fake shell",
  ports: { tcp: [23], udp: [] },
  config: TelnetConfig,
  events: telnetEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const listener = yield* serveTcp({
        ...options.address(),
        events: telnetEvents,
        handler: (conn, events) => session(ctx, options.config, conn, events)
      })
      return [listener]
    })
})

/** Reads decoded telnet data: raw for login's tty, text for the shell. */
const makeReader = (conn: Connection, decoder: TelnetDecoder) => {
  let total = 0
  let window = { cols: 80, rows: 24 }
  const bytes: Effect.Effect<Buffer, ConnectionError> = Effect.gen(function* () {
    const raw = yield* conn.readChunk(64 * 1024)
    total += raw.length
    if (total > MAX_SESSION_INPUT)
      return yield* new LimitExceeded({ limit: "session input", max: MAX_SESSION_INPUT })
    const r = decoder.feed(raw)
    if (r.reply.length > 0) yield* conn.write(r.reply)
    if (r.window !== undefined) window = r.window
    return r.data
  })
  const chunk: Effect.Effect<string, ConnectionError> = Effect.map(bytes, (b) => b.toString("utf8"))
  return { bytes, chunk, window: () => window }
}

/**
 * /bin/login on the pty: prompts written by the program, input echoed by the line discipline as it
 * arrives (typed-ahead lines too), a line read when login asks for one.
 */
const makeLogin = (conn: Connection, reader: ReturnType<typeof makeReader>) => {
  const tty = new LineDiscipline()
  const feed = (data: Buffer) =>
    Effect.suspend(() => {
      const echo = tty.feed(data)
      return echo.length > 0 ? conn.write(iacEscape(echo)) : Effect.void
    })
  const write = (text: string) =>
    Effect.suspend(() => {
      tty.wrote(text)
      return conn.write(text)
    })
  /** The next line login reads; none when a signal character killed login. */
  const readLine: Effect.Effect<Option.Option<TtyLine>, ConnectionError> = Effect.gen(function* () {
    for (;;) {
      if (tty.killed) return Option.none()
      const line = tty.next()
      if (line !== undefined) return Option.some(line)
      yield* feed(yield* reader.bytes)
    }
  })
  /** Input that arrived while login was busy: echoed as the tty did at the time, then discarded. */
  const drain = Effect.gen(function* () {
    while (conn.buffered() > 0) yield* feed(yield* reader.bytes)
    tty.flush()
  })
  return { tty, write, readLine, drain }
}

const session = (
  ctx: HoneypotContextService,
  config: TelnetConfig,
  conn: Connection,
  events: Emitter<TelnetEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const srcIp = conn.remoteAddress
    const hostname = config.hostname ?? ctx.hostname
    const decoder = new TelnetDecoder()
    const reader = makeReader(conn, decoder)
    yield* events.emit({ _tag: "connect" })
    // One write: busybox sends the two from two processes and nmap, reading the first segment, names
    // it BusyBox telnetd only when they arrive together; here they always do.
    yield* conn.write(Buffer.concat([INITIAL_NEGOTIATION, Buffer.from(issueBanner(ISSUE_NET), "latin1")]))
    const login = makeLogin(conn, reader)
    const attempts = Effect.gen(function* () {
      for (let attempt = 0; attempt < MAX_LOGIN_TRIES; attempt++) {
        // After a failure login starts over on a flushed tty; the first prompt keeps typed-ahead input.
        if (attempt > 0) login.tty.flush()
        yield* login.write(`${hostname} login: `)
        const read = yield* login.readLine
        if (Option.isNone(read)) return Option.none<string>()
        const name = read.value
        // ^D on an empty line: no name, no password prompt, a failure all the same.
        const noName = name.eof && name.bytes.length === 0
        if (noName) yield* login.write("\r\n")
        else {
          if (name.eof) yield* login.write("\r\n")
          // The password prompt turns echo off with TCSAFLUSH: typed-ahead input is discarded.
          login.tty.flush()
          login.tty.echo = false
          yield* login.write("Password: ")
          const secret = yield* login.readLine
          if (Option.isNone(secret)) return Option.none<string>()
          const pw = secret.value.bytes
          login.tty.echo = true
          yield* login.write("\r\n")
          const username = name.bytes.subarray(0, MAX_FIELD).toString("utf8")
          const password = pw.subarray(0, MAX_FIELD).toString("utf8")
          yield* events.emit({
            _tag: "auth_attempt",
            username,
            ...credentialFields(username, password, "plaintext")
          })
          if (
            (username === "root" && password === config.password) ||
            (username === config.user && password === config.user_password)
          ) {
            conn.loggedIn()
            return Option.some(username)
          }
        }
        // pam_faildelay, held on this connection's fiber; what is typed meanwhile echoes, then goes.
        yield* Effect.sleep(Duration.millis(yield* pamDelay(FAIL_DELAY_MS)))
        yield* login.drain
        if (login.tty.killed) return Option.none<string>()
        yield* login.write("\r\nLogin incorrect\r\n")
      }
      yield* login.write(`Maximum number of tries exceeded (${MAX_LOGIN_TRIES})\r\n`)
      return Option.none<string>()
    })
    const outcome = yield* attempts.pipe(Effect.timeoutOption(Duration.seconds(LOGIN_TIMEOUT_SECONDS)))
    if (Option.isNone(outcome))
      return yield* conn.end(`\r\nLogin timed out after ${LOGIN_TIMEOUT_SECONDS} seconds.\r\n`)
    const user = Option.getOrUndefined(outcome.value)
    if (user === undefined) return yield* conn.end()
    const loggedIn = user
    const shell = new Shell(
      shellPersona(ctx, { release: "20.04", hostname, localIp: conn.localAddress, srcIp }),
      loggedIn
    )
    const terminal = new Terminal(shell)
    const win = reader.window()
    const recorder = new Recorder({
      width: win.cols,
      height: win.rows,
      term: "xterm",
      title: `${loggedIn}@${hostname}`
    })
    // Unique without any shared counter: clock plus randomness, per connection.
    const sid = `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`
    const who = { uid: shell.uid, user: loggedIn }
    let commandEvents = 0
    const out = (s: string) =>
      Effect.suspend(() => {
        recorder.record("o", s)
        return conn.write(s)
      })
    const finish = Effect.suspend(() =>
      Effect.flatMap(recorder.save(path.join(ctx.artifactsDir, SLUG, "transcripts", `${sid}.cast`)), (s) =>
        emitSessionRecorded(events, SLUG, sid, s)
      )
    )
    yield* Effect.gen(function* () {
      yield* out(crlf(motd("20.04", conn.localAddress)) + terminal.start())
      let input = ""
      for (;;) {
        if (input === "") input = yield* reader.chunk
        // One line at a time: each command's output is written (and waits for the client to read it,
        // past the high-water mark) before the next is run, so pipelined input cannot pile output up.
        const nl = input.search(/[\r\n]/)
        const piece = nl < 0 ? input : input.slice(0, nl + 1)
        input = input.slice(piece.length)
        recorder.record("i", piece)
        const r = terminal.feed(piece)
        for (const c of r.commands)
          if (commandEvents++ < MAX_COMMAND_EVENTS) yield* emitCommand(events, c, who)
        if (r.output !== "") yield* out(r.output)
        if (r.exit) return yield* conn.end()
      }
    }).pipe(Effect.ensuring(finish))
  })
