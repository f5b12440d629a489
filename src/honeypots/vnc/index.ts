/**
 * vnc (spec/honeypots.md §9): an RFB 3.8 server offering only VNC Authentication (RFC 6143 §7.2.2), as
 * TigerVNC 1.12's Xvnc with `-SecurityTypes VncAuth` answers. The 16-byte challenge is fresh per
 * connection and logged with the client's DES response, so the pair can be cracked offline; the answer
 * is always "Authentication failure", and TigerVNC's per-address blacklist turns repeat callers away.
 */
import { randomBytes } from "node:crypto"
import { Clock, Duration, Effect, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  serveTcp
} from "../runtime/index.js"
import { type VncEvent, vncEvents } from "./Events.js"

export const VncConfig = Schema.Struct({
  /** TigerVNC's BlacklistThreshold: connections from one address before it is turned away. */
  blacklist_threshold: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1_000_000)), {
    default: () => 5
  }),
  /** TigerVNC's BlacklistTimeout (seconds): the first block; each later block doubles it. */
  blacklist_timeout: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 86_400)), { default: () => 10 })
})
export type VncConfig = typeof VncConfig.Type

// RFC 6143 §7.1.1 ProtocolVersion and §7.2 security types.
const SERVER_VERSION = "RFB 003.008\n"
/** TigerVNC reads the 12 bytes with sscanf("RFB %03d.%03d\n"): up to three digits each, nothing more checked. */
const VERSION_RE = /^RFB\s*(\d{1,3})\.\s*(\d{1,3})/
const SECURITY_VNC_AUTH = 2
/** TigerVNC's SConnection: AuthFailureException("Authentication failure"). */
const REASON = "Authentication failure"
/** VNCSConnectionST::authFailure holds the failure back 100 ms (authFailureTimer) against brute force. */
const AUTH_FAILURE_DELAY = Duration.millis(100)
const BLACKLISTED = "Too many security failures"
/** Addresses remembered by the blacklist; past this the oldest entry is forgotten. */
const MAX_BLACKLIST_ENTRIES = 65_536

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const rfbString = (s: string): Buffer => Buffer.concat([u32(s.length), Buffer.from(s, "latin1")])

/** SecurityResult failed (§7.1.3); 3.8 adds a reason string, older versions just close. */
const securityFailed = (minor: number): Buffer =>
  minor >= 8 ? Buffer.concat([u32(1), rfbString(REASON)]) : u32(1)

/**
 * SConnection::throwConnFailedException for a foreign major version: a zero count of security types
 * (one byte, the 3.7+ form: the session is still at the server's 3.8 then) and the reason string.
 */
export const versionRefused = (major: number, minor: number): Buffer =>
  Buffer.concat([
    Buffer.from([0]),
    rfbString(`Client needs protocol version ${major}.${minor}, server has 3.8`)
  ])

/** VNCServerST::addSocket's "shortest possible way to tell a client it is not welcome". */
export const blacklistedGreeting = (): Buffer =>
  Buffer.concat([Buffer.from("RFB 003.003\n"), u32(0), rfbString(BLACKLISTED)])

interface BlacklistEntry {
  marks: number
  /** Whole seconds (time(0)). */
  blockUntil: number
  /** Seconds. */
  blockTimeout: number
}

/**
 * TigerVNC's rfb::Blacklist::isBlackmarked, called for every new connection: each connection from an
 * address adds a mark (only a successful login clears them, and here none succeeds); at the threshold
 * the address is blocked, except for one try each time the block runs out, which doubles the next.
 */
export const makeBlacklist = (threshold: number, initialTimeout: number) => {
  const entries = new Map<string, BlacklistEntry>()
  return (address: string, now: number): boolean => {
    let e = entries.get(address)
    if (e === undefined) {
      if (entries.size >= MAX_BLACKLIST_ENTRIES) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      e = { marks: 1, blockUntil: 0, blockTimeout: initialTimeout }
      entries.set(address, e)
    }
    if (e.marks >= threshold) {
      // TigerVNC keeps time(0): whole seconds.
      if (Math.floor(now / 1000) >= e.blockUntil) {
        e.blockUntil = Math.floor(now / 1000) + e.blockTimeout
        e.blockTimeout *= 2
        return false
      }
      return true
    }
    e.marks++
    return false
  }
}

/** VNC Authentication never succeeds, so no connection is ever logged in (the pre-login grace caps it). */
const session =
  (isBlackmarked: (address: string, now: number) => boolean) =>
  (conn: Connection, events: Emitter<VncEvent>): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      const emit = events.emit
      yield* emit({ _tag: "connect" })
      if (isBlackmarked(conn.remoteAddress, yield* Clock.currentTimeMillis)) {
        yield* emit({ _tag: "error" }, { msg: "blacklisted: too many connections", severity: 4 })
        return yield* conn.end(blacklistedGreeting())
      }
      yield* conn.write(SERVER_VERSION)
      const line = (yield* conn.readBytes(12)).toString("latin1")
      const m = VERSION_RE.exec(line)
      yield* emit({ _tag: "version", client_version: line.replace(/\n$/, "") })
      // Not an RFB client: TigerVNC drops the connection without a word.
      if (m === null) return yield* emit({ _tag: "error" }, { msg: "bad ProtocolVersion", severity: 4 })
      const major = Number(m[1])
      const clientMinor = Number(m[2])
      if (major !== 3) return yield* conn.end(versionRefused(major, clientMinor))
      // Unofficial minors: 8 and above are taken as 3.8, 7 as 3.7, the rest as 3.3 (SConnection).
      const minor = clientMinor >= 8 ? 8 : clientMinor === 7 ? 7 : 3
      if (minor >= 7) {
        yield* conn.write(Buffer.from([1, SECURITY_VNC_AUTH]))
        const type = (yield* conn.readBytes(1))[0]!
        yield* emit({ _tag: "security_choice", type })
        // "Requested security type not available": an exception, the socket just closes.
        if (type !== SECURITY_VNC_AUTH) return
      } else yield* conn.write(u32(SECURITY_VNC_AUTH))
      const challenge = randomBytes(16)
      yield* conn.write(challenge)
      // SSecurityVncAuth::processMsg returns after sending the challenge, and Xvnc only reads on again when
      // the socket next turns readable: a response that came with the version and type sits unread until
      // the client sends something more.
      const early = conn.buffered()
      const response =
        early >= 16
          ? Buffer.concat([yield* conn.readBytes(early), yield* conn.readChunk()]).subarray(0, 16)
          : yield* conn.readBytes(16)
      yield* emit({
        _tag: "auth_response",
        response: response.toString("hex"),
        ...credentialFields(null, response.toString("hex"), "vnc_des_response"),
        secret_kind: "vnc_des_response",
        secret_b64: response.toString("base64"),
        challenge: challenge.toString("hex")
      })
      yield* Effect.sleep(AUTH_FAILURE_DELAY)
      yield* conn.end(securityFailed(minor))
    }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const vncHoneypot = defineHoneypot({
  slug: "vnc",
  description: "VNC server (RFB 3.8, VNC Authentication): DES challenge/response capture",
  ports: { tcp: [5900], udp: [] },
  config: VncConfig,
  events: vncEvents,
  run: (options) =>
    Effect.map(
      serveTcp({
        ...options.address(),
        events: vncEvents,
        handler: session(makeBlacklist(options.config.blacklist_threshold, options.config.blacklist_timeout))
      }),
      (listener) => [listener]
    )
})

export { verifyVncResponse, vncResponse } from "./Des.js"
