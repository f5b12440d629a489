import { Effect, Ref, Schema } from "effect"
import {
  acceptsLogin,
  type BaitMessage,
  decodeBase64,
  decodePlain,
  fullMailbox,
  imapDate,
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
  LimitExceeded,
  TlsConfigFields
} from "../runtime/index.js"
import { type ImapEvent, imapEvents } from "./Events.js"

export const ImapConfig = Schema.Struct({
  /** The whole greeting line; default Dovecot's, with its CAPABILITY code. */
  banner: Schema.optional(Schema.String),
  ...MailboxConfigFields,
  ...TlsConfigFields
})
export type ImapConfig = typeof ImapConfig.Type

type Instance = MailInstance<ImapConfig>

const PRE_CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
const AUTH_CAPS = "AUTH=PLAIN AUTH=LOGIN"
const POST_CAPS =
  "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY LITERAL+ NOTIFY SPECIAL-USE"
const MAILBOXES = ["INBOX", "Sent", "Drafts", "Archive"] as const
const UIDVALIDITY = 1712345678
/** A literal `{n}` larger than this closes the connection (Dovecot's own limit is similar). */
const MAX_LITERAL = 64 * 1024
const MAX_LITERALS_PER_COMMAND = 8
const MAX_COMMANDS = 10_000
/** `command` events per connection; the rest are counted on `disconnect`. */
const MAX_COMMAND_EVENTS = 500

type State = "not_authenticated" | "authenticated" | "selected"

/** RFC 3501 §4.3 quoted string: `"` and `\` escaped. */
const quoteString = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
const nstring = (s: string): string => (s === "" ? "NIL" : quoteString(s))

/** Split `atom "quoted string" atom` (RFC 3501 §4); parentheses are kept inside atoms. */
export const tokenize = (text: string): Array<string> => {
  const out: Array<string> = []
  let i = 0
  while (i < text.length && out.length < 64) {
    if (text[i] === " ") {
      i++
      continue
    }
    if (text[i] === '"') {
      let s = ""
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < text.length) i++
        s += text[i]
        i++
      }
      i++
      out.push(s)
      continue
    }
    const start = i
    while (i < text.length && text[i] !== " ") i++
    out.push(text.slice(start, i))
  }
  return out
}

/** RFC 3501 §9 sequence-set → sorted numbers in 1..max (`*` = max). Bounded by `max`. */
export const parseSequenceSet = (set: string, max: number): Array<number> => {
  const picked = new Set<number>()
  if (max === 0) return []
  for (const part of set.split(",").slice(0, 256)) {
    const [a, b] = part.split(":")
    const num = (x: string | undefined) => (x === "*" ? max : Number.parseInt(x ?? "", 10))
    const lo = num(a)
    const hi = b === undefined ? lo : num(b)
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue
    const from = Math.max(1, Math.min(lo, hi))
    const to = Math.min(max, Math.max(lo, hi))
    for (let n = from; n <= to; n++) picked.add(n)
  }
  return [...picked].sort((x, y) => x - y)
}

/** RFC 3501 §7.4.2 ENVELOPE for one address `Name <box@host>`. */
const addressList = (addr: string): string => {
  const m = /^(.*?)\s*<([^@>]+)@([^>]+)>$/.exec(addr) ?? /^()([^@]+)@(.+)$/.exec(addr)
  if (m === null) return "NIL"
  return `((${nstring(m[1]!.replace(/^"|"$/g, ""))} NIL ${quoteString(m[2]!)} ${quoteString(m[3]!)}))`
}

const envelope = (m: BaitMessage): string => {
  const from = addressList(m.from)
  return `(${quoteString(
    m.raw
      .toString("utf8")
      .match(/^Date: (.*)$/m)?.[1]
      ?.trim() ?? ""
  )} ${quoteString(m.subject)} ${from} ${from} ${from} ${addressList(m.to)} NIL NIL NIL ${quoteString(m.messageId)})`
}

interface Literal {
  readonly name: string
  readonly data: Buffer
}

/** One FETCH response line for message `seq` (RFC 3501 §7.4.2). */
const fetchResponse = (seq: number, m: BaitMessage, items: string, uidMode: boolean): Buffer => {
  const upper = items.toUpperCase()
  const parts: Array<string | Literal> = []
  const has = (re: RegExp) => re.test(upper)
  const all = has(/\bALL\b/)
  const full = has(/\bFULL\b/)
  const fast = has(/\bFAST\b/)
  if (uidMode || has(/\bUID\b/)) parts.push(`UID ${m.uid}`)
  if (all || full || fast || has(/\bFLAGS\b/)) parts.push(`FLAGS (${m.seen ? "\\Seen" : ""})`)
  if (all || full || fast || has(/\bINTERNALDATE\b/)) parts.push(`INTERNALDATE "${imapDate(m.date)}"`)
  if (all || full || fast || has(/\bRFC822\.SIZE\b/)) parts.push(`RFC822.SIZE ${m.raw.length}`)
  if (all || full || has(/\bENVELOPE\b/)) parts.push(`ENVELOPE ${envelope(m)}`)
  const { header, text } = splitMessage(m.raw)
  if (has(/BODY(\.PEEK)?\[\]/)) parts.push({ name: "BODY[]", data: m.raw })
  if (has(/\bRFC822(?![.\w])/)) parts.push({ name: "RFC822", data: m.raw })
  if (has(/BODY(\.PEEK)?\[HEADER(\.FIELDS[^\]]*)?\]/) || has(/\bRFC822\.HEADER\b/))
    parts.push({ name: has(/\bRFC822\.HEADER\b/) ? "RFC822.HEADER" : "BODY[HEADER]", data: header })
  if (has(/BODY(\.PEEK)?\[TEXT\]/) || has(/\bRFC822\.TEXT\b/))
    parts.push({ name: has(/\bRFC822\.TEXT\b/) ? "RFC822.TEXT" : "BODY[TEXT]", data: text })
  if (has(/BODY(\.PEEK)?\[1\]/)) parts.push({ name: "BODY[1]", data: text })
  const chunks: Array<Buffer> = [Buffer.from(`* ${seq} FETCH (`)]
  parts.forEach((p, i) => {
    const sep = i === 0 ? "" : " "
    if (typeof p === "string") chunks.push(Buffer.from(sep + p))
    else chunks.push(Buffer.from(`${sep}${p.name} {${p.data.length}}\r\n`), p.data)
  })
  chunks.push(Buffer.from(")\r\n"))
  return Buffer.concat(chunks)
}

const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<ImapEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const { config, seeds } = instance
    const emit = events.emit
    const send = (text: string) => conn.write(`${text}\r\n`)
    const st: { state: State } = { state: "not_authenticated" }
    let user = ""
    let selected: ReadonlyArray<BaitMessage> = []
    let readOnly = false
    let commandEvents = 0
    let suppressed = 0
    const caps = () => `${PRE_CAPS}${conn.isTls() ? "" : " STARTTLS"} ${AUTH_CAPS}`

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", commands_suppressed: suppressed }))
    yield* send(config.banner ?? `* OK [CAPABILITY ${caps()}] Dovecot (Ubuntu) ready.`)

    /** Read one command, inlining `{n}` / `{n+}` literals (RFC 3501 §4.3, RFC 7888) as quoted strings. */
    const readCommand = Effect.gen(function* () {
      let text = yield* conn.readLine()
      for (let n = 0; n < MAX_LITERALS_PER_COMMAND; n++) {
        const m = /\{(\d{1,10})(\+?)\}$/.exec(text)
        if (m === null) return text
        const size = Number(m[1])
        if (size > MAX_LITERAL) return yield* new LimitExceeded({ limit: "imap-literal", max: MAX_LITERAL })
        if (m[2] !== "+") yield* send("+ OK")
        const data = yield* conn.readBytes(size)
        const rest = yield* conn.readLine()
        text = `${text.slice(0, m.index)}${quoteString(data.toString("utf8"))}${rest}`
      }
      return text
    })

    const login = (tag: string, username: string, password: Buffer, mechanism: "LOGIN" | "PLAIN") =>
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
        if (!ok) return yield* send(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.`)
        conn.loggedIn()
        st.state = "authenticated"
        user = username
        yield* send(`${tag} OK [CAPABILITY ${POST_CAPS}] Logged in`)
      })

    const saslLine = (prompt: string) =>
      Effect.gen(function* () {
        yield* send(`+ ${prompt}`)
        return (yield* conn.readLine()).trim()
      })

    const authenticate = (tag: string, args: Array<string>) =>
      Effect.gen(function* () {
        const mech = (args[0] ?? "").toUpperCase()
        if (mech === "PLAIN") {
          const line = args[1] ?? (yield* saslLine(""))
          if (line === "*") return yield* send(`${tag} BAD Authentication aborted by client.`)
          const creds = decodePlain(line === "=" ? "" : line)
          if (creds === undefined) return yield* send(`${tag} BAD Invalid base64 data in continued response`)
          return yield* login(tag, creds.username, creds.password, "PLAIN")
        }
        if (mech === "LOGIN") {
          const u = decodeBase64(args[1] ?? (yield* saslLine("VXNlcm5hbWU6")))
          if (u === undefined) return yield* send(`${tag} BAD Invalid base64 data in continued response`)
          const p = decodeBase64(yield* saslLine("UGFzc3dvcmQ6"))
          if (p === undefined) return yield* send(`${tag} BAD Invalid base64 data in continued response`)
          return yield* login(tag, u.toString("utf8"), p, "LOGIN")
        }
        return yield* send(`${tag} NO Unsupported authentication mechanism.`)
      })

    const mailboxName = (name: string | undefined): string | undefined => {
      if (name === undefined) return undefined
      return MAILBOXES.find((m) => m.toLowerCase() === name.toLowerCase())
    }

    const select = (tag: string, name: string | undefined, examine: boolean) =>
      Effect.gen(function* () {
        const box = mailboxName(name)
        if (box === undefined) {
          st.state = "authenticated"
          return yield* send(`${tag} NO Mailbox doesn't exist: ${name ?? ""}`)
        }
        selected = box === "INBOX" ? fullMailbox(user, instance.domain, yield* Ref.get(seeds)) : []
        st.state = "selected"
        readOnly = examine
        const unseen = selected.findIndex((m) => !m.seen)
        yield* send(
          [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
            `* ${selected.length} EXISTS`,
            "* 0 RECENT",
            ...(unseen >= 0 ? [`* OK [UNSEEN ${unseen + 1}] First unseen.`] : []),
            `* OK [UIDVALIDITY ${UIDVALIDITY}] UIDs valid`,
            `* OK [UIDNEXT ${selected.length + 1}] Predicted next UID`,
            `${tag} OK [${examine ? "READ-ONLY" : "READ-WRITE"}] ${examine ? "Examine" : "Select"} completed (0.001 + 0.000 secs).`
          ].join("\r\n")
        )
      })

    /** Map a FETCH/SEARCH set to sequence numbers; `uid` sets are resolved through the UIDs. */
    const resolveSet = (set: string, uid: boolean): Array<number> => {
      if (!uid) return parseSequenceSet(set, selected.length)
      const maxUid = selected.reduce((m, x) => Math.max(m, x.uid), 0)
      const uids = new Set(parseSequenceSet(set, maxUid))
      return selected.flatMap((m, i) => (uids.has(m.uid) ? [i + 1] : []))
    }

    const fetch = (tag: string, rest: string, uid: boolean) =>
      Effect.gen(function* () {
        const sp = rest.indexOf(" ")
        if (sp < 0)
          return yield* send(
            `${tag} BAD Error in IMAP command ${uid ? "UID FETCH" : "FETCH"}: Invalid arguments.`
          )
        const seqs = resolveSet(rest.slice(0, sp), uid)
        const items = rest.slice(sp + 1)
        for (const seq of seqs) yield* conn.write(fetchResponse(seq, selected[seq - 1]!, items, uid))
        yield* send(`${tag} OK ${uid ? "UID FETCH" : "Fetch"} completed (0.001 + 0.000 secs).`)
      })

    for (let i = 0; i < MAX_COMMANDS; i++) {
      const line = yield* readCommand
      const sp = line.indexOf(" ")
      const tag = sp < 0 ? line : line.slice(0, sp)
      const afterTag = sp < 0 ? "" : line.slice(sp + 1)
      const sp2 = afterTag.indexOf(" ")
      let cmd = (sp2 < 0 ? afterTag : afterTag.slice(0, sp2)).toUpperCase()
      let rest = sp2 < 0 ? "" : afterTag.slice(sp2 + 1)
      let uid = false
      if (cmd === "UID") {
        uid = true
        const sp3 = rest.indexOf(" ")
        cmd = (sp3 < 0 ? rest : rest.slice(0, sp3)).toUpperCase()
        rest = sp3 < 0 ? "" : rest.slice(sp3 + 1)
      }
      if (commandEvents < MAX_COMMAND_EVENTS) {
        commandEvents++
        // Secrets reach the log only through the `auth` event: LOGIN keeps its user, AUTHENTICATE its mechanism.
        const shown = cmd === "LOGIN" || cmd === "AUTHENTICATE" ? (tokenize(rest)[0] ?? "") : rest
        yield* emit({
          _tag: "command",
          cmd: `${uid ? "UID " : ""}${cmd}`.slice(0, 64),
          args: shown.slice(0, 256),
          state: st.state
        })
      } else suppressed++
      if (tag === "" || cmd === "" || !/^[\x21-\x7e]+$/.test(tag)) {
        yield* send("* BAD Error in IMAP command received by server.")
        continue
      }
      const args = tokenize(rest)
      const authed = st.state === "authenticated" || st.state === "selected"
      switch (cmd) {
        case "CAPABILITY":
          yield* send(
            `* CAPABILITY ${authed ? POST_CAPS : caps()}\r\n${tag} OK Pre-login capabilities listed, post-login capabilities have more.`
          )
          break
        case "NOOP":
        case "CHECK":
          yield* send(`${tag} OK NOOP completed.`)
          break
        case "ID":
          yield* send(`* ID ("name" "Dovecot")\r\n${tag} OK ID completed.`)
          break
        case "LOGOUT":
          yield* conn.end(`* BYE Logging out\r\n${tag} OK Logout completed.\r\n`)
          return
        case "STARTTLS":
          if (conn.isTls()) yield* send(`${tag} BAD TLS is already active.`)
          else {
            yield* send(`${tag} OK Begin TLS negotiation now.`)
            yield* conn.startTls(instance.tls)
          }
          break
        case "LOGIN":
          if (authed) yield* send(`${tag} BAD Already authenticated`)
          else if (args.length < 2) yield* send(`${tag} BAD Error in IMAP command LOGIN: Invalid arguments.`)
          else yield* login(tag, args[0]!, Buffer.from(args[1]!, "utf8"), "LOGIN")
          break
        case "AUTHENTICATE":
          if (authed) yield* send(`${tag} BAD Already authenticated`)
          else yield* authenticate(tag, args)
          break
        case "ENABLE":
          yield* authed ? send(`* ENABLED\r\n${tag} OK Enabled.`) : send(`${tag} BAD Not authenticated`)
          break
        default: {
          if (!authed) {
            const known =
              /^(SELECT|EXAMINE|LIST|LSUB|STATUS|CREATE|DELETE|RENAME|SUBSCRIBE|UNSUBSCRIBE|APPEND|NAMESPACE|FETCH|SEARCH|STORE|COPY|MOVE|CLOSE|EXPUNGE|IDLE|UNSELECT)$/
            yield* send(
              known.test(cmd)
                ? `${tag} BAD Not authenticated`
                : `${tag} BAD Command not recognized or not supported`
            )
            break
          }
          switch (cmd) {
            case "SELECT":
            case "EXAMINE":
              yield* select(tag, args[0], cmd === "EXAMINE")
              break
            case "LIST":
            case "LSUB": {
              const pattern = args[1] ?? ""
              const boxes =
                pattern === ""
                  ? []
                  : MAILBOXES.filter(
                      (b) => pattern === "*" || pattern === "%" || b.toLowerCase() === pattern.toLowerCase()
                    )
              const lines =
                pattern === ""
                  ? [`* ${cmd} (\\Noselect) "/" ""`]
                  : boxes.map((b) => `* ${cmd} (\\HasNoChildren) "/" ${b}`)
              yield* send(
                [
                  ...lines,
                  `${tag} OK ${cmd === "LIST" ? "List" : "Lsub"} completed (0.001 + 0.000 secs).`
                ].join("\r\n")
              )
              break
            }
            case "NAMESPACE":
              yield* send(`* NAMESPACE (("" "/")) NIL NIL\r\n${tag} OK Namespace completed.`)
              break
            case "STATUS": {
              const box = mailboxName(args[0])
              if (box === undefined) {
                yield* send(`${tag} NO Mailbox doesn't exist: ${args[0] ?? ""}`)
                break
              }
              const n = box === "INBOX" ? 10 + (yield* Ref.get(seeds)).length : 0
              yield* send(
                `* STATUS ${box} (MESSAGES ${n} RECENT 0 UIDNEXT ${n + 1} UIDVALIDITY ${UIDVALIDITY} UNSEEN ${n === 0 ? 0 : 1})\r\n${tag} OK Status completed.`
              )
              break
            }
            case "CREATE":
            case "DELETE":
            case "RENAME":
            case "APPEND":
              yield* send(`${tag} NO [NOPERM] Permission denied`)
              break
            case "SUBSCRIBE":
            case "UNSUBSCRIBE":
              yield* send(`${tag} OK ${cmd === "SUBSCRIBE" ? "Subscribe" : "Unsubscribe"} completed.`)
              break
            default: {
              if (st.state !== "selected") {
                const selectedOnly = /^(FETCH|SEARCH|STORE|COPY|MOVE|CLOSE|EXPUNGE|UNSELECT|IDLE)$/
                yield* send(
                  selectedOnly.test(cmd)
                    ? `${tag} BAD Not in selected state`
                    : `${tag} BAD Command not recognized or not supported`
                )
                break
              }
              switch (cmd) {
                case "FETCH":
                  yield* fetch(tag, rest, uid)
                  break
                case "SEARCH": {
                  const hits = selected.map((m, idx) => (uid ? m.uid : idx + 1))
                  yield* send(
                    `* SEARCH${hits.map((h) => ` ${h}`).join("")}\r\n${tag} OK Search completed (0.001 + 0.000 secs).`
                  )
                  break
                }
                case "STORE":
                case "COPY":
                case "MOVE":
                case "EXPUNGE":
                  yield* send(
                    readOnly
                      ? `${tag} NO [READ-ONLY] Mailbox is read-only.`
                      : `${tag} OK ${cmd.charAt(0)}${cmd.slice(1).toLowerCase()} completed.`
                  )
                  break
                case "CLOSE":
                case "UNSELECT":
                  st.state = "authenticated"
                  selected = []
                  yield* send(`${tag} OK ${cmd === "CLOSE" ? "Close" : "Unselect"} completed.`)
                  break
                case "IDLE": {
                  yield* send("+ idling")
                  // RFC 2177: IDLE ends with DONE; anything else is a protocol error.
                  const done = (yield* conn.readLine()).trim().toUpperCase()
                  yield* send(done === "DONE" ? `${tag} OK Idle completed.` : `${tag} BAD Expected DONE.`)
                  break
                }
                default:
                  yield* send(`${tag} BAD Command not recognized or not supported`)
              }
            }
          }
        }
      }
    }
    yield* conn.end("* BYE Too many commands\r\n")
  }).pipe(Effect.scoped)

export const imapHoneypot = defineHoneypot({
  slug: "imap",
  description: "Dovecot IMAP persona (143 STARTTLS, 993 TLS) with a bait mailbox",
  ports: { tcp: [143, 993], udp: [] },
  config: ImapConfig,
  events: imapEvents,
  run: (options) =>
    serveMailbox({
      run: options,
      events: imapEvents,
      plainPort: 143,
      tlsPort: 993,
      session
    })
})
