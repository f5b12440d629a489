/**
 * postgres (spec/honeypots.md §16, issue 14): the startup phase of a PostgreSQL 15 server (Debian
 * bookworm's 15.20) configured with `md5` (or `password`) authentication for every database. Every
 * packet a scanner can send before authentication gets the real server's answer, byte for byte
 * (Wire.ts): SSLRequest 'N' (or 'S' and TLS with `ssl: true`), GSSENCRequest 'G', the FATAL texts,
 * SQLSTATEs and source positions of ProcessStartupPacket and recv_password_packet, silent closes where
 * the server only logs. The password answer is logged, then refused at once (the server has no delay).
 */
import { randomBytes } from "node:crypto"
import type * as tls from "node:tls"
import { Effect, Either, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  serveTcp,
  serviceTls,
  TlsProfiles,
  TlsConfigFields
} from "../runtime/index.js"
import { type PostgresEvent, postgresEvents } from "./Events.js"
import {
  authRequest,
  errorResponse,
  GSS_TOKEN_MAX,
  negotiateProtocolVersion,
  PASSWORD_LENGTH_MAX,
  parseStartup,
  SITES,
  STARTUP_LENGTH_MAX,
  STARTUP_LENGTH_MIN,
  truncateName,
  unsupportedProtocol
} from "./Wire.js"

export { parseStartup } from "./Wire.js"

export const PostgresConfig = Schema.Struct({
  /**
   * `md5` (AuthenticationMD5Password; the hash is crackable with the logged salt) or `cleartext`
   * (AuthenticationCleartextPassword, pg_hba's `password`; captures the password itself).
   */
  auth_method: Schema.optionalWith(Schema.Literal("md5", "cleartext"), { default: () => "md5" as const }),
  /**
   * `ssl = on` (Debian's packaged default, with the snakeoil certificate): SSLRequest gets 'S' and a
   * TLS handshake with the decky's certificate. Off (the default, as the Docker image): 'N'.
   */
  ssl: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  ...TlsConfigFields
})
export type PostgresConfig = typeof PostgresConfig.Type

/** authentication_timeout (60 s): a client that has not authenticated by then is dropped silently. */
const AUTHENTICATION_TIMEOUT_MS = 60_000

/** The bytes of a latin1-held wire string read as the UTF-8 the client meant (for the events). */
const utf8 = (wire: string): string => Buffer.from(wire, "latin1").toString("utf8")

/**
 * The server stops reading the socket as it expects (a TLS or GSSAPI handshake read below the buffer
 * it already filled): the client's pipelined bytes are never answered, until authentication_timeout.
 */
const stall = (conn: Connection): Effect.Effect<never, ConnectionError> => Effect.forever(conn.readChunk())

interface Instance {
  readonly config: PostgresConfig
  readonly tls: tls.SecureContext | undefined
}

/** Startup packets until a StartupMessage; undefined when the connection ends before one. */
const negotiate = (instance: Instance, conn: Connection, emit: Emitter<PostgresEvent>["emit"]) =>
  Effect.gen(function* () {
    let sslDone = false
    let gssDone = false
    for (;;) {
      // The length word counts itself; outside 8…10004 the server logs "invalid length of startup
      // packet" and closes without a word.
      const length = (yield* conn.readBytes(4)).readUInt32BE(0)
      if (length < STARTUP_LENGTH_MIN || length > STARTUP_LENGTH_MAX) return undefined
      const body = yield* conn.readBytes(length - 4)
      const parsed = parseStartup(body)
      if (Either.isLeft(parsed)) {
        const e = parsed.left
        yield* emit({ _tag: "error" }, { msg: e._tag === "StartupRefused" ? e.text : e.reason, severity: 4 })
        if (e._tag === "StartupRefused")
          yield* conn.end(errorResponse(e.code, e.text, e.site, { hint: e.hint }))
        return undefined
      }
      const s = parsed.right
      if (s._tag === "Cancel") return undefined
      if (s._tag === "SslRequest" && !sslDone) {
        if (instance.tls !== undefined) {
          yield* conn.write("S")
          if (conn.buffered() > 0) return yield* stall(conn)
          yield* conn.startTls(instance.tls)
          sslDone = true
          gssDone = true
          continue
        }
        yield* conn.write("N")
        // Bytes sent before the answer was read could have been injected (CVE-2021-23214).
        if (conn.buffered() > 0)
          return yield* conn.end(
            errorResponse("08P01", "received unencrypted data after SSL request", SITES.unencryptedAfterSsl, {
              detail:
                "This could be either a client-software bug or evidence of an attempted man-in-the-middle attack."
            })
          )
        sslDone = true
        continue
      }
      if (s._tag === "GssEncRequest" && !gssDone) {
        // Debian builds with GSSAPI: 'G', then the security context fails (no keytab), logged only.
        yield* conn.write("G")
        if (conn.buffered() > 0) return yield* stall(conn)
        const tokenLength = (yield* conn.readBytes(4)).readUInt32BE(0)
        if (tokenLength <= GSS_TOKEN_MAX) yield* conn.readBytes(tokenLength)
        return undefined
      }
      if (s._tag !== "Startup") {
        // A second SSL/GSS request is read as a protocol version (1234.5679 / 1234.5680).
        const code = body.readUInt32BE(0)
        const major = s._tag === "Unsupported" ? s.major : code >>> 16
        const minor = s._tag === "Unsupported" ? s.minor : code & 0xffff
        yield* emit(
          { _tag: "error" },
          { msg: `unsupported frontend protocol ${major}.${minor}`, severity: 4 }
        )
        return yield* conn.end(unsupportedProtocol(major, minor))
      }
      return s
    }
  })

/** Every password is refused, so a connection is never logged in (authentication_timeout caps it). */
const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<PostgresEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    yield* emit({ _tag: "connect" })
    conn.within(AUTHENTICATION_TIMEOUT_MS)
    const startup = yield* negotiate(instance, conn, emit)
    if (startup === undefined) return
    if (startup.minor > 0 || startup.protocolOptions.length > 0)
      yield* conn.write(negotiateProtocolVersion(startup.protocolOptions))
    const user = truncateName(startup.params.user ?? "")
    if (user === "")
      return yield* conn.end(
        errorResponse("28000", "no PostgreSQL user name specified in startup packet", SITES.noUser)
      )
    const database = truncateName(startup.params.database || user)
    const username = utf8(user)
    yield* emit({
      _tag: "startup_message",
      username,
      database: utf8(database),
      application_name: utf8(startup.params.application_name ?? "")
    })

    // pg_hba's `host all all … md5` lines do not cover physical replication connections.
    if (startup.physicalReplication)
      return yield* conn.end(
        errorResponse(
          "28000",
          `no pg_hba.conf entry for replication connection from host "${conn.remoteAddress}", user "${user}", ${conn.isTls() ? "SSL encryption" : "no encryption"}`,
          SITES.noHbaEntry
        )
      )

    const salt = randomBytes(4)
    yield* conn.write(authRequest(instance.config.auth_method, salt))
    const type = (yield* conn.readBytes(1))[0] ?? 0
    if (type !== 0x70)
      return yield* conn.end(
        errorResponse("08P01", `expected password response, got message type ${type}`, SITES.notPassword)
      )
    const length = (yield* conn.readBytes(4)).readInt32BE(0)
    if (length < 4 || length > PASSWORD_LENGTH_MAX) return
    const body = yield* conn.readBytes(length - 4)
    // The packet must hold exactly one NUL-terminated string.
    if (body.length === 0 || body.indexOf(0) !== body.length - 1)
      return yield* conn.end(errorResponse("08P01", "invalid password packet size", SITES.badPasswordSize))
    if (body.length === 1)
      return yield* conn.end(errorResponse("28P01", "empty password returned by client", SITES.emptyPassword))
    const pw = body.toString("utf8", 0, body.length - 1)
    const md5 = /^md5[0-9a-f]{32}$/.test(pw)
    yield* emit({
      _tag: "auth",
      username,
      database: utf8(database),
      ...(md5
        ? {
            pw_hash: pw,
            ...credentialFields(username, pw),
            secret_kind: "postgres_md5_challenge" as const,
            secret_b64: Buffer.from(pw.slice(3), "hex").toString("base64"),
            salt: salt.toString("hex")
          }
        : { ...credentialFields(username, pw), secret_kind: "plaintext" as const })
    })
    yield* conn.end(
      errorResponse("28P01", `password authentication failed for user "${user}"`, SITES.authFailed)
    )
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const postgresHoneypot = defineHoneypot({
  slug: "postgres",
  description: "PostgreSQL 15 server: startup, MD5/cleartext password capture, FATAL 28P01",
  ports: { tcp: [5432], udp: [] },
  config: PostgresConfig,
  events: postgresEvents,
  run: (options) =>
    Effect.gen(function* () {
      const address = options.address()
      const instance: Instance = {
        config: options.config,
        tls: options.config.ssl
          ? (yield* serviceTls({
              service: "postgres",
              host: address.host,
              port: address.port,
              config: options.config,
              profile: TlsProfiles.postgres
            })).context
          : undefined
      }
      const listener = yield* serveTcp({
        ...address,
        events: postgresEvents,
        handler: (conn, events) => session(instance, conn, events)
      })
      return [listener]
    })
})
