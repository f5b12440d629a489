/**
 * smtp / smtp_relay honeypots (spec/honeypots.md §10; RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH):
 * a Postfix persona on 25 and 587. In harvester mode (smtp) every AUTH fails and every recipient is
 * refused; in open-relay mode (smtp_relay, or smtp with open_relay) both succeed so spammers hand
 * over a test message, which is captured (bounded, and within the instance's DATA budget) to the
 * decky's artifacts directory.
 */
import { createHash } from "node:crypto"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type * as tls from "node:tls"
import { Clock, Effect, Option, Random, Schema } from "effect"
import { decodeLoginStep, decodePlain, summarize } from "../mail/index.js"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  type Listener,
  type RunOptions,
  type ServiceEvents,
  serveTcp,
  serviceTls,
  TlsProfiles,
  type TlsConfig,
  TlsConfigFields
} from "../runtime/index.js"
import { type Body, type DataBudget, DataBudgetProbe, makeBody, makeDataBudget } from "./DataBudget.js"
import {
  isForbidden,
  mailParamFault,
  parseBdat,
  parseLine,
  parsePath,
  printable,
  rcptParamFault
} from "./Command.js"
import { type SmtpEvent, smtpEvents, smtpRelayEvents } from "./Events.js"
import { makeQueueIds, QUEUE_ALPHABET, type QueueIds } from "./QueueId.js"

/** A list of names, or the catalog form's text `alice, bob`. */
const NameList = Schema.Union(
  Schema.Array(Schema.String),
  Schema.transform(Schema.String, Schema.Array(Schema.String), {
    strict: true,
    decode: (text) =>
      text
        .split(",")
        .map((name) => name.trim())
        .filter((name) => name !== ""),
    encode: (names) => names.join(",")
  })
)

/** A rate in [0, 1], as a number or the catalog form's text `0.08`. */
const Rate = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(Schema.between(0, 1))

const SmtpFields = {
  /** Full greeting line; default `220 <hostname> ESMTP Postfix (Ubuntu)`. */
  banner: Schema.optional(Schema.String),
  /** First EHLO line (the MTA's name); default the decky hostname. */
  mta: Schema.optional(Schema.String),
  /** Users whose AUTH succeeds in relay mode; empty = everyone. */
  auth_whitelist: Schema.optionalWith(NameList, { default: () => [] }),
  /** Relay mode: the share of recipients greylisted (`451 4.7.1`). */
  rcpt_drop_rate: Schema.optionalWith(Rate, { default: () => 0.08 }),
  /**
   * Bytes of one message kept (EHLO's SIZE; Postfix's message_size_limit, 10240000); the rest is
   * dropped and the message marked truncated.
   */
  max_body_bytes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1024, 64 * 1024 * 1024)), {
    default: () => 10_240_000
  }),
  /**
   * MiB of message bodies the instance holds at once over all its connections; a body that would
   * pass it is refused with `452 4.3.1 Insufficient system storage` (like ssh's `upload_buffer_mb`).
   */
  data_buffer_mb: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 4096)), { default: () => 64 }),
  /** Store accepted messages as .eml under `<artifactsDir>/smtp`. */
  quarantine: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  ...TlsConfigFields
} as const

export const SmtpConfig = Schema.Struct({
  ...SmtpFields,
  open_relay: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type SmtpConfig = typeof SmtpConfig.Type

/** smtp_relay: upstream_* / probe_limit drive master-side probe delivery, not this listener. */
export const SmtpRelayConfig = Schema.Struct({
  ...SmtpFields,
  upstream_host: Schema.optional(Schema.String),
  upstream_port: Schema.optionalWith(Schema.Int, { default: () => 25 }),
  upstream_user: Schema.optional(Schema.String),
  upstream_pass: Schema.optional(Schema.String),
  upstream_sender: Schema.optional(Schema.String),
  probe_limit: Schema.optionalWith(Schema.Int, { default: () => 1 })
})

/** What one running smtp (or smtp_relay) instance shares between its connections, and nothing else does. */
interface Instance {
  readonly service: string
  readonly openRelay: boolean
  readonly banner: string
  readonly mta: string
  readonly authWhitelist: ReadonlyArray<string>
  readonly rcptDropRate: number
  readonly maxBodyBytes: number
  readonly quarantine: boolean
  readonly quarantineDir: string
  /** mydestination: the domains whose mail is local (Ubuntu's `$myhostname, localhost.localdomain, localhost`). */
  readonly localDomains: ReadonlySet<string>
  readonly tls: tls.SecureContext
  readonly queueIds: QueueIds
  readonly budget: DataBudget
}

/** Postfix's limits (smtpd(8) defaults): past the soft one every reply waits smtpd_error_sleep_time. */
const SOFT_ERROR_LIMIT = 10
const HARD_ERROR_LIMIT = 20
const ERROR_SLEEP = "1 second"
/** NOOP, VRFY, ETRN and RSET past smtpd_junk_command_limit count as errors. */
const JUNK_COMMAND_LIMIT = 100
const MAX_RECIPIENTS = 100
const MAX_COMMANDS = 10_000
/** A failed login waits as saslauthd with PAM does (pam_unix's ~2 s fail delay), drawn per decky. */
const AUTH_FAIL_DELAY_MS = [2_000, 3_000] as const
const BAD_TLDS = new Set(["invalid", "test", "localhost", "local", "example"])
const ADDRESS =
  /^[^\s@<>()",;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/
/**
 * The local recipients of a fresh Ubuntu server (local_recipient_maps: its passwd users and the
 * postmaster alias): mail for them is accepted even by the harvester, as Postfix would.
 */
const LOCAL_USERS = new Set([
  "postmaster",
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "nobody",
  "systemd-network",
  "systemd-resolve",
  "messagebus",
  "systemd-timesync",
  "syslog",
  "_apt",
  "uuidd",
  "tcpdump",
  "sshd",
  "postfix",
  "ubuntu"
])

const domainOf = (addr: string): string => {
  const at = addr.lastIndexOf("@")
  return at < 0 ? "" : addr.slice(at + 1).toLowerCase()
}

const localPartOf = (addr: string): string => {
  const at = addr.lastIndexOf("@")
  return (at < 0 ? addr : addr.slice(0, at)).toLowerCase()
}

const isoStamp = (millis: number): string => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const storeMessage = (dir: string, name: string, data: Buffer) =>
  Effect.tryPromise(() => mkdir(dir, { recursive: true }).then(() => writeFile(join(dir, name), data)))

const WARNING = { severity: 4 } as const

/** What smtpd does with a recipient; when it refuses, its reply and the event we log. */
type Recipient =
  | { readonly _tag: "Accept" }
  | {
      readonly _tag: "Refuse"
      readonly reply: string
      readonly event: "rcpt_denied" | "rcpt_rejected_syntax" | "rcpt_rejected_tld"
    }

// Cyrus SASL's answers through Postfix: a response it cannot decode "needs another step".
const ANOTHER_STEP = "535 5.7.8 Error: authentication failed: another step is needed in authentication"
const ABORTED = "501 5.7.0 Authentication aborted"

const session = (
  s: Instance,
  conn: Connection,
  events: Emitter<SmtpEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    let authed = false
    let mailFrom: string | undefined
    let rcpts: Array<string> = []
    let errors = 0
    let junk = 0
    let unknown = 0

    // Postfix (smtpd_chat_reply) sleeps before every reply once the client has made
    // smtpd_soft_error_limit errors (a sleep on this fiber, no CPU), then sends what it holds. Other
    // replies to pipelined commands are held and go out together once no more input is waiting
    // (RFC 2920 §3; smtpd's stream flushes its output when a read would block).
    let pending: Array<string> = []
    const reply = (text: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (errors < SOFT_ERROR_LIMIT) {
          pending.push(`${text}\r\n`)
          return Effect.void
        }
        return Effect.zipRight(
          Effect.sleep(ERROR_SLEEP),
          Effect.suspend(() => {
            pending.push(`${text}\r\n`)
            return flush
          })
        )
      })
    const flush: Effect.Effect<void> = Effect.suspend(() => {
      if (pending.length === 0) return Effect.void
      const out = pending.join("")
      pending = []
      return conn.write(out)
    })
    const readLine = Effect.zipRight(
      Effect.suspend(() => (conn.buffered() === 0 ? flush : Effect.void)),
      conn.readLine()
    )
    // The last replies and the FIN in one write.
    const hangUp = Effect.suspend(() => {
      const out = pending.join("")
      pending = []
      return conn.end(out === "" ? undefined : out)
    })
    const error = (text: string) =>
      Effect.gen(function* () {
        yield* reply(text)
        errors++
      })
    /** NOOP, RSET, VRFY, ETRN: past smtpd_junk_command_limit each one is an error. */
    const countJunk = () => {
      if (junk++ >= JUNK_COMMAND_LIMIT) errors++
    }

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", unknown_commands: unknown }))
    yield* reply(s.banner)
    yield* flush

    // The server's own address literal is local too (RFC 5321 §4.1.3).
    const isLocal = (address: string) => {
      const domain = domainOf(address)
      return domain === "" || s.localDomains.has(domain) || domain === `[${conn.localAddress}]`
    }

    /** Postfix's recipient checks for a client outside mynetworks: local users, else the relay rules. */
    const recipient = (address: string): Recipient => {
      if (isLocal(address)) {
        if (LOCAL_USERS.has(localPartOf(address))) return { _tag: "Accept" }
        return {
          _tag: "Refuse",
          reply: `550 5.1.1 <${printable(address)}>: Recipient address rejected: User unknown in local recipient table`,
          event: "rcpt_rejected_tld"
        }
      }
      if (!s.openRelay)
        // smtpd_relay_restrictions = … defer_unauth_destination (Ubuntu's main.cf): a 4xx.
        return {
          _tag: "Refuse",
          reply: `454 4.7.1 <${printable(address)}>: Relay access denied`,
          event: "rcpt_denied"
        }
      if (!ADDRESS.test(address))
        return {
          _tag: "Refuse",
          reply: "501 5.1.3 Bad recipient address syntax",
          event: "rcpt_rejected_syntax"
        }
      const tld = domainOf(address).split(".").pop() ?? ""
      if (BAD_TLDS.has(tld))
        return {
          _tag: "Refuse",
          reply: `550 5.1.2 <${printable(address)}>: Recipient address rejected: Domain not found`,
          event: "rcpt_rejected_tld"
        }
      return { _tag: "Accept" }
    }

    /** RFC 4954 §4: a `*` line cancels the exchange. */
    const readSaslLine = (prompt: string) =>
      Effect.gen(function* () {
        yield* reply(`334 ${prompt}`)
        return (yield* readLine).trim()
      })

    const authenticate = (args: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const [mechRaw = "", initial] = args
        const mech = mechRaw.toUpperCase()
        let username: string | undefined
        let password: Buffer | undefined
        if (mech === "PLAIN") {
          const line = initial ?? (yield* readSaslLine(""))
          if (line === "*") return yield* error(ABORTED)
          const creds = decodePlain(line)
          if (creds === undefined) return yield* error(ANOTHER_STEP)
          username = creds.username
          password = creds.password
        } else if (mech === "LOGIN") {
          const userLine = initial ?? (yield* readSaslLine("VXNlcm5hbWU6"))
          if (userLine === "*") return yield* error(ABORTED)
          const user = decodeLoginStep(userLine)
          if (user === undefined) return yield* error(ANOTHER_STEP)
          const passLine = yield* readSaslLine("UGFzc3dvcmQ6")
          if (passLine === "*") return yield* error(ABORTED)
          const pass = decodeLoginStep(passLine)
          if (pass === undefined) return yield* error(ANOTHER_STEP)
          username = user.toString("utf8")
          password = pass
        } else if (initial === undefined) {
          return yield* error("535 5.7.8 Error: authentication failed: no mechanism available")
        } else {
          return yield* error(ANOTHER_STEP)
        }
        yield* emit(
          { _tag: "auth_attempt", mechanism: mech, username, ...credentialFields(username, password) },
          WARNING
        )
        const ok = s.openRelay && (s.authWhitelist.length === 0 || s.authWhitelist.includes(username))
        if (ok) {
          authed = true
          conn.loggedIn()
          return yield* reply("235 2.7.0 Authentication successful")
        }
        yield* Effect.sleep(yield* Random.nextIntBetween(AUTH_FAIL_DELAY_MS[0], AUTH_FAIL_DELAY_MS[1]))
        yield* error("535 5.7.8 Error: authentication failed: authentication failure")
      })

    /** Quarantine one accepted message; a write failure is logged, never the client's problem. */
    const quarantine = (id: string, body: Buffer, truncated: boolean, from: string, rcptList: string) =>
      Effect.gen(function* () {
        const sha = createHash("sha256").update(body).digest("hex")
        const name = `${isoStamp(yield* Clock.currentTimeMillis)}_${sha.slice(0, 12)}_${id}.eml`
        const stored = yield* storeMessage(s.quarantineDir, name, body).pipe(
          Effect.as(true),
          Effect.catchAll((e) =>
            Effect.as(Effect.logWarning(`${s.service}: cannot store message ${name}`, e), false)
          )
        )
        if (stored)
          yield* emit({
            _tag: "message_stored",
            msg_id: id,
            stored_as: name,
            sha256: sha,
            size: body.length,
            truncated,
            mail_from: from,
            rcpt_to: rcptList,
            ...summarize(body)
          })
      })

    /** The end of a transaction (DATA's final dot, BDAT LAST): the message is queued or refused. */
    const finish = (body: Body, ok: (id: string) => string) =>
      Effect.gen(function* () {
        const from = mailFrom ?? ""
        const rcptList = rcpts.join(",")
        // RFC 5321 §4.1.1.4: the transaction ends with the reply to the data, accepted or not.
        mailFrom = undefined
        rcpts = []
        if (body.refused()) {
          yield* emit(
            {
              _tag: "message_rejected",
              mail_from: from,
              rcpt_to: rcptList,
              reason: "buffer_full",
              received_bytes: body.received()
            },
            WARNING
          )
          return yield* reply("452 4.3.1 Insufficient system storage")
        }
        const content = body.content()
        const id = yield* s.queueIds.next
        yield* emit({
          _tag: "message_accepted",
          mail_from: from,
          rcpt_to: rcptList,
          body_bytes: content.length,
          truncated: body.truncated(),
          msg_id: id
        })
        if (s.quarantine) yield* quarantine(id, content, body.truncated(), from, rcptList)
        yield* reply(ok(id))
      })

    // The body is held against the instance's budget from its first line until it is stored or
    // dropped, however the connection ends (the scope gives it back).
    const data = Effect.gen(function* () {
      yield* reply("354 End data with <CR><LF>.<CR><LF>")
      yield* flush
      const body = yield* Effect.acquireRelease(
        Effect.sync(() => makeBody(s.budget, s.maxBodyBytes)),
        (b) => Effect.sync(() => b.release())
      )
      // RFC 5321 §4.5.2: a line starting with "." has it removed; "." alone ends the data.
      for (;;) {
        const line = yield* readLine
        if (line === ".") break
        const text = line.startsWith(".") ? line.slice(1) : line
        body.append(Buffer.from(`${text}\r\n`, "utf8"))
      }
      yield* finish(body, (id) => `250 2.0.0 Ok: queued as ${id}`)
    }).pipe(Effect.scoped)

    // RFC 3030 CHUNKING: a chunk is read whatever the state, then answered. The chunks of one message
    // share a body (held against the budget like DATA's) until the LAST one.
    let chunks: { readonly body: Body; bytes: number } | undefined
    const dropChunks = () => {
      chunks?.body.release()
      chunks = undefined
    }
    yield* Effect.addFinalizer(() => Effect.sync(dropChunks))
    const bdat = (size: number, last: boolean) =>
      Effect.gen(function* () {
        const ready = rcpts.length > 0
        if (ready && chunks === undefined) chunks = { body: makeBody(s.budget, s.maxBodyBytes), bytes: 0 }
        if (conn.buffered() === 0) yield* flush
        for (let left = size; left > 0; ) {
          const piece = yield* conn.readBytes(Math.min(left, 64 * 1024))
          left -= piece.length
          if (ready) chunks?.body.append(piece)
        }
        const current = chunks
        if (!ready || current === undefined)
          return yield* error(
            mailFrom === undefined
              ? "503 5.5.1 Error: need RCPT command"
              : "554 5.5.1 Error: no valid recipients"
          )
        current.bytes += size
        if (!last) return yield* reply(`250 2.0.0 Ok: ${size} bytes`)
        // Postfix counts the message as queued: with the CRLF it adds after a last unterminated line.
        const queued = current.bytes + (current.body.content().at(-1) === 0x0a ? 0 : 2)
        yield* finish(current.body, (id) => `250 2.0.0 Ok: ${queued} bytes queued as ${id}`)
        dropChunks()
      })

    const resetTransaction = () => {
      mailFrom = undefined
      rcpts = []
      dropChunks()
    }

    for (let i = 0; i < MAX_COMMANDS; i++) {
      // Postfix checks its hard limit before it reads the next command.
      if (errors >= HARD_ERROR_LIMIT) {
        yield* reply(`421 4.7.0 ${s.mta} Error: too many errors`)
        return yield* hangUp
      }
      const line = yield* readLine
      const { verb, args, rest } = parseLine(line)
      switch (verb) {
        case "":
          yield* error("500 5.5.2 Error: bad syntax")
          break
        case "EHLO":
        case "HELO": {
          if (args.length === 0) {
            yield* error(`501 Syntax: ${verb} hostname`)
            break
          }
          resetTransaction()
          yield* emit({ _tag: "ehlo", domain: rest, command: verb })
          if (verb === "HELO") {
            yield* reply(`250 ${s.mta}`)
            break
          }
          const caps = [
            s.mta,
            "PIPELINING",
            `SIZE ${s.maxBodyBytes}`,
            "VRFY",
            "ETRN",
            ...(conn.isTls() ? [] : ["STARTTLS"]),
            "AUTH PLAIN LOGIN",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING"
          ]
          yield* reply(caps.map((c, idx) => `250${idx === caps.length - 1 ? " " : "-"}${c}`).join("\r\n"))
          break
        }
        case "STARTTLS": {
          if (args.length > 0) {
            yield* error("501 5.5.4 Syntax: STARTTLS")
            break
          }
          if (conn.isTls()) {
            yield* error("554 5.5.1 Error: TLS already active")
            break
          }
          yield* reply("220 2.0.0 Ready to start TLS")
          yield* flush
          // RFC 3207 §4.2: the client must start over with EHLO. Plaintext pipelined behind STARTTLS is
          // thrown away, as Postfix does since CVE-2011-0411, never read as commands.
          if (conn.buffered() > 0) yield* conn.readChunk(conn.buffered())
          yield* conn.startTls(s.tls)
          authed = false
          resetTransaction()
          break
        }
        case "AUTH":
          if (args.length === 0 || args.length > 2) yield* error("501 5.5.4 Syntax: AUTH mechanism")
          else if (authed) yield* error("503 5.5.1 Error: already authenticated")
          else if (mailFrom !== undefined) yield* error("503 5.5.1 Error: MAIL transaction in progress")
          else yield* authenticate(args)
          break
        case "MAIL": {
          if (mailFrom !== undefined) {
            yield* error("503 5.5.1 Error: nested MAIL command")
            break
          }
          const path = parsePath(rest, "FROM")
          if (path._tag === "Syntax") {
            yield* error("501 5.5.4 Syntax: MAIL FROM:<address>")
            break
          }
          if (path._tag === "BadAddress") {
            yield* error("501 5.1.7 Bad sender address syntax")
            break
          }
          const fault = mailParamFault(path.params, s.maxBodyBytes)
          if (fault !== undefined) {
            yield* error(
              fault._tag === "BadSize"
                ? "501 5.5.4 Bad message size syntax"
                : fault._tag === "TooBig"
                  ? "552 5.3.4 Message size exceeds fixed limit"
                  : `555 5.5.4 Unsupported option: ${fault.param}`
            )
            break
          }
          mailFrom = path.address
          yield* emit({
            _tag: "mail_from",
            value: rest,
            mail_from: path.address,
            domain: domainOf(path.address)
          })
          yield* reply("250 2.1.0 Ok")
          break
        }
        case "RCPT": {
          if (mailFrom === undefined) {
            yield* error("503 5.5.1 Error: need MAIL command")
            break
          }
          const path = parsePath(rest, "TO")
          if (path._tag === "Syntax") {
            yield* error("501 5.5.4 Syntax: RCPT TO:<address>")
            break
          }
          if (path._tag === "BadAddress" || path.address === "") {
            yield* error("501 5.1.3 Bad recipient address syntax")
            break
          }
          const fault = rcptParamFault(path.params)
          if (fault !== undefined && fault._tag === "Unsupported") {
            yield* error(`555 5.5.4 Unsupported option: ${fault.param}`)
            break
          }
          const addr = path.address
          const rcpt = { value: rest, rcpt_to: addr, domain: domainOf(addr) }
          const verdict = recipient(addr)
          if (verdict._tag === "Refuse") {
            if (verdict.event === "rcpt_rejected_syntax")
              yield* emit({ _tag: "rcpt_rejected_syntax", value: rest, rcpt_to: addr })
            else if (verdict.event === "rcpt_denied") yield* emit({ _tag: "rcpt_denied", ...rcpt }, WARNING)
            else yield* emit({ _tag: "rcpt_rejected_tld", ...rcpt })
            yield* error(verdict.reply)
            break
          }
          if (s.openRelay && !isLocal(addr) && (yield* Random.next) < s.rcptDropRate) {
            yield* emit({ _tag: "rcpt_greylisted", ...rcpt })
            yield* error(
              `451 4.7.1 <${printable(addr)}>: Recipient address rejected: Greylisted, try again later`
            )
            break
          }
          if (rcpts.length >= MAX_RECIPIENTS) {
            yield* error("452 4.5.3 Error: too many recipients")
            break
          }
          rcpts.push(addr)
          yield* emit({ _tag: "rcpt_to", ...rcpt })
          yield* reply("250 2.1.5 Ok")
          break
        }
        case "DATA":
          if (rcpts.length === 0)
            yield* error(
              mailFrom === undefined
                ? "503 5.5.1 Error: need RCPT command"
                : "554 5.5.1 Error: no valid recipients"
            )
          else if (args.length > 0) yield* error("501 5.5.4 Syntax: DATA")
          else yield* data
          break
        case "BDAT": {
          const chunk = parseBdat(args)
          if (chunk === undefined) {
            // Without a size Postfix cannot tell where the chunk ends, so it hangs up.
            yield* reply("521 5.5.4 Syntax: BDAT count [LAST]")
            return yield* hangUp
          }
          yield* bdat(chunk.size, chunk.last)
          break
        }
        case "RSET":
          countJunk()
          if (args.length > 0) {
            yield* error("501 5.5.4 Syntax: RSET")
            break
          }
          resetTransaction()
          yield* reply("250 2.0.0 Ok")
          break
        case "NOOP":
          countJunk()
          yield* reply("250 2.0.0 Ok")
          break
        case "VRFY": {
          countJunk()
          yield* emit({ _tag: "vrfy", value: rest })
          if (args.length === 0) {
            yield* error("501 5.5.4 Syntax: VRFY address [SMTPUTF8]")
            break
          }
          const address = rest.replace(/^<(.*)>$/, "$1")
          if (address === "" || /[ \t<>]/.test(address)) {
            yield* error("501 5.1.3 Bad recipient address syntax")
            break
          }
          const verdict: Recipient =
            s.openRelay && !isLocal(address) ? { _tag: "Accept" } : recipient(address)
          if (verdict._tag === "Refuse") yield* error(verdict.reply)
          else yield* reply(`252 2.0.0 ${printable(rest)}`)
          break
        }
        case "ETRN":
          countJunk()
          // No queue is ever flushed for a stranger (fast_flush_domains holds none).
          if (args.length === 0) yield* error("500 Syntax: ETRN domain")
          else if (mailFrom !== undefined) yield* error("503 Error: MAIL transaction in progress")
          else yield* error(`459 <${args[0]}>: service unavailable`)
          break
        case "XCLIENT":
        case "XFORWARD":
          yield* error("550 5.7.0 Error: insufficient authorization")
          break
        case "QUIT":
          yield* reply("221 2.0.0 Bye")
          return yield* hangUp
        default: {
          // Logged once per connection; the total is on the `disconnect` event.
          if (unknown++ === 0) yield* emit({ _tag: "unknown_command", command: line.slice(0, 256) })
          if (isForbidden(verb)) {
            yield* reply("221 2.7.0 Error: I can break rules, too. Goodbye.")
            return yield* hangUp
          }
          yield* error("500 5.5.2 Error: command not recognized")
        }
      }
    }
    yield* reply(`421 4.7.0 ${s.mta} Error: too many commands`)
    yield* hangUp
  }).pipe(Effect.scoped)

interface CommonConfig extends TlsConfig {
  readonly banner?: string | undefined
  readonly mta?: string | undefined
  readonly auth_whitelist: ReadonlyArray<string>
  readonly rcpt_drop_rate: number
  readonly max_body_bytes: number
  readonly data_buffer_mb: number
  readonly quarantine: boolean
}

/** One instance: its TLS, queue ids and DATA budget, then a listener on 25 and one on 587. */
const runSmtp = (events: ServiceEvents<SmtpEvent>, openRelay: boolean, options: RunOptions<CommonConfig>) =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const config = options.config
    const service = events.service
    const address = options.address(25)
    const { context } = yield* serviceTls({
      service,
      host: address.host,
      port: address.port,
      config,
      profile: TlsProfiles.postfix
    })
    const budget = makeDataBudget(config.data_buffer_mb * 1024 * 1024)
    const probe = yield* Effect.serviceOption(DataBudgetProbe)
    if (Option.isSome(probe)) yield* probe.value.started(service, budget)
    const instance: Instance = {
      service,
      openRelay,
      banner: config.banner ?? `220 ${ctx.hostname} ESMTP Postfix (Ubuntu)`,
      mta: config.mta ?? ctx.hostname,
      localDomains: new Set(
        [config.mta ?? ctx.hostname, ctx.hostname, "localhost.localdomain", "localhost"].map((d) =>
          d.toLowerCase()
        )
      ),
      authWhitelist: config.auth_whitelist,
      rcptDropRate: config.rcpt_drop_rate,
      maxBodyBytes: config.max_body_bytes,
      quarantine: config.quarantine,
      // smtp and smtp_relay share one quarantine, as the original's volume did (spec §10).
      quarantineDir: join(ctx.artifactsDir, "smtp"),
      tls: context,
      queueIds: makeQueueIds(QUEUE_ALPHABET[ctx.seed.int(0, QUEUE_ALPHABET.length - 1)] ?? "B"),
      budget
    }
    const listeners: Array<Listener> = []
    for (const port of [25, 587])
      listeners.push(
        yield* serveTcp({
          ...options.address(port),
          events,
          handler: (conn, connEvents) => session(instance, conn, connEvents)
        })
      )
    return listeners
  })

export const smtpHoneypot = defineHoneypot({
  slug: "smtp",
  description: "Postfix SMTP persona (credential harvester; open relay when open_relay=true)",
  ports: { tcp: [25, 587], udp: [] },
  config: SmtpConfig,
  events: smtpEvents,
  run: (options) => runSmtp(smtpEvents, options.config.open_relay, options)
})

export const smtpRelayHoneypot = defineHoneypot({
  slug: "smtp_relay",
  description: "Postfix SMTP persona in open-relay mode: accepts AUTH and mail, captures messages",
  ports: { tcp: [25, 587], udp: [] },
  config: SmtpRelayConfig,
  events: smtpRelayEvents,
  run: (options) => runSmtp(smtpRelayEvents, true, options)
})
