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
  type Emitter,
  serveTcp
} from "../runtime/index.js"
import { type VncEvent, vncEvents } from "./Events.js"

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

/** VNC Authentication never succeeds, so no connection is ever logged in (the pre-login grace caps it). */
const session = (conn: Connection, events: Emitter<VncEvent>): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const emit = events.emit
    yield* emit({ _tag: "connect" })
    yield* conn.write(SERVER_VERSION)
    const line = (yield* conn.readBytes(12)).toString("latin1")
    const m = VERSION_RE.exec(line)
    yield* emit({ _tag: "version", client_version: line.replace(/\n$/, "") })
    if (m === null) return yield* emit({ _tag: "error" }, { msg: "bad ProtocolVersion", severity: 4 })
    // Clients announcing anything but 3.7/3.8 must be treated as 3.3 (§7.1.1).
    const minor = m[1] === "003" && (m[2] === "007" || m[2] === "008") ? Number(m[2]) : 3
    if (minor >= 7) {
      yield* conn.write(Buffer.from([1, SECURITY_VNC_AUTH]))
      const type = (yield* conn.readBytes(1))[0]!
      yield* emit({ _tag: "security_choice", type })
      if (type !== SECURITY_VNC_AUTH) return yield* conn.end(securityFailed(minor))
    } else yield* conn.write(u32(SECURITY_VNC_AUTH))
    const challenge = randomBytes(16)
    yield* conn.write(challenge)
    const response = yield* conn.readBytes(16)
    yield* emit({
      _tag: "auth_response",
      response: response.toString("hex"),
      ...credentialFields(null, response.toString("hex"), "vnc_des_response"),
      secret_kind: "vnc_des_response",
      secret_b64: response.toString("base64"),
      challenge: challenge.toString("hex")
    })
    yield* conn.end(securityFailed(minor))
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const vncHoneypot = defineHoneypot({
  slug: "vnc",
  description: "VNC server (RFB 3.8, VNC Authentication): DES challenge/response capture",
  ports: { tcp: [5900], udp: [] },
  config: VncConfig,
  events: vncEvents,
  run: (options) =>
    Effect.map(serveTcp({ ...options.address(), events: vncEvents, handler: session }), (listener) => [
      listener
    ])
})

export { verifyVncResponse, vncResponse } from "./Des.js"
