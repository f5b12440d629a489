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
  type TlsConfig,
  TlsConfigFields
} from "../runtime/index.js"
import { type DataBudget, DataBudgetProbe, makeBody, makeDataBudget } from "./DataBudget.js"
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
  /** Bytes of one message kept (EHLO's SIZE); the rest is dropped and the message marked truncated. */
  max_body_bytes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1024, 64 * 1024 * 1024)), {
    default: () => 10 * 1024 * 1024
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
  readonly tls: tls.SecureContext
  readonly queueIds: QueueIds
  readonly budget: DataBudget
}

/** Postfix gives up on a client after this many errors (smtpd_hard_error_limit). */
const HARD_ERROR_LIMIT = 20
const MAX_RECIPIENTS = 100
const MAX_COMMANDS = 10_000
const BAD_TLDS = new Set(["invalid", "test", "localhost", "local", "example"])
const ADDRESS =
  /^[^\s@<>()",;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/

/** `FROM:<a@b> SIZE=…` / `TO:<a@b>` → the address, or undefined when the syntax is wrong. */
const parsePath = (arg: string, keyword: "FROM" | "TO"): string | undefined => {
  const m = new RegExp(`^${keyword}:\\s*(?:<([^<>]*)>|([^\\s<>]+))(?:\\s.*)?$`, "i").exec(arg.trim())
  return m === null ? undefined : (m[1] ?? m[2] ?? "")
}

const domainOf = (addr: string): string => {
  const at = addr.lastIndexOf("@")
  return at < 0 ? "" : addr.slice(at + 1).toLowerCase()
}

const isoStamp = (millis: number): string => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const storeMessage = (dir: string, name: string, data: Buffer) =>
  Effect.tryPromise(() => mkdir(dir, { recursive: true }).then(() => writeFile(join(dir, name), data)))

const WARNING = { severity: 4 } as const

const session = (
  s: Instance,
  conn: Connection,
  events: Emitter<SmtpEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    const reply = (text: string) => conn.write(`${text}\r\n`)
    let helo: string | undefined
    let authed = false
    let mailFrom: string | undefined
    let rcpts: Array<string> = []
    let errors = 0
    let unknown = 0

    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() => emit({ _tag: "disconnect", unknown_commands: unknown }))
    yield* reply(s.banner)

    const error = (text: string) =>
      Effect.gen(function* () {
        errors++
        yield* reply(text)
        return errors >= HARD_ERROR_LIMIT
      })

    /** RFC 4954 §4: a `*` line cancels; anything that is not base64 is a 501. */
    const readSaslLine = (prompt: string) =>
      Effect.gen(function* () {
        yield* reply(`334 ${prompt}`)
        return (yield* conn.readLine()).trim()
      })

    const authenticate = (arg: string) =>
      Effect.gen(function* () {
        const [mechRaw, initial] = arg.trim().split(/\s+/, 2)
        const mech = (mechRaw ?? "").toUpperCase()
        let username: string | undefined
        let password: Buffer | undefined
        if (mech === "PLAIN") {
          const line = initial ?? (yield* readSaslLine(""))
          if (line === "*") return yield* error("501 5.7.0 Authentication aborted")
          const creds = line === "=" ? undefined : decodePlain(line)
          if (creds === undefined)
            return yield* error(
              "535 5.7.8 Error: authentication failed: Invalid base64 data in continued response"
            )
          username = creds.username
          password = creds.password
        } else if (mech === "LOGIN") {
          const userLine = initial ?? (yield* readSaslLine("VXNlcm5hbWU6"))
          if (userLine === "*") return yield* error("501 5.7.0 Authentication aborted")
          const user = decodeLoginStep(userLine)
          if (user === undefined)
            return yield* error(
              "535 5.7.8 Error: authentication failed: Invalid base64 data in continued response"
            )
          const passLine = yield* readSaslLine("UGFzc3dvcmQ6")
          if (passLine === "*") return yield* error("501 5.7.0 Authentication aborted")
          const pass = decodeLoginStep(passLine)
          if (pass === undefined)
            return yield* error(
              "535 5.7.8 Error: authentication failed: Invalid base64 data in continued response"
            )
          username = user.toString("utf8")
          password = pass
        } else if (mech === "") {
          return yield* error("501 5.5.4 Syntax: AUTH mechanism")
        } else {
          return yield* error("504 5.5.4 Unrecognized authentication mechanism")
        }
        yield* emit(
          { _tag: "auth_attempt", mechanism: mech, username, ...credentialFields(username, password) },
          WARNING
        )
        const ok = s.openRelay && (s.authWhitelist.length === 0 || s.authWhitelist.includes(username))
        if (ok) {
          authed = true
          conn.loggedIn()
          yield* reply("235 2.7.0 Authentication successful")
          return false
        }
        return yield* error("535 5.7.8 Error: authentication failed: authentication failure")
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

    // The body is held against the instance's budget from its first line until it is stored or
    // dropped, however the connection ends (the scope gives it back).
    const data = Effect.gen(function* () {
      yield* reply("354 End data with <CR><LF>.<CR><LF>")
      const body = yield* Effect.acquireRelease(
        Effect.sync(() => makeBody(s.budget, s.maxBodyBytes)),
        (b) => Effect.sync(() => b.release())
      )
      // RFC 5321 §4.5.2: a line starting with "." has it removed; "." alone ends the data.
      for (;;) {
        const line = yield* conn.readLine()
        if (line === ".") break
        const text = line.startsWith(".") ? line.slice(1) : line
        body.append(Buffer.from(`${text}\r\n`, "utf8"))
      }
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
      yield* reply(`250 2.0.0 Ok: queued as ${id}`)
    }).pipe(Effect.scoped)

    for (let i = 0; i < MAX_COMMANDS; i++) {
      const line = yield* conn.readLine()
      const sp = line.indexOf(" ")
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase()
      const arg = sp < 0 ? "" : line.slice(sp + 1)
      let fatal = false
      switch (verb) {
        case "EHLO":
        case "HELO": {
          const domain = arg.trim()
          if (domain === "") {
            fatal = yield* error(`501 5.5.4 Syntax: ${verb} hostname`)
            break
          }
          helo = domain
          mailFrom = undefined
          rcpts = []
          yield* emit({ _tag: "ehlo", domain, command: verb })
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
            "DSN"
          ]
          yield* reply(caps.map((c, idx) => `250${idx === caps.length - 1 ? " " : "-"}${c}`).join("\r\n"))
          break
        }
        case "STARTTLS": {
          if (conn.isTls()) {
            fatal = yield* error("554 5.5.1 Error: TLS already active")
            break
          }
          if (arg.trim() !== "") {
            fatal = yield* error("501 5.5.4 Syntax: STARTTLS")
            break
          }
          yield* reply("220 2.0.0 Ready to start TLS")
          // RFC 3207 §4.2: the client must start over with EHLO. Plaintext pipelined behind STARTTLS goes
          // to the TLS layer (Connection.startTls), never to this state machine.
          yield* conn.startTls(s.tls)
          helo = undefined
          authed = false
          mailFrom = undefined
          rcpts = []
          break
        }
        case "AUTH":
          if (authed) fatal = yield* error("503 5.5.1 Error: already authenticated")
          else if (helo === undefined) fatal = yield* error("503 5.5.1 Error: send HELO/EHLO first")
          else fatal = yield* authenticate(arg)
          break
        case "MAIL": {
          if (helo === undefined) {
            fatal = yield* error("503 5.5.1 Error: send HELO/EHLO first")
            break
          }
          if (mailFrom !== undefined) {
            fatal = yield* error("503 5.5.1 Error: nested MAIL command")
            break
          }
          const addr = parsePath(arg, "FROM")
          if (addr === undefined) {
            fatal = yield* error("501 5.5.4 Syntax: MAIL FROM:<address>")
            break
          }
          mailFrom = addr
          yield* emit({ _tag: "mail_from", value: arg, mail_from: addr, domain: domainOf(addr) })
          yield* reply("250 2.1.0 Ok")
          break
        }
        case "RCPT": {
          if (mailFrom === undefined) {
            fatal = yield* error("503 5.5.1 Error: need MAIL command")
            break
          }
          const addr = parsePath(arg, "TO")
          if (addr === undefined) {
            fatal = yield* error("501 5.5.4 Syntax: RCPT TO:<address>")
            break
          }
          const rcpt = { value: arg, rcpt_to: addr, domain: domainOf(addr) }
          if (!s.openRelay) {
            yield* emit({ _tag: "rcpt_denied", ...rcpt }, WARNING)
            fatal = yield* error(`554 5.7.1 <${addr}>: Relay access denied`)
            break
          }
          if (!ADDRESS.test(addr)) {
            yield* emit({ _tag: "rcpt_rejected_syntax", value: arg, rcpt_to: addr })
            fatal = yield* error("501 5.1.3 Bad recipient address syntax")
            break
          }
          const tld = rcpt.domain.split(".").pop() ?? ""
          if (BAD_TLDS.has(tld)) {
            yield* emit({ _tag: "rcpt_rejected_tld", ...rcpt })
            fatal = yield* error(`550 5.1.2 <${addr}>: Recipient address rejected: Domain not found`)
            break
          }
          if ((yield* Random.next) < s.rcptDropRate) {
            yield* emit({ _tag: "rcpt_greylisted", ...rcpt })
            yield* reply(`451 4.7.1 <${addr}>: Recipient address rejected: Greylisted, try again later`)
            break
          }
          if (rcpts.length >= MAX_RECIPIENTS) {
            yield* reply("452 4.5.3 Error: too many recipients")
            break
          }
          rcpts.push(addr)
          yield* emit({ _tag: "rcpt_to", ...rcpt })
          yield* reply("250 2.1.5 Ok")
          break
        }
        case "DATA":
          if (arg.trim() !== "") fatal = yield* error("501 5.5.4 Syntax: DATA")
          else if (rcpts.length === 0) fatal = yield* error("503 5.5.1 Error: need RCPT command")
          else yield* data
          break
        case "RSET":
          mailFrom = undefined
          rcpts = []
          yield* reply("250 2.0.0 Ok")
          break
        case "NOOP":
          yield* reply("250 2.0.0 Ok")
          break
        case "VRFY":
          yield* emit({ _tag: "vrfy", value: arg })
          yield* reply("252 2.0.0 Cannot VRFY user")
          break
        case "QUIT":
          yield* conn.end("221 2.0.0 Bye\r\n")
          return
        default: {
          // Logged once per connection; the total is on the `disconnect` event.
          if (unknown++ === 0) yield* emit({ _tag: "unknown_command", command: line.slice(0, 256) })
          fatal = yield* error("502 5.5.2 Error: command not recognized")
        }
      }
      if (fatal) {
        yield* conn.end(`421 4.7.0 ${s.mta} Error: too many errors\r\n`)
        return
      }
    }
    yield* conn.end(`421 4.7.0 ${s.mta} Error: too many commands\r\n`)
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
    const { context } = yield* serviceTls({ service, host: address.host, port: address.port, config })
    const budget = makeDataBudget(config.data_buffer_mb * 1024 * 1024)
    const probe = yield* Effect.serviceOption(DataBudgetProbe)
    if (Option.isSome(probe)) yield* probe.value.started(service, budget)
    const instance: Instance = {
      service,
      openRelay,
      banner: config.banner ?? `220 ${ctx.hostname} ESMTP Postfix (Ubuntu)`,
      mta: config.mta ?? ctx.hostname,
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
