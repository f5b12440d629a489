// The imap honeypot: Dovecot 2.3 as Debian ships it, in its two halves. Before login the client talks to
// imap-login (six commands plus AUTHENTICATE and ID, three bad commands and out); after login to imap
// (every tagged reply timed, twenty bad commands and out). Texts, limits and the failed-login timing are
// Dovecot's (docs/honeypots/imap.md, "Fidelity").
import { Effect, Ref, Schema } from "effect"
import {
  acceptsLogin,
  type BaitMessage,
  decodeBase64,
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
  TlsConfigFields
} from "../runtime/index.js"
import { type ImapEvent, imapEvents } from "./Events.js"
import { type Arg, astring, isValidTag, parseArgs, splitCommand } from "./Parser.js"

export const ImapConfig = Schema.Struct({
  /** The whole greeting line; default Dovecot's, with its CAPABILITY code. */
  banner: Schema.optional(Schema.String),
  ...MailboxConfigFields,
  ...TlsConfigFields
})
export type ImapConfig = typeof ImapConfig.Type

type Instance = MailInstance<ImapConfig>

/** imap-login's CAPABILITY (Dovecot 2.3.19, ssl = yes, auth_mechanisms = plain login). */
const PRE_CAPS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
const AUTH_CAPS = "AUTH=PLAIN AUTH=LOGIN"
/** imap's CAPABILITY after login (SPECIAL-USE: Debian's 15-mailboxes.conf marks Drafts, Sent, …). */
const POST_CAPS =
  "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
/** The folders and their special-use flags (RFC 6154), as a Debian Dovecot lists them. */
const MAILBOXES: ReadonlyArray<{ readonly name: string; readonly flags: string }> = [
  { name: "INBOX", flags: "\\HasNoChildren" },
  { name: "Sent", flags: "\\HasNoChildren \\Sent" },
  { name: "Drafts", flags: "\\HasNoChildren \\Drafts" },
  { name: "Archive", flags: "\\HasNoChildren" }
]
/** imap-login reads at most this much per command, literals included ("Literal size too large"). */
const LOGIN_MAX_LITERAL = 8192
/** After login a literal up to this size is read (an APPEND of a small message). */
const MAX_LITERAL = 64 * 1024
const MAX_LITERALS_PER_COMMAND = 8
const MAX_COMMANDS = 10_000
/** imap-login-client.c CLIENT_MAX_BAD_COMMANDS; imap's own is 20 (imap-client.h). */
const LOGIN_MAX_BAD = 3
const MAX_BAD = 20
/** `command` events per connection; the rest are counted on `disconnect`. */
const MAX_COMMAND_EVENTS = 500

type State = "not_authenticated" | "authenticated" | "selected"

/** RFC 3501 §4.3 quoted string: `"` and `\` escaped. */
const quoteString = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
const nstring = (s: string): string => (s === "" ? "NIL" : quoteString(s))

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

/** The `(0.001 + 0.000 secs)` Dovecot's imap appends to every tagged reply: command time + lock wait. */
const timing = " (0.001 + 0.000 secs)."

/** IMAP LIST wildcards (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the separator. */
const listMatches = (pattern: string, name: string): boolean => {
  const re = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "%" ? "[^/]*" : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("")
  return new RegExp(`^${re}$`, name === "INBOX" ? "i" : "").test(name)
}

const STATUS_ITEMS = ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"] as const

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
    let bad = 0
    let closed = false
    const caps = () => `${PRE_CAPS}${conn.isTls() ? "" : " STARTTLS"} ${AUTH_CAPS}`
    const authed = () => st.state !== "not_authenticated"

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", commands_suppressed: suppressed }))
    yield* send(config.banner ?? `* OK [CAPABILITY ${caps()}] Dovecot (Debian) ready.`)

    const close = (text: string) =>
      Effect.gen(function* () {
        closed = true
        yield* conn.end(`${text}\r\n`)
      })

    /**
     * Read one command, inlining `{n}` / `{n+}` literals (RFC 3501 §4.3, RFC 7888) as quoted strings.
     * `undefined`: a literal past the limit closed the connection, as Dovecot does.
     */
    const readCommand = Effect.gen(function* () {
      let text = yield* conn.readLine()
      for (let n = 0; n < MAX_LITERALS_PER_COMMAND; n++) {
        const m = /\{(\d{1,10})(\+?)\}$/.exec(text)
        if (m === null) return text
        const size = Number(m[1])
        if (size > (authed() ? MAX_LITERAL : LOGIN_MAX_LITERAL)) {
          yield* close("* BYE Literal size too large")
          return undefined
        }
        if (m[2] !== "+") yield* send("+ OK")
        const data = yield* conn.readBytes(size)
        const rest = yield* conn.readLine()
        text = `${text.slice(0, m.index)}${quoteString(data.toString("utf8"))}${rest}`
      }
      return text
    })

    // ---- imap-login: before authentication ----------------------------------------------------------

    /** A bad command before login: BAD, and at the third the connection ends (BYE only). */
    const loginBad = (tag: string) =>
      ++bad >= LOGIN_MAX_BAD
        ? close("* BYE Too many invalid IMAP commands.")
        : send(`${isValidTag(tag) ? tag : "*"} BAD Error in IMAP command received by server.`)

    /** The IP's penalty when this authentication started (startAuth), raised by one on failure. */
    let penaltyHad = 0

    /** Check credentials with Dovecot's timing: the IP's penalty first, the failure delay after. */
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
        if (!ok) {
          yield* instance.penalty.failed(conn.remoteAddress, penaltyHad, username, password)
          return yield* send(`${tag} NO [AUTHENTICATIONFAILED] Authentication failed.`)
        }
        yield* instance.penalty.succeeded(conn.remoteAddress)
        conn.loggedIn()
        st.state = "authenticated"
        bad = 0
        user = username
        yield* send(`${tag} OK [CAPABILITY ${POST_CAPS}] Logged in`)
      })
    const startAuth = Effect.suspend(() =>
      Effect.map(instance.penalty.before(conn.remoteAddress), (p) => {
        penaltyHad = p
      })
    )

    /** One SASL continuation: `undefined` when the client aborted with `*`. */
    const saslLine = (prompt: string) =>
      Effect.gen(function* () {
        yield* send(`+ ${prompt}`)
        const line = (yield* conn.readLine()).trim()
        return line === "*" ? undefined : line
      })

    /** AUTHENTICATE (RFC 3501 §6.2.2, SASL-IR RFC 4959) with Dovecot's replies. */
    const authenticate = (tag: string, args: ReadonlyArray<Arg>) =>
      Effect.gen(function* () {
        const mech = (astring(args[0]) ?? "").toUpperCase()
        if (mech === "") return yield* loginBad(tag)
        if (mech !== "PLAIN" && mech !== "LOGIN")
          return yield* send(`${tag} NO [ALERT] Unsupported authentication mechanism.`)
        const ir = astring(args[1])
        const initial = ir === undefined ? undefined : ir === "=" ? Buffer.alloc(0) : decodeBase64(ir)
        if (ir !== undefined && initial === undefined)
          return yield* send(`${tag} BAD Invalid base64 data in initial response`)
        yield* startAuth
        const aborted = send(`${tag} BAD Authentication aborted by client.`)
        const invalid = send(`${tag} NO [ALERT] Invalid base64 in response`)
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
          return yield* login(tag, username, password, "PLAIN")
        }
        const u = yield* step("VXNlcm5hbWU6", initial)
        if (u._tag === "aborted") return yield* aborted
        if (u._tag === "invalid") return yield* invalid
        const p = yield* step("UGFzc3dvcmQ6", undefined)
        if (p._tag === "aborted") return yield* aborted
        if (p._tag === "invalid") return yield* invalid
        return yield* login(tag, u.data.toString("utf8"), p.data, "LOGIN")
      })

    /** One command before login (imap-login-client.c `imap_client_input_next_cmd`). */
    // Plain functions returning the reply effect: no generator per command on the hot path.
    const preLogin = (line: string): Effect.Effect<void, ConnectionError> => {
      const { tag, name, rest } = splitCommand(line)
      const parsed = parseArgs(rest)
      if (!parsed.ok) return send(`${isValidTag(tag) ? tag : "*"} BAD ${parsed.error}`)
      if (!isValidTag(tag)) return loginBad(tag)
      const args = parsed.args
      switch (name.toUpperCase()) {
        case "CAPABILITY":
          return send(
            `* CAPABILITY ${caps()}\r\n${tag} OK Pre-login capabilities listed, post-login capabilities have more.`
          )
        case "NOOP":
          return send(`${tag} OK NOOP completed.`)
        case "ENABLE":
          return send(`* ENABLED\r\n${tag} OK ENABLE ignored in non-authenticated state.`)
        case "ID": {
          const a = args[0]
          if (
            a !== undefined &&
            !(a._tag === "list" || (a._tag === "atom" && a.value.toUpperCase() === "NIL"))
          )
            return send(`${tag} BAD Invalid ID parameters`)
          return send(`* ID ("name" "Dovecot")\r\n${tag} OK ID completed.`)
        }
        case "LOGOUT":
          return close(`* BYE Logging out\r\n${tag} OK Logout completed.`)
        case "STARTTLS":
          if (conn.isTls()) return send(`${tag} BAD TLS is already active.`)
          return Effect.zipRight(send(`${tag} OK Begin TLS negotiation now.`), conn.startTls(instance.tls))
        case "LOGIN": {
          const [u, p] = [astring(args[0]), astring(args[1])]
          if (args.length !== 2 || u === undefined || p === undefined) return loginBad(tag)
          return Effect.zipRight(startAuth, login(tag, u, Buffer.from(p, "utf8"), "LOGIN"))
        }
        case "AUTHENTICATE":
          return authenticate(tag, args)
        default:
          // The commonest mistake gets its own hint, and is not counted as a bad command.
          if (tag.toUpperCase() === "LOGIN")
            return send(
              `${tag} BAD First parameter in line is IMAP's command tag, not the command name. Add that before the command, like: a login user pass`
            )
          return loginBad(tag)
      }
    }

    // ---- imap: after authentication -----------------------------------------------------------------

    /** A bad command after login: the BAD reply, and at the twentieth the BYE too. */
    const postBad = (text: string) =>
      Effect.gen(function* () {
        yield* send(`${text}${timing}`)
        if (++bad >= MAX_BAD) yield* close("* BYE Too many invalid IMAP commands.")
      })

    const mailbox = (name: string | undefined) =>
      name === undefined
        ? undefined
        : MAILBOXES.find((m) => (m.name === "INBOX" ? m.name === name.toUpperCase() : m.name === name))

    const messages = (box: string) =>
      Effect.map(Ref.get(seeds), (s) =>
        box === "INBOX" ? fullMailbox(user, instance.domain, s, instance.mailboxTime) : []
      )

    const select = (tag: string, name: string | undefined, examine: boolean) =>
      Effect.gen(function* () {
        const box = mailbox(name)
        if (box === undefined) {
          st.state = "authenticated"
          selected = []
          return yield* send(`${tag} NO Mailbox doesn't exist: ${name ?? ""}${timing}`)
        }
        selected = yield* messages(box.name)
        st.state = "selected"
        readOnly = examine
        const unseen = selected.findIndex((m) => !m.seen)
        yield* send(
          [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            examine
              ? "* OK [PERMANENTFLAGS ()] Read-only mailbox."
              : "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
            `* ${selected.length} EXISTS`,
            "* 0 RECENT",
            ...(unseen >= 0 ? [`* OK [UNSEEN ${unseen + 1}] First unseen.`] : []),
            `* OK [UIDVALIDITY ${instance.uidValidity}] UIDs valid`,
            `* OK [UIDNEXT ${selected.length + 1}] Predicted next UID`,
            `${tag} OK [${examine ? "READ-ONLY" : "READ-WRITE"}] ${examine ? "Examine" : "Select"} completed${timing}`
          ].join("\r\n")
        )
      })

    /** A FETCH/STORE/SEARCH set as sequence numbers; `undefined` when it is not a valid set. */
    const resolveSet = (set: string, uid: boolean): Array<number> | undefined => {
      if (!/^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(set)) return undefined
      if (!uid) {
        const max = selected.length
        const numbers = set.split(/[,:]/).filter((x) => x !== "*")
        if (numbers.some((x) => Number(x) === 0 || Number(x) > max)) return undefined
        return parseSequenceSet(set, max)
      }
      const maxUid = selected.reduce((m, x) => Math.max(m, x.uid), 0)
      const uids = new Set(parseSequenceSet(set, maxUid))
      return selected.flatMap((m, i) => (uids.has(m.uid) ? [i + 1] : []))
    }

    const postLogin = (line: string): Effect.Effect<void, ConnectionError> => {
      const { tag, name, rest: afterName } = splitCommand(line)
      if (!isValidTag(tag)) return postBad("* BAD Error in IMAP tag: Invalid tag")
      if (name === "") return postBad(`${tag} BAD Error in IMAP command: Invalid command name`)
      let cmd = name.toUpperCase()
      let rest = afterName
      let uid = false
      if (cmd === "UID") {
        uid = true
        const sp = rest.indexOf(" ")
        cmd = `UID ${(sp < 0 ? rest : rest.slice(0, sp)).toUpperCase()}`
        rest = sp < 0 ? "" : rest.slice(sp + 1)
      }
      const error = (msg: string) => postBad(`${tag} BAD Error in IMAP command ${cmd}: ${msg}`)
      const parsed = parseArgs(rest)
      if (!parsed.ok) return error(parsed.error)
      const args = parsed.args
      const ok = (text: string) => send(`${tag} OK ${text}${timing}`)
      const needsSelected = (run: Effect.Effect<void, ConnectionError>) =>
        st.state === "selected" ? run : postBad(`${tag} BAD No mailbox selected`)
      switch (cmd) {
        case "CAPABILITY":
          return send(`* CAPABILITY ${POST_CAPS}\r\n${tag} OK Capability completed${timing}`)
        case "NOOP":
          return ok("NOOP completed")
        case "ID":
          return send(`* ID ("name" "Dovecot")\r\n${tag} OK ID completed${timing}`)
        case "LOGOUT":
          return close(`* BYE Logging out\r\n${tag} OK Logout completed${timing}`)
        case "NAMESPACE":
          return send(`* NAMESPACE (("" "/")) NIL NIL\r\n${tag} OK Namespace completed${timing}`)
        case "ENABLE": {
          const known = args
            .map((a) => (astring(a) ?? "").toUpperCase())
            .filter((a) => a === "CONDSTORE" || a === "QRESYNC")
          if (args.length === 0) return error("Missing arguments")
          return send(`* ENABLED${known.map((k) => ` ${k}`).join("")}\r\n${tag} OK Enabled${timing}`)
        }
        case "SELECT":
        case "EXAMINE":
          if (args.length === 0) return error("Missing arguments")
          return select(tag, astring(args[0]), cmd === "EXAMINE")
        case "LIST":
        case "LSUB": {
          const [ref, pattern] = [astring(args[0]), astring(args[1])]
          if (ref === undefined || pattern === undefined) return error("Invalid arguments")
          const label = cmd === "LIST" ? "List" : "Lsub"
          if (pattern === "")
            return send(`* ${cmd} (\\Noselect) "/" ""\r\n${tag} OK ${label} completed${timing}`)
          const lines = MAILBOXES.filter((b) => listMatches(ref + pattern, b.name)).map(
            (b) => `* ${cmd} (${b.flags}) "/" ${b.name}`
          )
          return send([...lines, `${tag} OK ${label} completed${timing}`].join("\r\n"))
        }
        case "STATUS": {
          const box = mailbox(astring(args[0]))
          const items = args[1]
          if (args.length < 2 || items === undefined || items._tag !== "list")
            return error("Invalid arguments")
          if (box === undefined) return send(`${tag} NO Mailbox doesn't exist: ${astring(args[0])}${timing}`)
          return Effect.gen(function* () {
            const msgs = yield* messages(box.name)
            const value = (item: string) =>
              item === "MESSAGES"
                ? msgs.length
                : item === "RECENT"
                  ? 0
                  : item === "UIDNEXT"
                    ? msgs.length + 1
                    : item === "UIDVALIDITY"
                      ? instance.uidValidity
                      : msgs.filter((m) => !m.seen).length
            const asked = items.items.map((i) => (astring(i) ?? "").toUpperCase())
            const unknown = asked.find((i) => !STATUS_ITEMS.some((k) => k === i))
            if (unknown !== undefined) return yield* error(`Invalid status item ${unknown}`)
            // Dovecot answers in its own order, whatever order they were asked in.
            const answered = STATUS_ITEMS.filter((k) => asked.includes(k))
            return yield* send(
              `* STATUS ${box.name} (${answered.map((i) => `${i} ${value(i)}`).join(" ")})\r\n${tag} OK Status completed${timing}`
            )
          })
        }
        case "CREATE":
        case "DELETE":
        case "RENAME":
        case "APPEND":
          return send(`${tag} NO [NOPERM] Permission denied${timing}`)
        case "SUBSCRIBE":
        case "UNSUBSCRIBE":
          return ok(`${cmd === "SUBSCRIBE" ? "Subscribe" : "Unsubscribe"} completed`)
        case "IDLE": {
          return Effect.gen(function* () {
            yield* send("+ idling")
            // RFC 2177: IDLE ends with DONE; anything else is a protocol error.
            const done = (yield* conn.readLine()).trim().toUpperCase()
            return yield* done === "DONE" ? ok("Idle completed") : send(`${tag} BAD Expected DONE.`)
          })
        }
        case "CHECK":
          return needsSelected(ok("Check completed"))
        case "CLOSE":
        case "UNSELECT":
          return needsSelected(
            Effect.gen(function* () {
              st.state = "authenticated"
              selected = []
              yield* ok(`${cmd === "CLOSE" ? "Close" : "Unselect"} completed`)
            })
          )
        case "FETCH":
        case "UID FETCH":
          return needsSelected(
            Effect.gen(function* () {
              const set = astring(args[0])
              if (set === undefined || args.length < 2) return yield* error("Invalid arguments")
              const seqs = resolveSet(set, uid)
              if (seqs === undefined) return yield* error("Invalid messageset")
              const items = rest.slice(rest.indexOf(" ") + 1)
              for (const seq of seqs) {
                const m = selected[seq - 1]
                if (m !== undefined) yield* conn.write(fetchResponse(seq, m, items, uid))
              }
              yield* ok("Fetch completed")
            })
          )
        case "SEARCH":
        case "UID SEARCH":
          return needsSelected(
            Effect.gen(function* () {
              if (args.length === 0) return yield* error("Missing SEARCH arguments")
              const hits = selected.map((m, idx) => (uid ? m.uid : idx + 1))
              yield* send(
                `* SEARCH${hits.map((h) => ` ${h}`).join("")}\r\n${tag} OK Search completed${timing}`
              )
            })
          )
        case "STORE":
        case "UID STORE":
        case "COPY":
        case "UID COPY":
        case "MOVE":
        case "UID MOVE":
        case "EXPUNGE":
        case "UID EXPUNGE":
          return needsSelected(
            Effect.gen(function* () {
              // A read-only mailbox: Dovecot ignores STORE and has nothing to expunge.
              if (cmd === "EXPUNGE") return yield* ok("Expunge completed")
              const set = astring(args[0])
              if (set === undefined || args.length < 2) return yield* error("Invalid arguments")
              if (resolveSet(set, uid) === undefined) return yield* error("Invalid messageset")
              const verb = cmd.replace(/^UID /, "")
              if (readOnly && verb === "STORE") return yield* ok("Store ignored with read-only mailbox")
              return yield* readOnly && verb === "MOVE"
                ? send(`${tag} NO [READ-ONLY] Mailbox is read-only.${timing}`)
                : ok(`${verb.charAt(0)}${verb.slice(1).toLowerCase()} completed`)
            })
          )
        default:
          return error("Unknown command")
      }
    }

    for (let i = 0; i < MAX_COMMANDS && !closed; i++) {
      const line = yield* readCommand
      if (line === undefined) return
      const { tag, name, rest } = splitCommand(line)
      const cmdName = name.toUpperCase()
      if (commandEvents < MAX_COMMAND_EVENTS) {
        commandEvents++
        // Secrets reach the log only through the `auth` event: LOGIN keeps its user, AUTHENTICATE its mechanism.
        const parsed = cmdName === "LOGIN" || cmdName === "AUTHENTICATE" ? parseArgs(rest) : undefined
        const shown = parsed === undefined ? rest : parsed.ok ? (astring(parsed.args[0]) ?? "") : ""
        const uidCmd = cmdName === "UID" ? `UID ${(rest.split(" ")[0] ?? "").toUpperCase()}` : cmdName
        yield* emit({
          _tag: "command",
          cmd: uidCmd.slice(0, 64),
          args: (cmdName === "UID" ? rest.slice(rest.indexOf(" ") + 1) : shown).slice(0, 256),
          state: st.state
        })
      } else suppressed++
      // A bare CR inside the line is a parser error in both halves.
      if (line.includes("\r")) {
        yield* send(`${isValidTag(tag) ? tag : "*"} BAD CR sent without LF`)
        continue
      }
      yield* authed() ? postLogin(line) : preLogin(line)
    }
    if (!closed) yield* conn.end("* BYE Too many commands\r\n")
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
