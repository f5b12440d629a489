import { Effect, Ref, Schema } from "effect"
import {
  acceptsLogin,
  type BaitMessage,
  decodeBase64,
  decodePlain,
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
  /** Greeting; `+OK ` is prepended when missing. nmap knows Dovecot by `+OK Dovecot ready.` */
  banner: Schema.optionalWith(Schema.String, { default: () => "+OK Dovecot ready." }),
  ...MailboxConfigFields,
  ...TlsConfigFields
})
export type Pop3Config = typeof Pop3Config.Type

type Instance = MailInstance<Pop3Config>

const MAX_COMMANDS = 10_000
const MAX_COMMAND_EVENTS = 500
/** Dovecot drops a client after this many bad commands (mail_max_userip… style). */
const MAX_BAD_COMMANDS = 20

/** RFC 1939 §3: a line starting with "." is byte-stuffed in a multi-line response. */
const dotStuff = (data: Buffer): string => {
  const text = data.toString("latin1").replace(/\r?\n/g, "\r\n")
  const lines = text.endsWith("\r\n") ? text.slice(0, -2).split("\r\n") : text.split("\r\n")
  return lines.map((l) => (l.startsWith(".") ? `.${l}` : l)).join("\r\n")
}

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

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", commands_suppressed: suppressed }))
    yield* send(config.banner.startsWith("+OK") ? config.banner : `+OK ${config.banner}`)

    const login = (username: string, password: Buffer, mechanism: "USER" | "PLAIN" | "LOGIN") =>
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
        pendingUser = undefined
        if (!ok) return yield* send("-ERR Authentication failed.")
        conn.loggedIn()
        st.state = "transaction"
        messages = fullMailbox(username, instance.domain, yield* Ref.get(seeds))
        yield* send("+OK Logged in.")
      })

    /** `msg` argument → the live message, or an error reply (RFC 1939 §5). */
    const pick = (arg: string | undefined): { n: number; m: BaitMessage } | string => {
      const n = Number.parseInt(arg ?? "", 10)
      if (!Number.isInteger(n) || !/^\d+$/.test(arg ?? ""))
        return "-ERR Invalid message number: " + (arg ?? "")
      const m = messages[n - 1]
      if (m === undefined || deleted.has(n)) return "-ERR There's no message " + n + "."
      return { n, m }
    }
    const live = () => messages.map((m, i) => ({ n: i + 1, m })).filter(({ n }) => !deleted.has(n))

    for (let i = 0; i < MAX_COMMANDS; i++) {
      const line = yield* conn.readLine()
      const parts = line.trim().split(/\s+/)
      const cmd = (parts[0] ?? "").toUpperCase()
      const args = parts.slice(1)
      if (commandEvents < MAX_COMMAND_EVENTS) {
        commandEvents++
        // The PASS argument is a secret: it reaches the log only through the `auth` event.
        yield* emit({
          _tag: "command",
          cmd: cmd.slice(0, 32),
          args: cmd === "PASS" ? "" : args.join(" ").slice(0, 256),
          state: st.state
        })
      } else suppressed++
      const authorized = st.state === "transaction"
      switch (cmd) {
        case "CAPA":
          yield* send(
            [
              "+OK",
              "TOP",
              "USER",
              "UIDL",
              "RESP-CODES",
              "AUTH-RESP-CODE",
              "SASL PLAIN LOGIN",
              ...(conn.isTls() || authorized ? [] : ["STLS"]),
              "."
            ].join("\r\n")
          )
          continue
        case "QUIT":
          if (authorized) {
            for (const n of deleted) yield* emit({ _tag: "delete", message_num: n })
          }
          yield* conn.end("+OK Logging out.\r\n")
          return
        case "NOOP":
          yield* send("+OK")
          continue
        case "STLS":
          if (authorized || conn.isTls()) yield* send("-ERR TLS is already active.")
          else {
            yield* send("+OK Begin TLS negotiation now.")
            yield* conn.startTls(instance.tls)
          }
          continue
        case "USER":
          if (authorized) yield* send("-ERR Unknown command: USER")
          else {
            pendingUser = line.trim().slice(4).trim()
            yield* send("+OK User name accepted, password please")
          }
          continue
        case "PASS":
          if (authorized) yield* send("-ERR Unknown command: PASS")
          else if (pendingUser === undefined) yield* send("-ERR USER required first")
          else yield* login(pendingUser, Buffer.from(line.trim().slice(4).replace(/^ /, ""), "utf8"), "USER")
          continue
        case "AUTH": {
          if (authorized) {
            yield* send("-ERR Unknown command: AUTH")
            continue
          }
          const mech = (args[0] ?? "").toUpperCase()
          if (mech === "") {
            yield* send("+OK\r\nPLAIN\r\nLOGIN\r\n.")
          } else if (mech === "PLAIN") {
            let resp = args[1]
            if (resp === undefined) {
              yield* send("+ ")
              resp = (yield* conn.readLine()).trim()
            }
            const creds = resp === "*" ? undefined : decodePlain(resp)
            if (creds === undefined)
              yield* send(
                resp === "*"
                  ? "-ERR Authentication aborted by client."
                  : "-ERR Invalid base64 data in continued response"
              )
            else yield* login(creds.username, creds.password, "PLAIN")
          } else if (mech === "LOGIN") {
            let u = args[1]
            if (u === undefined) {
              yield* send("+ VXNlcm5hbWU6")
              u = (yield* conn.readLine()).trim()
            }
            const user = decodeBase64(u)
            if (user === undefined) {
              yield* send("-ERR Invalid base64 data in continued response")
              continue
            }
            yield* send("+ UGFzc3dvcmQ6")
            const pass = decodeBase64(yield* conn.readLine())
            if (pass === undefined) yield* send("-ERR Invalid base64 data in continued response")
            else yield* login(user.toString("utf8"), pass, "LOGIN")
          } else yield* send("-ERR Unsupported authentication mechanism.")
          continue
        }
      }
      if (!authorized) {
        const known = /^(STAT|LIST|RETR|DELE|RSET|TOP|UIDL|LAST)$/.test(cmd)
        bad++
        yield* send(known ? "-ERR Not authenticated" : "-ERR Command not recognized")
        if (bad >= MAX_BAD_COMMANDS) {
          yield* conn.end("-ERR Too many bad commands.\r\n")
          return
        }
        continue
      }
      switch (cmd) {
        case "STAT": {
          const l = live()
          yield* send(`+OK ${l.length} ${l.reduce((s, { m }) => s + m.raw.length, 0)}`)
          break
        }
        case "LIST":
        case "UIDL": {
          const render = ({ n, m }: { n: number; m: BaitMessage }) =>
            cmd === "LIST" ? `${n} ${m.raw.length}` : `${n} msg-${m.uid}`
          if (args[0] !== undefined) {
            const p = pick(args[0])
            yield* send(typeof p === "string" ? p : `+OK ${render(p)}`)
          } else {
            const l = live()
            yield* send(
              [cmd === "LIST" ? `+OK ${l.length} messages:` : "+OK", ...l.map(render), "."].join("\r\n")
            )
          }
          break
        }
        case "RETR": {
          const p = pick(args[0])
          if (typeof p === "string") {
            yield* send(p)
            break
          }
          yield* emit({ _tag: "retr", message_num: p.n })
          yield* send(`+OK ${p.m.raw.length} octets\r\n${dotStuff(p.m.raw)}\r\n.`)
          break
        }
        case "TOP": {
          const p = pick(args[0])
          const k = Number.parseInt(args[1] ?? "", 10)
          if (typeof p === "string") yield* send(p)
          else if (!Number.isInteger(k) || k < 0)
            yield* send("-ERR Invalid number of lines: " + (args[1] ?? ""))
          else {
            const { header, text } = splitMessage(p.m.raw)
            const body = text.toString("latin1").split("\r\n").slice(0, k).join("\r\n")
            yield* send(`+OK\r\n${dotStuff(Buffer.concat([header, Buffer.from(body, "latin1")]))}\r\n.`)
          }
          break
        }
        case "DELE": {
          const p = pick(args[0])
          if (typeof p === "string") yield* send(p)
          else {
            deleted.add(p.n)
            yield* send("+OK Marked to be deleted.")
          }
          break
        }
        case "RSET":
          deleted.clear()
          yield* send(`+OK`)
          break
        case "LAST":
          yield* send(`+OK 0`)
          break
        default:
          bad++
          yield* send("-ERR Command not recognized")
          if (bad >= MAX_BAD_COMMANDS) {
            yield* conn.end("-ERR Too many bad commands.\r\n")
            return
          }
      }
    }
    yield* conn.end("-ERR Too many commands.\r\n")
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
