// The pop3 honeypot: Dovecot 2.3 as Debian ships it, in its two halves. Before login the client talks to
// pop3-login (eight commands; three unknown ones in a row and out); after login to pop3 (twenty-one bad
// commands and out). Texts, limits and the failed-login timing are Dovecot's (docs/honeypots/pop3.md).
import { Effect, Ref, Schema } from "effect"
import {
  acceptsLogin,
  type BaitMessage,
  decodeBase64,
  fullMailbox,
  MailboxConfigFields,
  type MailInstance,
  serveMailbox,
  splitMessage
} from "../mail/index.js"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  TlsConfigFields
} from "../runtime/index.js"
import { type Pop3Event, pop3Events } from "./Events.js"

export const Pop3Config = Schema.Struct({
  /** Greeting; `+OK ` is prepended when missing. Debian's Dovecot says `+OK Dovecot (Debian) ready.` */
  banner: Schema.optionalWith(Schema.String, { default: () => "+OK Dovecot (Debian) ready." }),
  ...MailboxConfigFields,
  ...TlsConfigFields
})
export type Pop3Config = typeof Pop3Config.Type

type Instance = MailInstance<Pop3Config>

const MAX_COMMANDS = 10_000
const MAX_COMMAND_EVENTS = 500
/** pop3-login-client.c CLIENT_MAX_BAD_COMMANDS: unknown commands in a row before login. */
const LOGIN_MAX_BAD = 3
/** pop3's CLIENT_MAX_BAD_COMMANDS: failed commands in a row after login (the 21st closes). */
const MAX_BAD = 20

/** RFC 1939 §3: a line starting with "." is byte-stuffed in a multi-line response. */
const dotStuff = (data: Buffer): string => {
  const text = data.toString("latin1").replace(/\r?\n/g, "\r\n")
  const lines = text.endsWith("\r\n") ? text.slice(0, -2).split("\r\n") : text.split("\r\n")
  return lines.map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n")
}

/** Dovecot's default pop3_uidl_format `%08Xu%08Xv`: the IMAP UID and the mailbox's UIDVALIDITY, in lowercase hex (as Dovecot writes it). */
const uidl = (uid: number, uidValidity: number): string =>
  `${uid.toString(16).padStart(8, "0")}${uidValidity.toString(16).padStart(8, "0")}`

const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<Pop3Event>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const { config, seeds } = instance
    const emit = events.emit
    const send = (text: string) => conn.write(`${text}\r\n`)
    const st: { state: "authorization" | "transaction" } = { state: "authorization" }
    let pendingUser: string | undefined
    let messages: ReadonlyArray<BaitMessage> = []
    const deleted = new Set<number>()
    let commandEvents = 0
    let suppressed = 0
    let bad = 0
    let closed = false

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", commands_suppressed: suppressed }))
    yield* send(config.banner.startsWith("+OK") ? config.banner : `+OK ${config.banner}`)

    const close = (text: string) =>
      Effect.gen(function* () {
        closed = true
        yield* conn.end(`${text}\r\n`)
      })

    /** Check credentials with Dovecot's timing: the IP's penalty first, the failure delay after. */
    const login = (username: string, password: Buffer, mechanism: "USER" | "PLAIN" | "LOGIN", had: number) =>
      Effect.gen(function* () {
        const ok = acceptsLogin(instance.users, username, password)
        yield* emit(
          {
            _tag: "auth",
            mechanism,
            username,
            ...credentialFields(username, password),
            outcome: ok ? "success" : "failure"
          },
          ok ? undefined : { severity: 4 }
        )
        if (!ok) {
          yield* instance.penalty.failed(conn.remoteAddress, had, username, password)
          return yield* send("-ERR [AUTH] Authentication failed.")
        }
        yield* instance.penalty.succeeded(conn.remoteAddress)
        conn.loggedIn()
        st.state = "transaction"
        bad = 0
        messages = fullMailbox(username, instance.domain, yield* Ref.get(seeds), instance.mailboxTime)
        yield* send("+OK Logged in.")
      })

    /** One SASL continuation: `undefined` when the client aborted with `*`. */
    const saslLine = (prompt: string) =>
      Effect.gen(function* () {
        yield* send(`+ ${prompt}`)
        const line = (yield* conn.readLine()).trim()
        return line === "*" ? undefined : line
      })

    /** AUTH (RFC 5034) with Dovecot's replies. */
    const auth = (args: string) =>
      Effect.gen(function* () {
        const [mechArg = "", ir] = args.split(" ")
        const mech = mechArg.toUpperCase()
        if (mech === "") return yield* send("+OK\r\nPLAIN\r\nLOGIN\r\n.")
        if (mech !== "PLAIN" && mech !== "LOGIN")
          return yield* send("-ERR [AUTH] Unsupported authentication mechanism.")
        const initial = ir === undefined ? undefined : ir === "=" ? Buffer.alloc(0) : decodeBase64(ir)
        if (ir !== undefined && initial === undefined)
          return yield* send("-ERR [AUTH] Invalid base64 data in initial response")
        const had = yield* instance.penalty.before(conn.remoteAddress)
        const aborted = send("-ERR Authentication aborted by client.")
        const invalid = send("-ERR [AUTH] Invalid base64 in response")
        const step = (prompt: string, given: Buffer | undefined) =>
          Effect.gen(function* () {
            if (given !== undefined) return { _tag: "data" as const, data: given }
            const line = yield* saslLine(prompt)
            if (line === undefined) return { _tag: "aborted" as const }
            const data = decodeBase64(line)
            return data === undefined ? { _tag: "invalid" as const } : { _tag: "data" as const, data }
          })
        if (mech === "PLAIN") {
          const r = yield* step("", initial)
          if (r._tag === "aborted") return yield* aborted
          if (r._tag === "invalid") return yield* invalid
          // RFC 4616: [authzid] NUL authcid NUL passwd; anything else is a failed login.
          const parts = r.data.toString("latin1").split("\0")
          const username = parts.length === 3 ? Buffer.from(parts[1] ?? "", "latin1").toString("utf8") : ""
          const password = parts.length === 3 ? Buffer.from(parts[2] ?? "", "latin1") : r.data
          return yield* login(username, password, "PLAIN", had)
        }
        const u = yield* step("VXNlcm5hbWU6", initial)
        if (u._tag === "aborted") return yield* aborted
        if (u._tag === "invalid") return yield* invalid
        const p = yield* step("UGFzc3dvcmQ6", undefined)
        if (p._tag === "aborted") return yield* aborted
        if (p._tag === "invalid") return yield* invalid
        return yield* login(u.data.toString("utf8"), p.data, "LOGIN", had)
      })

    /** One command before login (pop3-login's client_command_execute); false: unknown. */
    const preLogin = (cmd: string, args: string): Effect.Effect<boolean, ConnectionError> =>
      Effect.gen(function* () {
        switch (cmd) {
          case "CAPA":
            yield* send(
              [
                "+OK",
                "CAPA",
                "TOP",
                "UIDL",
                "RESP-CODES",
                "PIPELINING",
                "AUTH-RESP-CODE",
                ...(conn.isTls() ? [] : ["STLS"]),
                "USER",
                "SASL PLAIN LOGIN",
                "."
              ].join("\r\n")
            )
            return true
          case "USER":
            pendingUser = args
            yield* send("+OK")
            return true
          case "PASS": {
            if (pendingUser === undefined) {
              yield* send("-ERR No username given.")
              return true
            }
            // The user name is used once: a second PASS needs a new USER.
            const user = pendingUser
            pendingUser = undefined
            const had = yield* instance.penalty.before(conn.remoteAddress)
            yield* login(user, Buffer.from(args, "utf8"), "USER", had)
            return true
          }
          case "AUTH":
            yield* auth(args)
            return true
          case "APOP":
            yield* send("-ERR APOP not enabled.")
            return true
          case "STLS":
            if (conn.isTls()) yield* send("-ERR TLS is already active.")
            else {
              yield* send("+OK Begin TLS negotiation now.")
              yield* conn.startTls(instance.tls)
            }
            return true
          case "QUIT":
            yield* close("+OK Logging out")
            return true
          case "XCLIENT":
          case "XOIP":
            yield* send("+OK You are not from trusted IP - ignoring")
            return true
          default:
            yield* send("-ERR Unknown command.")
            return false
        }
      })

    /**
     * pop3-commands.c get_msgnum: a message number, then (for TOP) a space, else an error line. The
     * rest of the arguments comes back with the number.
     */
    const msgnum = (
      args: string,
      thenSpace: boolean
    ): { n: number; m: BaitMessage; rest: string } | string => {
      const m = /^(\d+)(.*)$/s.exec(args)
      if (m === null) return `-ERR Invalid message number: ${args}`
      const after = m[2] ?? ""
      if (thenSpace ? !after.startsWith(" ") : after !== "")
        return `-ERR Noise after message number: ${after}`
      const n = Number(m[1])
      const msg = messages[n - 1]
      if (n === 0 || msg === undefined) return `-ERR There's no message ${n}.`
      if (deleted.has(n)) return "-ERR Message is deleted."
      return { n, m: msg, rest: after.trimStart() }
    }
    const live = () => messages.map((m, i) => ({ n: i + 1, m })).filter(({ n }) => !deleted.has(n))

    /** One command after login (pop3-commands.c); false: it failed (counted as bad). */
    const transaction = (cmd: string, args: string): Effect.Effect<boolean, ConnectionError> =>
      Effect.gen(function* () {
        const fail = (text: string) => Effect.as(send(text), false)
        switch (cmd) {
          case "CAPA":
            yield* send(
              ["+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "."].join("\r\n")
            )
            return true
          case "NOOP":
          case "RSET":
            if (cmd === "RSET") deleted.clear()
            yield* send("+OK")
            return true
          case "QUIT":
            for (const n of deleted) yield* emit({ _tag: "delete", message_num: n })
            yield* close(deleted.size > 0 ? "+OK Logging out, messages deleted." : "+OK Logging out.")
            return true
          case "STAT": {
            const l = live()
            yield* send(`+OK ${l.length} ${l.reduce((s, { m }) => s + m.raw.length, 0)}`)
            return true
          }
          case "LIST":
          case "UIDL": {
            const render = ({ n, m }: { n: number; m: BaitMessage }) =>
              cmd === "LIST" ? `${n} ${m.raw.length}` : `${n} ${uidl(m.uid, instance.uidValidity)}`
            if (args !== "") {
              const p = msgnum(args, false)
              if (typeof p === "string") return yield* fail(p)
              yield* send(`+OK ${render(p)}`)
              return true
            }
            const l = live()
            yield* send(
              [cmd === "LIST" ? `+OK ${l.length} messages:` : "+OK", ...l.map(render), "."].join("\r\n")
            )
            return true
          }
          case "RETR": {
            const p = msgnum(args, false)
            if (typeof p === "string") return yield* fail(p)
            yield* emit({ _tag: "retr", message_num: p.n })
            yield* send(`+OK ${p.m.raw.length} octets\r\n${dotStuff(p.m.raw)}\r\n.`)
            return true
          }
          case "TOP": {
            const p = msgnum(args, true)
            if (typeof p === "string") return yield* fail(p)
            const k = /^\d+$/.test(p.rest) ? Number(p.rest) : undefined
            if (k === undefined) return yield* fail(`-ERR Invalid size: ${p.rest}`)
            const { header, text } = splitMessage(p.m.raw)
            const body = text.toString("latin1").split("\r\n").slice(0, k).join("\r\n")
            yield* send(`+OK\r\n${dotStuff(Buffer.concat([header, Buffer.from(body, "latin1")]))}\r\n.`)
            return true
          }
          case "DELE": {
            const p = msgnum(args, false)
            if (typeof p === "string") return yield* fail(p)
            deleted.add(p.n)
            yield* send("+OK Marked to be deleted.")
            return true
          }
          default:
            return yield* fail(`-ERR Unknown command: ${cmd}`)
        }
      })

    for (let i = 0; i < MAX_COMMANDS && !closed; i++) {
      const line = yield* conn.readLine()
      // pop3-login reads the name up to a space, CR or LF; the arguments are the rest of the line.
      const sp = line.search(/[ \r]/)
      const cmd = (sp < 0 ? line : line.slice(0, sp)).toUpperCase()
      const args = sp < 0 ? "" : line.slice(sp + 1)
      if (commandEvents < MAX_COMMAND_EVENTS) {
        commandEvents++
        // The PASS argument is a secret: it reaches the log only through the `auth` event.
        yield* emit({
          _tag: "command",
          cmd: cmd.slice(0, 32),
          args: cmd === "PASS" ? "" : args.trim().slice(0, 256),
          state: st.state
        })
      } else suppressed++
      if (st.state === "authorization") {
        if (yield* preLogin(cmd, args)) bad = 0
        else if (++bad >= LOGIN_MAX_BAD) yield* close("-ERR Too many invalid bad commands.")
      } else if (yield* transaction(cmd, args)) bad = 0
      else if (++bad > MAX_BAD) yield* close("-ERR Too many bad commands.")
    }
    if (!closed) yield* conn.end("-ERR Too many commands.\r\n")
  }).pipe(Effect.scoped)

export const pop3Honeypot = defineHoneypot({
  slug: "pop3",
  description: "Dovecot POP3 persona (110 STLS, 995 TLS) with a bait mailbox",
  ports: { tcp: [110, 995], udp: [] },
  config: Pop3Config,
  events: pop3Events,
  run: (options) =>
    serveMailbox({
      run: options,
      events: pop3Events,
      plainPort: 110,
      tlsPort: 995,
      session
    })
})
