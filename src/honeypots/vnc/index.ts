/**
 * vnc (spec/honeypots.md §9): an RFB 3.8 server offering only VNC Authentication (RFC 6143 §7.2.2).
 * The 16-byte challenge is fresh per connection and logged with the client's DES response, so the
 * pair can be cracked offline; the answer is always "Authentication failed".
 */
import { randomBytes } from "node:crypto"
import { Effect, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  HoneypotContext,
  type HoneypotContextService,
  serveTcp
} from "../runtime/index.js"

const SLUG = "vnc"

export const VncConfig = Schema.Struct({})

// RFC 6143 §7.1.1 ProtocolVersion and §7.2 security types.
const SERVER_VERSION = "RFB 003.008\n"
const VERSION_RE = /^RFB (\d{3})\.(\d{3})\n$/
const SECURITY_VNC_AUTH = 2
const REASON = "Authentication failed"

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** SecurityResult failed (§7.1.3); 3.8 adds a reason string, older versions just close. */
const securityFailed = (minor: number): Buffer =>
  minor >= 8 ? Buffer.concat([u32(1), u32(REASON.length), Buffer.from(REASON)]) : u32(1)

const session =
  (ctx: HoneypotContextService) =>
  (conn: Connection): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      const src = conn.remoteAddress
      const peer = { src_ip: src, src }
      yield* ctx.emit(SLUG, "connect", { ...peer, src_port: conn.remotePort })
      yield* conn.write(SERVER_VERSION)
      const line = (yield* conn.readBytes(12)).toString("latin1")
      const m = VERSION_RE.exec(line)
      yield* ctx.emit(SLUG, "version", { ...peer, client_version: line.replace(/\n$/, "") })
      if (m === null) return yield* ctx.emit(SLUG, "error", peer, { msg: "bad ProtocolVersion", severity: 4 })
      // Clients announcing anything but 3.7/3.8 must be treated as 3.3 (§7.1.1).
      const minor = m[1] === "003" && (m[2] === "007" || m[2] === "008") ? Number(m[2]) : 3
      if (minor >= 7) {
        yield* conn.write(Buffer.from([1, SECURITY_VNC_AUTH]))
        const type = (yield* conn.readBytes(1))[0]!
        yield* ctx.emit(SLUG, "security_choice", { ...peer, type })
        if (type !== SECURITY_VNC_AUTH) return yield* conn.end(securityFailed(minor))
      } else yield* conn.write(u32(SECURITY_VNC_AUTH))
      const challenge = randomBytes(16)
      yield* conn.write(challenge)
      const response = yield* conn.readBytes(16)
      yield* ctx.emit(SLUG, "auth_response", {
        ...peer,
        response: response.toString("hex"),
        ...credentialFields(null, response.toString("hex"), "vnc_des_response"),
        secret_b64: response.toString("base64"),
        challenge: challenge.toString("hex")
      })
      yield* conn.end(securityFailed(minor))
    }).pipe(
      Effect.ensuring(ctx.emit(SLUG, "disconnect", { src_ip: conn.remoteAddress, src: conn.remoteAddress }))
    )

export const vncHoneypot = defineHoneypot({
  slug: SLUG,
  description: "VNC server (RFB 3.8, VNC Authentication): DES challenge/response capture",
  ports: { tcp: [5900], udp: [] },
  config: VncConfig,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const listener = yield* serveTcp({
        service: SLUG,
        host: options.host,
        port: options.port(5900),
        defaultPort: 5900,
        handler: session(ctx)
      })
      return [listener]
    })
})

export { verifyVncResponse, vncResponse } from "./Des.js"
