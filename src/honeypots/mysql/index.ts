/**
 * mysql (spec/honeypots.md §15): a MySQL server that greets with Handshake V10, reads the client's
 * HandshakeResponse41 (scramble response = crackable with the logged salt) and denies access with the
 * server's exact ERR 1045 text. CLIENT_SSL is not advertised, so clients never try TLS.
 */
import { randomBytes } from "node:crypto"
import { Effect, Either, Random, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  ProtocolViolation,
  serveTcp
} from "../runtime/index.js"
import { type MysqlEvent, mysqlEvents } from "./Events.js"

export const MysqlConfig = Schema.Struct({
  /** Server version string (env MYSQL_VERSION); empty = a seeded pick of real releases. */
  version: Schema.optionalWith(Schema.String, { default: () => "" })
})
export type MysqlConfig = typeof MysqlConfig.Type

const VERSIONS: ReadonlyArray<readonly [string, number]> = [
  ["5.7.38-log", 1],
  ["5.7.43-log", 2],
  ["5.7.44-log", 2],
  ["8.0.32", 2],
  ["8.0.35", 3],
  ["8.0.36", 3],
  ["8.0.39", 2],
  ["8.0.40", 1]
]

/** Packets past 1 MiB close the connection (the 3-byte length allows 16 MiB). */
const MAX_PACKET = 1024 * 1024

// Capability flags (MySQL protocol "Capabilities Flags").
const CLIENT_CONNECT_WITH_DB = 0x00000008
const CLIENT_PROTOCOL_41 = 0x00000200
const CLIENT_SSL = 0x00000800
const CLIENT_SECURE_CONNECTION = 0x00008000
const CLIENT_PLUGIN_AUTH = 0x00080000
const CLIENT_CONNECT_ATTRS = 0x00100000
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000

/** Protocol::HandshakeV10, exactly as the spec lays it out (caps ff f7 / ff 81: no CLIENT_SSL). */
export const handshakeV10 = (version: string, connectionId: number, salt: Buffer): Buffer => {
  const idBuf = Buffer.alloc(4)
  idBuf.writeUInt32LE(connectionId >>> 0)
  return Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from(`${version}\0`, "latin1"),
    idBuf,
    salt.subarray(0, 8),
    Buffer.from([0x00, 0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 0x15]),
    Buffer.alloc(10),
    salt.subarray(8, 20),
    Buffer.from([0x00]),
    Buffer.from("mysql_native_password\0", "latin1")
  ])
}

export interface HandshakeResponse {
  readonly capabilities: number
  readonly username: string
  readonly authResponse: Buffer
  readonly database: string
  readonly plugin: string
  readonly attributes: Readonly<Record<string, string>>
}

/** A cursor that never reads past the end: running off the buffer marks it failed. */
class Cursor {
  ok = true
  constructor(
    readonly buf: Buffer,
    public pos = 0
  ) {}
  get left(): number {
    return this.buf.length - this.pos
  }
  bytes(n: number): Buffer {
    if (n < 0 || n > this.left) {
      this.ok = false
      this.pos = this.buf.length
      return Buffer.alloc(0)
    }
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  u8(): number {
    return this.bytes(1)[0] ?? 0
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos)
    if (end < 0) {
      this.ok = false
      this.pos = this.buf.length
      return ""
    }
    const s = this.buf.toString("utf8", this.pos, end)
    this.pos = end + 1
    return s
  }
  /** Protocol::LengthEncodedInteger (values past 2^32 are refused as implausible). */
  lenenc(): number {
    const first = this.u8()
    if (first < 0xfb) return first
    if (first === 0xfc) return this.bytes(2).readUInt16LE(0)
    if (first === 0xfd) {
      const b = this.bytes(3)
      return b.length === 3 ? b.readUIntLE(0, 3) : 0
    }
    if (first === 0xfe) {
      const b = this.bytes(8)
      if (b.length === 8 && b.readUInt32LE(4) === 0) return b.readUInt32LE(0)
    }
    this.ok = false
    return 0
  }
}

/** Protocol::HandshakeResponse41. A 32-byte packet is an SSLRequest; older 320 clients are refused. */
export const parseHandshakeResponse = (
  payload: Buffer
): Either.Either<HandshakeResponse, ProtocolViolation> => {
  if (payload.length < 32)
    return Either.left(new ProtocolViolation({ reason: "handshake response too short" }))
  const c = new Cursor(payload)
  const caps = c.bytes(4).readUInt32LE(0)
  if ((caps & CLIENT_PROTOCOL_41) === 0)
    return Either.left(new ProtocolViolation({ reason: "pre-4.1 handshake response" }))
  if (payload.length === 32)
    return Either.left(
      new ProtocolViolation({
        reason: (caps & CLIENT_SSL) !== 0 ? "SSLRequest without CLIENT_SSL offered" : "short"
      })
    )
  c.pos = 32
  const username = c.cstring()
  let authResponse: Buffer
  if ((caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) !== 0) authResponse = c.bytes(c.lenenc())
  else if ((caps & CLIENT_SECURE_CONNECTION) !== 0) authResponse = c.bytes(c.u8())
  else authResponse = Buffer.from(c.cstring(), "utf8")
  const database = (caps & CLIENT_CONNECT_WITH_DB) !== 0 && c.left > 0 ? c.cstring() : ""
  const plugin = (caps & CLIENT_PLUGIN_AUTH) !== 0 && c.left > 0 ? c.cstring() : ""
  const attributes: Record<string, string> = {}
  if ((caps & CLIENT_CONNECT_ATTRS) !== 0 && c.left > 0) {
    const total = c.lenenc()
    const attrs = new Cursor(c.bytes(total))
    for (let i = 0; i < 64 && attrs.left > 0 && attrs.ok; i++) {
      const k = attrs.bytes(attrs.lenenc()).toString("utf8")
      const v = attrs.bytes(attrs.lenenc()).toString("utf8")
      if (attrs.ok) attributes[k] = v
    }
  }
  if (!c.ok && username === "")
    return Either.left(new ProtocolViolation({ reason: "truncated handshake response" }))
  return Either.right({ capabilities: caps, username, authResponse, database, plugin, attributes })
}

/** ERR_Packet with SQL state: `ff`, code LE, `#`, state, message. */
export const errPacket = (code: number, state: string, message: string): Buffer => {
  const head = Buffer.alloc(3)
  head[0] = 0xff
  head.writeUInt16LE(code, 1)
  return Buffer.concat([head, Buffer.from(`#${state}`, "latin1"), Buffer.from(message, "utf8")])
}

const packet = (seq: number, payload: Buffer): Buffer => {
  const h = Buffer.alloc(4)
  h.writeUIntLE(payload.length, 0, 3)
  h[3] = seq & 0xff
  return Buffer.concat([h, payload])
}

/** Reply delay in [minMs, maxMs) from the instance's seeded generator. */
const jitter = (minMs: number, maxMs: number) =>
  Effect.flatMap(Random.nextIntBetween(minMs, maxMs), (ms) => Effect.sleep(ms))

/** What one running mysql instance shares between its connections. */
interface Instance {
  readonly version: string
  /** The next Handshake V10 connection id (counts up from a seeded base, like mysqld's thread ids). */
  nextConnectionId: number
}

/** Access is always denied, so a connection is never logged in (the pre-login grace caps it). */
const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<MysqlEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    const connectionId = instance.nextConnectionId++
    yield* emit({ _tag: "connect", connection_id: connectionId })
    const salt = randomBytes(20)
    // Salt bytes must be non-NUL printable-ish like mysqld's generator, or clients truncate them.
    for (let i = 0; i < salt.length; i++) salt[i] = (salt[i]! % 94) + 33
    yield* conn.write(packet(0, handshakeV10(instance.version, connectionId, salt)))

    const head = yield* conn.readBytes(4)
    const length = head.readUIntLE(0, 3)
    if (length > MAX_PACKET) return
    const payload = yield* conn.readBytes(length)
    const parsed = parseHandshakeResponse(payload)
    if (Either.isLeft(parsed)) {
      yield* emit({ _tag: "error", connection_id: connectionId }, { msg: parsed.left.reason, severity: 4 })
      return
    }
    const r = parsed.right
    const hasPassword = r.authResponse.length > 0
    yield* emit({
      _tag: "auth",
      username: r.username,
      connection_id: connectionId,
      principal: r.username,
      ...(hasPassword
        ? {
            // The response in hex: printable as it is.
            secret_printable: r.authResponse.toString("hex"),
            secret_b64: r.authResponse.toString("base64"),
            secret_kind: "mysql_native_password" as const
          }
        : {}),
      scramble: salt.toString("hex"),
      database: r.database,
      client_plugin: r.plugin,
      client_attrs: r.attributes
    })
    yield* jitter(15, 90)
    yield* conn.end(
      packet(
        2,
        errPacket(
          1045,
          "28000",
          `Access denied for user '${r.username}'@'${conn.remoteAddress}' (using password: ${hasPassword ? "YES" : "NO"})`
        )
      )
    )
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const mysqlHoneypot = defineHoneypot({
  slug: "mysql",
  description: "MySQL server: Handshake V10, scramble capture, ERR 1045 Access denied",
  ports: { tcp: [3306], udp: [] },
  config: MysqlConfig,
  events: mysqlEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const instance: Instance = {
        version: options.config.version !== "" ? options.config.version : ctx.seed.pickWeighted(VERSIONS),
        nextConnectionId: ctx.seed.int(17, 65000)
      }
      const listener = yield* serveTcp({
        ...options.address(),
        events: mysqlEvents,
        handler: (conn, events) => session(instance, conn, events)
      })
      return [listener]
    })
})
