/**
 * A mail service that speaks one protocol on a STARTTLS port and an implicit-TLS port (imap 143/993,
 * pop3 110/995): one session function serves both, and on the implicit-TLS port the handshake comes
 * before the greeting (RFC 8314 §3.3).
 */
import type * as tls from "node:tls"
import { Clock, Effect, type Ref, type Scope } from "effect"
import {
  type BindAddress,
  type Connection,
  type ConnectionError,
  type Emitter,
  type HoneypotListenError,
  type Listener,
  type RuntimeEvent,
  HoneypotContext,
  type RunOptions,
  type ServiceEvents,
  serveTcp,
  serviceTls,
  TlsProfiles,
  type TaggedEvent,
  type TlsConfig
} from "../runtime/index.js"
import { parseUsers } from "./Accounts.js"
import { type AuthPenalty, makeAuthPenalty } from "./AuthPenalty.js"
import { mailDomain, seedMailbox } from "./Mailbox.js"

/** The mailbox knobs imap and pop3 share (`MailboxConfigFields`). */
export interface MailboxConfig extends TlsConfig {
  readonly users: string
  readonly email_seed?: string | undefined
  readonly email_seed_rescan: number
}

/** What one running imap or pop3 instance shares between its connections, and nothing else does. */
export interface MailInstance<C> {
  readonly config: C
  readonly users: ReadonlyMap<string, string>
  /** The domain the bait is addressed to (from the decky hostname). */
  readonly domain: string
  readonly tls: tls.SecureContext
  readonly seeds: Ref.Ref<ReadonlyArray<Buffer>>
  /** Dovecot's failed-login delays and per-IP penalty (imap and pop3). */
  readonly penalty: AuthPenalty
  /** The mailboxes' UIDVALIDITY: a creation time, stable per decky (imap SELECT, pop3 UIDL). */
  readonly uidValidity: number
  /** The bait's dates count back from here (the instance's start): a mailbox does not change per login. */
  readonly mailboxTime: Date
}

/**
 * Serve a mailbox protocol: the instance (accounts, bait mailbox, TLS) made once per `run`, then the
 * STARTTLS port and the implicit-TLS port with one session function.
 */
export const serveMailbox = <C extends MailboxConfig, Ev extends TaggedEvent, R>(options: {
  readonly run: RunOptions<C>
  readonly events: ServiceEvents<Ev | RuntimeEvent>
  readonly plainPort: number
  readonly tlsPort: number
  readonly session: (
    instance: MailInstance<C>,
    conn: Connection,
    events: Emitter<Ev | RuntimeEvent>
  ) => Effect.Effect<void, ConnectionError, R>
}): Effect.Effect<ReadonlyArray<Listener>, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const ctx = yield* HoneypotContext
    const config = options.run.config
    const implicitTls = options.run.address(options.tlsPort)
    const { context } = yield* serviceTls({
      service: options.events.service,
      host: implicitTls.host,
      port: implicitTls.port,
      config,
      profile: TlsProfiles.dovecot
    })
    const instance: MailInstance<C> = {
      config,
      users: parseUsers(config.users),
      domain: mailDomain(ctx.hostname),
      tls: context,
      seeds: yield* seedMailbox(config.email_seed, config.email_seed_rescan),
      penalty: makeAuthPenalty(),
      uidValidity: 1_600_000_000 + (ctx.seed.bytes(4, "mail-uidvalidity").readUInt32BE(0) % 120_000_000),
      mailboxTime: new Date(yield* Clock.currentTimeMillis)
    }
    return yield* servePlainAndTls({
      events: options.events,
      plain: options.run.address(options.plainPort),
      implicitTls,
      tls: context,
      session: (conn, events) => options.session(instance, conn, events)
    })
  })

export interface PlainAndTlsOptions<Ev extends TaggedEvent, R> {
  readonly events: ServiceEvents<Ev | RuntimeEvent>
  /** The STARTTLS port (the session offers the upgrade itself). */
  readonly plain: BindAddress
  readonly implicitTls: BindAddress
  readonly tls: tls.SecureContext
  readonly session: (
    conn: Connection,
    events: Emitter<Ev | RuntimeEvent>
  ) => Effect.Effect<void, ConnectionError, R>
}

/** Bind both listeners: `[plain, implicitTls]`. */
export const servePlainAndTls = <Ev extends TaggedEvent, R>(
  options: PlainAndTlsOptions<Ev, R>
): Effect.Effect<ReadonlyArray<Listener>, HoneypotListenError, Scope.Scope | HoneypotContext | R> =>
  Effect.gen(function* () {
    const plain = yield* serveTcp({ ...options.plain, events: options.events, handler: options.session })
    const secure = yield* serveTcp({
      ...options.implicitTls,
      events: options.events,
      handler: (conn, events) => Effect.zipRight(conn.startTls(options.tls), options.session(conn, events))
    })
    return [plain, secure]
  })
