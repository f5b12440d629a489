/**
 * The MySQL client/server protocol's connection phase (MySQL dev docs, "Connection Phase Packets"):
 * packet framing, Protocol::HandshakeV10 as a MySQL 8.0 (or 5.7) server writes it, the client's
 * SSLRequest / HandshakeResponse41, and the ERR texts the server sends before a login.
 */
import { Either } from "effect"
import { ProtocolViolation } from "../runtime/index.js"

// Capability flags ("Capabilities Flags").
export const CLIENT_CONNECT_WITH_DB = 0x00000008
export const CLIENT_PROTOCOL_41 = 0x00000200
export const CLIENT_SSL = 0x00000800
export const CLIENT_SECURE_CONNECTION = 0x00008000
export const CLIENT_PLUGIN_AUTH = 0x00080000
export const CLIENT_CONNECT_ATTRS = 0x00100000
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000

/** A server persona's greeting: what MySQL 8.0 (caching_sha2_password, utf8mb4, TLS) or 5.7 sends. */
export interface GreetingStyle {
  /** Capability flags (lower 16 bits, upper 16 bits). */
  readonly capabilities: number
  /** The server's default collation id: 255 utf8mb4_0900_ai_ci (8.0), 8 latin1_swedish_ci (5.7). */
  readonly charset: number
  /** default_authentication_plugin. */
  readonly plugin: "caching_sha2_password" | "mysql_native_password"
}

/** MySQL 8.0.x: every capability but CLIENT_CAPABILITY_EXTENSION (ff ff / ff df), TLS on. */
export const MYSQL80: GreetingStyle = {
  capabilities: 0xdfffffff,
  charset: 255,
  plugin: "caching_sha2_password"
}
/** MySQL 5.7 as the emulator always showed it (ff f7 / ff 81: no CLIENT_SSL), native passwords. */
export const MYSQL57: GreetingStyle = {
  capabilities: 0x81fff7ff,
  charset: 8,
  plugin: "mysql_native_password"
}

export const styleFor = (version: string): GreetingStyle => (/^[0-7]\./.test(version) ? MYSQL57 : MYSQL80)

/** Protocol::HandshakeV10. `tls` false clears CLIENT_SSL (no certificate to offer). */
export const handshakeV10 = (
  style: GreetingStyle,
  version: string,
  connectionId: number,
  salt: Buffer,
  tls: boolean
): Buffer => {
  const caps = tls ? style.capabilities : style.capabilities & ~CLIENT_SSL
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10)
  fixed.writeUInt32LE(connectionId >>> 0, 0)
  salt.copy(fixed, 4, 0, 8)
  // fixed[12]: filler 0
  fixed.writeUInt16LE(caps & 0xffff, 13)
  fixed[15] = style.charset
  fixed.writeUInt16LE(0x0002, 16) // SERVER_STATUS_AUTOCOMMIT
  fixed.writeUInt16LE(caps >>> 16, 18)
  fixed[20] = 21 // auth-plugin-data length: 20 bytes of scramble + NUL
  return Buffer.concat([
    Buffer.from([0x0a]),
    Buffer.from(`${version}\0`, "latin1"),
    fixed,
    salt.subarray(8, 20),
    Buffer.from([0x00]),
    Buffer.from(`${style.plugin}\0`, "latin1")
  ])
}

/** Protocol::AuthSwitchRequest: 0xfe, the plugin, its data (the scramble and a NUL). */
export const authSwitchRequest = (plugin: string, salt: Buffer): Buffer =>
  Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`, "latin1"), salt, Buffer.from([0])])

/** Protocol::AuthMoreData: 0x01 then the plugin's bytes. */
export const authMoreData = (data: Buffer): Buffer => Buffer.concat([Buffer.from([0x01]), data])

export interface HandshakeResponse {
  readonly capabilities: number
  readonly username: string
  readonly authResponse: Buffer
  readonly database: string
  readonly plugin: string
  readonly attributes: Readonly<Record<string, string>>
}

/** What the first client packet is, in the order mysqld's parse_client_handshake_packet checks it. */
export type FirstPacket =
  /** ER_HANDSHAKE_ERROR; `sqlState` false when the client's capabilities lack CLIENT_PROTOCOL_41. */
  | { readonly _tag: "BadHandshake"; readonly sqlState: boolean; readonly reason: string }
  | { readonly _tag: "SslRequest"; readonly capabilities: number }
  | { readonly _tag: "Response"; readonly response: HandshakeResponse }

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
  /** A NUL-terminated string, as latin1 (one char per byte: the bytes go back unchanged). */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos)
    if (end < 0) {
      this.ok = false
      this.pos = this.buf.length
      return ""
    }
    const s = this.buf.toString("latin1", this.pos, end)
    this.pos = end + 1
    return s
  }
  /** Protocol::LengthEncodedInteger (values past 2^32 are refused as implausible). */
  lenenc(): number {
    const first = this.u8()
    if (first < 0xfb) return first
    if (first === 0xfc) {
      const b = this.bytes(2)
      return b.length === 2 ? b.readUInt16LE(0) : 0
    }
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

/** Protocol::HandshakeResponse41 after the 32-byte fixed part; a missing user or an overrun is refused. */
export const parseHandshakeResponse = (
  payload: Buffer
): Either.Either<HandshakeResponse, ProtocolViolation> => {
  if (payload.length < 32)
    return Either.left(new ProtocolViolation({ reason: "handshake response too short" }))
  const c = new Cursor(payload)
  const caps = c.bytes(4).readUInt32LE(0)
  if ((caps & CLIENT_PROTOCOL_41) === 0)
    return Either.left(new ProtocolViolation({ reason: "pre-4.1 handshake response" }))
  c.pos = 32
  const username = c.cstring()
  if (!c.ok) return Either.left(new ProtocolViolation({ reason: "unterminated user name" }))
  let authResponse: Buffer
  if ((caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) !== 0) authResponse = c.bytes(c.lenenc())
  else if ((caps & CLIENT_SECURE_CONNECTION) !== 0) authResponse = c.bytes(c.u8())
  else authResponse = Buffer.from(c.cstring(), "latin1")
  if (!c.ok) return Either.left(new ProtocolViolation({ reason: "truncated auth response" }))
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
  return Either.right({ capabilities: caps, username, authResponse, database, plugin, attributes })
}

/** Classify the client's first packet (after the greeting). */
export const classifyFirstPacket = (payload: Buffer): FirstPacket => {
  // Fewer than 2 bytes: no capabilities read yet, the server's default (4.1) applies.
  if (payload.length < 2) return { _tag: "BadHandshake", sqlState: true, reason: "empty handshake response" }
  const caps16 = payload.readUInt16LE(0)
  if ((caps16 & CLIENT_PROTOCOL_41) === 0)
    return { _tag: "BadHandshake", sqlState: false, reason: "pre-4.1 handshake response" }
  if (payload.length < 32)
    return { _tag: "BadHandshake", sqlState: true, reason: "handshake response too short" }
  const caps = payload.readUInt32LE(0)
  if ((caps & CLIENT_SSL) !== 0) return { _tag: "SslRequest", capabilities: caps }
  const parsed = parseHandshakeResponse(payload)
  return Either.isLeft(parsed)
    ? { _tag: "BadHandshake", sqlState: true, reason: parsed.left.reason }
    : { _tag: "Response", response: parsed.right }
}

/** ERR_Packet: `ff`, code LE, `#` and the SQL state (for 4.1 clients), message (latin1: bytes as sent). */
export const errPacket = (code: number, state: string | undefined, message: string): Buffer => {
  const head = Buffer.alloc(3)
  head[0] = 0xff
  head.writeUInt16LE(code, 1)
  return Buffer.concat([
    head,
    state === undefined ? Buffer.alloc(0) : Buffer.from(`#${state}`, "latin1"),
    Buffer.from(message, "latin1")
  ])
}

export const ER_HANDSHAKE_ERROR = 1043
export const ER_ACCESS_DENIED_ERROR = 1045
export const ER_NET_PACKETS_OUT_OF_ORDER = 1156

/** A packet: 3-byte length, sequence id, payload. */
export const packet = (seq: number, payload: Buffer): Buffer => {
  const h = Buffer.alloc(4)
  h.writeUIntLE(payload.length, 0, 3)
  h[3] = seq & 0xff
  return Buffer.concat([h, payload])
}

/** USERNAME_CHAR_LENGTH: mysqld clips a user name to 32 characters before it is used or shown. */
export const clipUser = (latin1: string): string => {
  const chars = [...Buffer.from(latin1, "latin1").toString("utf8")]
  return chars.length <= 32 ? latin1 : Buffer.from(chars.slice(0, 32).join(""), "utf8").toString("latin1")
}
