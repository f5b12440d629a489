/**
 * A mail service that speaks one protocol on a STARTTLS port and an implicit-TLS port (imap 143/993,
 * pop3 110/995): one session function serves both, and on the implicit-TLS port the handshake comes
 * before the greeting (RFC 8314 §3.3).
 */
import type * as tls from "node:tls"
import { Effect, type Scope } from "effect"
import {
  type BindAddress,
  type Connection,
  type ConnectionError,
  type Emitter,
  type HoneypotContext,
  type HoneypotListenError,
  type Listener,
  type RuntimeEvent,
  type ServiceEvents,
  serveTcp,
  type TaggedEvent
} from "../runtime/index.js"

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
