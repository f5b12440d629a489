/**
 * mysql (spec/honeypots.md §15, issue 14): a MySQL 8.0 server's connection phase. The greeting is
 * coherent with the claimed version (caching_sha2_password, utf8mb4_0900_ai_ci, CLIENT_SSL with a real
 * TLS upgrade on the decky's certificate); a client's first answer is switched to caching_sha2_password
 * like a MySQL 8 account, whose "full authentication" then hands over the password itself (in TLS, or
 * RSA-encrypted with the decky's key after a public-key request). Every login is refused with the
 * server's exact ERR 1045; broken handshakes get ER_HANDSHAKE_ERROR / ER_NET_PACKETS_OUT_OF_ORDER as
 * mysqld sends them. No artificial delay: MySQL answers a failed login at once.
 */
import { constants, generateKeyPair, privateDecrypt, randomBytes } from "node:crypto"
import type * as tls from "node:tls"
import { Effect, Either, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  HoneypotListenError,
  serveTcp,
  serviceTls,
  TlsProfiles,
  TlsConfigFields,
  TlsError,
  type TlsMaterial
} from "../runtime/index.js"
import { type MysqlEvent, mysqlEvents } from "./Events.js"
import {
  authMoreData,
  authSwitchRequest,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  classifyFirstPacket,
  clipUser,
  ER_ACCESS_DENIED_ERROR,
  ER_HANDSHAKE_ERROR,
  ER_NET_PACKETS_OUT_OF_ORDER,
  errPacket,
  type GreetingStyle,
  type HandshakeResponse,
  handshakeV10,
  packet,
  parseHandshakeResponse,
  styleFor
} from "./Wire.js"

export { errPacket, handshakeV10, parseHandshakeResponse } from "./Wire.js"

export const MysqlConfig = Schema.Struct({
  /** Server version string (env MYSQL_VERSION); empty = a seeded pick of MySQL 8.0 releases. */
  version: Schema.optionalWith(Schema.String, { default: () => "" }),
  ...TlsConfigFields
})
export type MysqlConfig = typeof MysqlConfig.Type

/** MySQL 8.0 releases (5.7 is end of life; a 5.7 version can still be configured). */
const VERSIONS: ReadonlyArray<readonly [string, number]> = [
  ["8.0.32", 2],
  ["8.0.35", 3],
  ["8.0.36", 3],
  ["8.0.39", 2],
  ["8.0.40", 1]
]

/** max_allowed_packet before login: a longer packet is read on and on, never answered. */
const MAX_PACKET = 1024 * 1024
/** connect_timeout (10 s): the login must be done by then, or the server drops the connection. */
const CONNECT_TIMEOUT_MS = 10_000
/** caching_sha2_password's AuthMoreData codes and the client's public-key request. */
const PERFORM_FULL_AUTHENTICATION = 4
const REQUEST_PUBLIC_KEY = 2

/** What one running mysql instance shares between its connections. */
interface Instance {
  readonly version: string
  readonly style: GreetingStyle
  readonly tls: tls.SecureContext | undefined
  /** caching_sha2_password's RSA pair (PEM public key for the client, private key to decrypt). */
  readonly rsa: TlsMaterial
  /** The next Handshake V10 connection id (counts up from a seeded base, like mysqld's thread ids). */
  nextConnectionId: number
}

/** What the client gave away, logged once when the login ends however it ends. */
interface Capture {
  response: HandshakeResponse | undefined
  native: Buffer | undefined
  sha2: Buffer | undefined
  plaintext: string | undefined
  tls: boolean
}

type Read = { readonly _tag: "Packet"; readonly payload: Buffer } | { readonly _tag: "Refused" }

/** The 20-byte scramble: printable, non-NUL bytes like mysqld's generator (clients cut at a NUL). */
const scramble = (): Buffer => {
  const salt = randomBytes(20)
  for (let i = 0; i < salt.length; i++) salt[i] = ((salt[i] ?? 0) % 94) + 33
  return salt
}

/** The RSA pair mysqld generates at first start (caching_sha2_password_auto_generate_rsa_keys). */
const rsaPair = Effect.async<TlsMaterial, TlsError>((resume) => {
  generateKeyPair(
    "rsa",
    {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" }
    },
    (err, publicKey, privateKey) =>
      err === null
        ? resume(Effect.succeed({ cert: publicKey, key: privateKey }))
        : resume(Effect.fail(new TlsError({ reason: `RSA key generation failed: ${err.message}` })))
  )
})

/** RSA-OAEP(password ‖ NUL XOR the scramble, cycled), as the client sends it without TLS. */
const decryptPassword = (rsa: TlsMaterial, salt: Buffer, data: Buffer): string | undefined =>
  Either.getOrUndefined(
    Either.map(
      Either.try(() => privateDecrypt({ key: rsa.key, padding: constants.RSA_PKCS1_OAEP_PADDING }, data)),
      (plain) => {
        for (let i = 0; i < plain.length; i++) plain[i] = (plain[i] ?? 0) ^ (salt[i % salt.length] ?? 0)
        const nul = plain.indexOf(0)
        return plain.toString("utf8", 0, nul < 0 ? plain.length : nul)
      }
    )
  )

const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<MysqlEvent>
): Effect.Effect<void, ConnectionError> => {
  const connectionId = instance.nextConnectionId++
  const salt = scramble()
  const capture: Capture = {
    response: undefined,
    native: undefined,
    sha2: undefined,
    plaintext: undefined,
    tls: false
  }
  let seq = 0
  let sqlState = true

  /** The next packet, which must carry the next sequence id; else ER_NET_PACKETS_OUT_OF_ORDER. */
  const read: Effect.Effect<Read, ConnectionError> = Effect.gen(function* () {
    const head = yield* conn.readBytes(4)
    const length = head.readUIntLE(0, 3)
    if (head[3] !== (seq + 1) % 256) {
      yield* conn.end(
        packet(
          seq + 1,
          errPacket(ER_NET_PACKETS_OUT_OF_ORDER, sqlState ? "08S01" : undefined, "Got packets out of order")
        )
      )
      return { _tag: "Refused" } as const
    }
    if (length > MAX_PACKET) return yield* Effect.forever(conn.readChunk())
    seq = head[3] ?? 0
    return { _tag: "Packet", payload: yield* conn.readBytes(length) } as const
  })
  const send = (payload: Buffer) => {
    seq = (seq + 1) % 256
    return conn.write(packet(seq, payload))
  }
  const refuse = (code: number, state: string, text: string) =>
    Effect.zipRight(
      Effect.sync(() => {
        seq = (seq + 1) % 256
      }),
      Effect.suspend(() => conn.end(packet(seq, errPacket(code, sqlState ? state : undefined, text))))
    )
  const badHandshake = (reason: string) =>
    Effect.zipRight(
      events.emit({ _tag: "error", connection_id: connectionId }, { msg: reason, severity: 4 }),
      refuse(ER_HANDSHAKE_ERROR, "08S01", "Bad handshake")
    )
  const denied = (user: string, withPassword: boolean) =>
    refuse(
      ER_ACCESS_DENIED_ERROR,
      "28000",
      `Access denied for user '${user}'@'${conn.remoteAddress}' (using password: ${withPassword ? "YES" : "NO"})`
    )

  /** caching_sha2_password for an account that does not exist: full authentication, then refused. */
  const cachingSha2 = (user: string, first: Buffer): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      capture.sha2 = first
      if (first.length === 0 || (first.length === 1 && first[0] === 0)) return yield* denied(user, false)
      if (first.length !== 32) return yield* denied(user, true)
      yield* send(authMoreData(Buffer.from([PERFORM_FULL_AUTHENTICATION])))
      const answer = yield* read
      if (answer._tag === "Refused") return
      if (conn.isTls()) {
        const p = answer.payload
        if (p.length > 0 && p[p.length - 1] === 0) capture.plaintext = p.toString("utf8", 0, p.length - 1)
        return yield* denied(user, true)
      }
      if (answer.payload.length !== 1 || answer.payload[0] !== REQUEST_PUBLIC_KEY)
        return yield* denied(user, true)
      yield* send(authMoreData(Buffer.from(instance.rsa.cert, "latin1")))
      const encrypted = yield* read
      if (encrypted._tag === "Refused") return
      capture.plaintext = decryptPassword(instance.rsa, salt, encrypted.payload)
      return yield* denied(user, true)
    })

  const login = Effect.gen(function* () {
    yield* conn.write(
      packet(
        0,
        handshakeV10(instance.style, instance.version, connectionId, salt, instance.tls !== undefined)
      )
    )
    let first = yield* read
    if (first._tag === "Refused") return
    let kind = classifyFirstPacket(first.payload)
    if (first.payload.length >= 2) sqlState = (first.payload.readUInt16LE(0) & CLIENT_PROTOCOL_41) !== 0
    if (kind._tag === "SslRequest") {
      if (instance.tls === undefined) return yield* badHandshake("SSLRequest without CLIENT_SSL offered")
      yield* conn.startTls(instance.tls)
      capture.tls = true
      first = yield* read
      if (first._tag === "Refused") return
      const parsed = parseHandshakeResponse(first.payload)
      kind = Either.isLeft(parsed)
        ? { _tag: "BadHandshake", sqlState: true, reason: parsed.left.reason }
        : { _tag: "Response", response: parsed.right }
    }
    if (kind._tag !== "Response")
      return yield* badHandshake(kind._tag === "BadHandshake" ? kind.reason : "SSLRequest twice")
    const r = kind.response
    capture.response = r
    const user = clipUser(r.username)
    const pluginAuth = (r.capabilities & CLIENT_PLUGIN_AUTH) !== 0
    const clientPlugin = pluginAuth && r.plugin !== "" ? r.plugin : "mysql_native_password"
    if (clientPlugin === "mysql_native_password") capture.native = r.authResponse
    // A client without plugin auth cannot be switched: the account checks its one answer.
    if (!pluginAuth || clientPlugin === instance.style.plugin) {
      if (instance.style.plugin === "caching_sha2_password" && pluginAuth)
        return yield* cachingSha2(user, r.authResponse)
      return yield* denied(user, r.authResponse.length > 0)
    }
    yield* send(authSwitchRequest(instance.style.plugin, salt))
    const switched = yield* read
    if (switched._tag === "Refused") return
    if (instance.style.plugin === "caching_sha2_password") return yield* cachingSha2(user, switched.payload)
    capture.native = switched.payload
    return yield* denied(user, switched.payload.length > 0)
  })

  const logAuth = Effect.suspend(() => {
    const r = capture.response
    if (r === undefined) return Effect.void
    const username = Buffer.from(r.username, "latin1").toString("utf8")
    const secret =
      capture.plaintext !== undefined && capture.plaintext !== ""
        ? {
            printable: capture.plaintext,
            b64: Buffer.from(capture.plaintext, "utf8").toString("base64"),
            kind: "plaintext" as const
          }
        : capture.native !== undefined && capture.native.length > 0
          ? {
              printable: capture.native.toString("hex"),
              b64: capture.native.toString("base64"),
              kind: "mysql_native_password" as const
            }
          : capture.sha2 !== undefined && capture.sha2.length > 1
            ? {
                printable: capture.sha2.toString("hex"),
                b64: capture.sha2.toString("base64"),
                kind: "hash" as const
              }
            : undefined
    return events.emit({
      _tag: "auth",
      username,
      connection_id: connectionId,
      principal: username,
      ...(secret === undefined
        ? {}
        : { secret_printable: secret.printable, secret_b64: secret.b64, secret_kind: secret.kind }),
      ...(capture.native !== undefined && capture.native.length > 0
        ? { native_response: capture.native.toString("hex") }
        : {}),
      scramble: salt.toString("hex"),
      database: Buffer.from(r.database, "latin1").toString("utf8"),
      client_plugin: Buffer.from(r.plugin, "latin1").toString("utf8"),
      client_attrs: r.attributes,
      tls: capture.tls
    })
  })

  return Effect.gen(function* () {
    yield* events.emit({ _tag: "connect", connection_id: connectionId })
    conn.within(CONNECT_TIMEOUT_MS)
    yield* login.pipe(Effect.ensuring(logAuth))
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))
}

export const mysqlHoneypot = defineHoneypot({
  slug: "mysql",
  description: "MySQL 8.0 server: Handshake V10, TLS, caching_sha2_password full auth capture, ERR 1045",
  ports: { tcp: [3306], udp: [] },
  config: MysqlConfig,
  events: mysqlEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const address = options.address()
      const version = options.config.version !== "" ? options.config.version : ctx.seed.pickWeighted(VERSIONS)
      const style = styleFor(version)
      const modern = style.plugin === "caching_sha2_password"
      // mysqld's auto-generated certificate names the server version.
      const tlsContext = modern
        ? (yield* serviceTls({
            service: "mysql",
            host: address.host,
            port: address.port,
            config: {
              ...options.config,
              tls_cn: options.config.tls_cn ?? `MySQL_Server_${version}_Auto_Generated_Server_Certificate`
            },
            profile: TlsProfiles.mysql
          })).context
        : undefined
      const rsa = yield* ctx.certificates.get("mysql caching_sha2_password RSA", rsaPair).pipe(
        Effect.mapError(
          (e) =>
            new HoneypotListenError({
              service: "mysql",
              host: address.host,
              port: address.port,
              message: e.reason
            })
        )
      )
      const instance: Instance = {
        version,
        style,
        tls: tlsContext,
        rsa,
        nextConnectionId: ctx.seed.int(17, 65000)
      }
      const listener = yield* serveTcp({
        ...address,
        events: mysqlEvents,
        handler: (conn, events) => session(instance, conn, events)
      })
      return [listener]
    })
})
