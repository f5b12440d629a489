/**
 * telnet honeypot (spec/honeypots.md §2): busybox telnetd + /bin/login on an Ubuntu 20.04
 * persona. Option negotiation per RFC 854/855; `login:`/`Password:` prompts log every try as
 * `auth_attempt`; a login lands in the same fake shell as ssh, recorded as asciicast.
 */
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { Effect, Schema } from "effect"
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

export const TelnetConfig = Schema.Struct({
  password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  user: Schema.optionalWith(Schema.String, { default: () => "ubuntu" }),
  user_password: Schema.optionalWith(Schema.String, { default: () => "admin" }),
  hostname: Schema.optional(Schema.String)
})
export type TelnetConfig = typeof TelnetConfig.Type

const SLUG = "telnet"
/** /bin/login gives up after this many failures (login.defs LOGIN_RETRIES default 5; Ubuntu 3 in practice). */
const MAX_LOGIN_TRIES = 3
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

/** Reads decoded telnet data one line at a time, echoing (or not) as a tty in cooked mode would. */
const makeReader = (conn: Connection, decoder: TelnetDecoder) => {
  let pending = ""
  let total = 0
  let window = { cols: 80, rows: 24 }
  const chunk: Effect.Effect<string, ConnectionError> = Effect.gen(function* () {
    const raw = yield* conn.readChunk(64 * 1024)
    total += raw.length
    if (total > MAX_SESSION_INPUT)
      return yield* new LimitExceeded({ limit: "session input", max: MAX_SESSION_INPUT })
    const r = decoder.feed(raw)
    if (r.reply.length > 0) yield* conn.write(r.reply)
    if (r.window !== undefined) window = r.window
    return r.data.toString("utf8")
  })
  const line = (echo: boolean): Effect.Effect<string, ConnectionError> =>
    Effect.gen(function* () {
      let text = ""
      for (;;) {
        if (pending === "") pending = yield* chunk
        let echoOut = ""
        while (pending !== "") {
          const ch = pending[0]!
          pending = pending.slice(1)
          if (ch === "\r" || ch === "\n") {
            yield* conn.write(`${echoOut}\r\n`)
            return text
          }
          if (ch === "\x7f" || ch === "\b") {
            if (text !== "") {
              text = text.slice(0, -1)
              if (echo) echoOut += "\b \b"
            }
          } else if (ch >= " " && text.length < MAX_FIELD) {
            text += ch
            if (echo) echoOut += ch
          }
        }
        if (echoOut !== "") yield* conn.write(echoOut)
      }
    })
  return {
    chunk,
    line,
    window: () => window,
    takePending: () => {
      const p = pending
      pending = ""
      return p
    }
  }
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
    yield* conn.write(INITIAL_NEGOTIATION)
    yield* conn.write(`\r\nUbuntu 20.04.6 LTS\r\n`)
    let user: string | undefined
    for (let attempt = 0; attempt < MAX_LOGIN_TRIES && user === undefined; attempt++) {
      yield* conn.write(`${hostname} login: `)
      const name = yield* reader.line(true)
      if (name === "") {
        attempt--
        continue
      }
      yield* conn.write("Password: ")
      const pw = yield* reader.line(false)
      yield* events.emit({ _tag: "auth_attempt", username: name, ...credentialFields(name, pw, "plaintext") })
      if (
        (name === "root" && pw === config.password) ||
        (name === config.user && pw === config.user_password)
      ) {
        user = name
        conn.loggedIn()
      } else {
        // /bin/login pauses (FAIL_DELAY) before saying so.
        yield* Effect.sleep("300 millis")
        yield* conn.write("\r\nLogin incorrect\r\n")
      }
    }
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
      let input = reader.takePending()
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
