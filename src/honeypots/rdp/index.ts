/**
 * rdp (spec/honeypots.md §8): the first RDP exchange. The X.224 Connection Request's `mstshash`
 * cookie (the username mstsc and most brute-forcers send) is logged, and the Connection Confirm
 * negotiates as Windows does: CredSSP over TLS (MS-CSSP) whenever the client offers it, played far
 * enough to capture the NTLMSSP AUTHENTICATE as a crackable NTLMv2 hash; TLS or standard RDP security
 * otherwise, or with `nla` on (NLA required), RDP_NEG_FAILURE.
 */
import type * as tls from "node:tls"
import { Clock, Duration, Effect, Either, Option, Schema } from "effect"
import { berElementLength, children, derInteger, derOctets, derSequence, readTlv, tlv } from "../ntlm/Der.js"
import {
  buildChallenge,
  findNtlmssp,
  messageType,
  ntlmAuthFields,
  parseAuthenticate,
  type ServerIdentity
} from "../ntlm/index.js"
import {
  type Connection,
  type ConnectionError,
  ConnectionClosed,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  type HoneypotContextService,
  serveTcp,
  serviceTls,
  TlsProfiles,
  TlsConfigFields
} from "../runtime/index.js"
import { type RdpEvent, rdpEvents } from "./Events.js"

export const RdpConfig = Schema.Struct({
  /**
   * Require NLA (env RDP_ENABLE_NLA), as Windows 10 / Server 2016 and later do by default: a client
   * that does not offer CredSSP gets RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER. Off, such a client
   * gets TLS or standard RDP security. A client offering CredSSP gets it (and its NTLM captured) either way.
   */
  nla: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** NetBIOS domain announced in the NLA CHALLENGE. */
  domain: Schema.optionalWith(Schema.String, { default: () => "WORKGROUP" }),
  /** The certificate of the TLS and CredSSP paths. */
  ...TlsConfigFields
})
export type RdpConfig = typeof RdpConfig.Type

// MS-RDPBCGR §2.2.1.1 / §2.2.1.2.
const TPKT_MIN = 7
const TPKT_MAX = 8192
const X224_CR = 0xe0
const PROTOCOL_RDP = 0
const PROTOCOL_SSL = 1
const PROTOCOL_HYBRID = 2
const PROTOCOL_HYBRID_EX = 8
/**
 * RDP_NEG_RSP flags as Windows 10 / Server 2016+ set them (nmap's "Windows 10" signature):
 * EXTENDED_CLIENT_DATA_SUPPORTED | DYNVC_GFX_PROTOCOL_SUPPORTED | NEGRSP_FLAG_RESERVED |
 * RESTRICTED_ADMIN_MODE_SUPPORTED | REDIRECTED_AUTHENTICATION_MODE_SUPPORTED.
 */
const NEG_RSP_FLAGS = 0x1f
/** RDP_NEG_FAILURE failureCode (MS-RDPBCGR §2.2.1.2.2). */
const HYBRID_REQUIRED_BY_SERVER = 5
const FIRST_PDU_TIMEOUT = Duration.seconds(5)
const TSREQUEST_TIMEOUT = Duration.seconds(10)
const TSREQUEST_MAX = 32 * 1024
const MAX_TSREQUESTS = 3
const STATUS_LOGON_FAILURE = 0xc000006d

export interface ConnectionRequest {
  readonly cookie: string | undefined
  readonly routingToken: string | undefined
  readonly requestedProtocols: number | undefined
}

/** X.224 CR TPDU (X.224 §13.3) + RDP routing token/cookie + RDP_NEG_REQ (MS-RDPBCGR §2.2.1.1). */
export const parseConnectionRequest = (x224: Buffer): ConnectionRequest | undefined => {
  if (x224.length < 7 || (x224[1]! & 0xf0) !== X224_CR) return undefined
  const variable = x224.subarray(7)
  const text = variable.toString("latin1")
  const cookie = /^Cookie: mstshash=([^\r\n]{1,256})\r\n/i.exec(text)
  const token = cookie === null ? /^Cookie: msts=([^\r\n]{1,256})\r\n/i.exec(text) : null
  const consumed = cookie?.[0].length ?? token?.[0].length ?? 0
  const neg = variable.subarray(consumed)
  const requestedProtocols = neg.length >= 8 && neg[0] === 0x01 ? neg.readUInt32LE(4) : undefined
  return { cookie: cookie?.[1], routingToken: token?.[1], requestedProtocols }
}

/** X.224 Connection Confirm TPDU (X.224 §13.4): DST-REF 0, SRC-REF 0x1234 (Windows' own), class 0. */
const confirm = (negotiation: Buffer): Buffer => {
  const b = Buffer.from("0300000006d00000123400", "hex")
  b.writeUInt16BE(11 + negotiation.length, 2)
  b[4] = 6 + negotiation.length
  return Buffer.concat([b, negotiation])
}

/** RDP_NEG_RSP (MS-RDPBCGR §2.2.1.2.1) or RDP_NEG_FAILURE (§2.2.1.2.2): type, flags, length 8, a u32. */
const negotiation = (type: number, flags: number, value: number): Buffer => {
  const b = Buffer.from([type, flags, 0x08, 0x00, 0, 0, 0, 0])
  b.writeUInt32LE(value, 4)
  return b
}

/** X.224 Connection Confirm with RDP_NEG_RSP selecting `selected` (MS-RDPBCGR §2.2.1.2). */
export const connectionConfirm = (selected: number): Buffer =>
  confirm(negotiation(0x02, NEG_RSP_FLAGS, selected))

/** X.224 Connection Confirm with RDP_NEG_FAILURE (MS-RDPBCGR §2.2.1.2.2). */
export const negotiationFailure = (code: number): Buffer => confirm(negotiation(0x03, 0x00, code))

export type Negotiated =
  | { readonly _tag: "selected"; readonly protocol: number }
  | { readonly _tag: "failure"; readonly code: number }
  | { readonly _tag: "legacy" }

/**
 * What Windows answers a Connection Request (MS-RDPBCGR §3.3.5.3.1): CredSSP whenever the client offers
 * it (HYBRID_EX when offered with it), else TLS when offered, else standard RDP security; with NLA
 * required, a client offering no CredSSP gets HYBRID_REQUIRED_BY_SERVER. A request without RDP_NEG_REQ
 * (a pre-Vista client) gets a bare Connection Confirm, or the same failure under NLA.
 */
export const negotiate = (requested: number | undefined, nlaRequired: boolean): Negotiated => {
  if ((requested ?? 0) & PROTOCOL_HYBRID)
    return {
      _tag: "selected",
      protocol: (requested ?? 0) & PROTOCOL_HYBRID_EX ? PROTOCOL_HYBRID_EX : PROTOCOL_HYBRID
    }
  if (nlaRequired) return { _tag: "failure", code: HYBRID_REQUIRED_BY_SERVER }
  if (requested === undefined) return { _tag: "legacy" }
  return { _tag: "selected", protocol: requested & PROTOCOL_SSL ? PROTOCOL_SSL : PROTOCOL_RDP }
}

const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** TSRequest (MS-CSSP §2.2.1) with negoTokens and/or errorCode. */
const tsRequest = (token: Buffer | undefined, errorCode?: number): Buffer =>
  derSequence(
    tlv(0xa0, derInteger(6)),
    ...(token === undefined ? [] : [tlv(0xa1, derSequence(derSequence(tlv(0xa0, derOctets(token)))))]),
    // NTSTATUS goes on the wire as a signed 32-bit INTEGER (0xC000006D = -1073741715), as Windows sends it.
    ...(errorCode === undefined ? [] : [tlv(0xa4, tlv(0x02, u32be(errorCode)))])
  )

/** The negoToken of a client TSRequest, if any. */
export const negoToken = (frame: Buffer): Buffer | undefined => {
  const outer = readTlv(frame)
  if (outer === undefined || outer.tag !== 0x30) return undefined
  const fields = children(outer.value, 8)
  const tokens = fields?.find((f) => f.tag === 0xa1)
  if (tokens === undefined) return undefined
  const seq = readTlv(tokens.value)
  const first = seq && readTlv(seq.value)
  const inner = first && children(first.value, 2)
  const octets = inner?.[0]?.tag === 0xa0 ? readTlv(inner[0].value) : undefined
  return octets?.value
}

const readTsRequest = (conn: Connection): Effect.Effect<Buffer | undefined, ConnectionError> =>
  Effect.gen(function* () {
    const head = yield* conn.readBytes(2)
    if (head[0] !== 0x30) return undefined
    const lenBytes = head[1]! >= 0x80 ? head[1]! & 0x7f : 0
    if (lenBytes > 4) return undefined
    const more = lenBytes > 0 ? yield* conn.readBytes(lenBytes) : Buffer.alloc(0)
    const total = berElementLength(Buffer.concat([head, more]))
    if (typeof total !== "number" || total > TSREQUEST_MAX) return undefined
    return Buffer.concat([head, more, yield* conn.readBytes(total - 2 - lenBytes)])
  }).pipe(
    Effect.timeoutFail({
      duration: TSREQUEST_TIMEOUT,
      onTimeout: () => new ConnectionClosed({ reason: "TSRequest timeout" })
    })
  )

const identityFor = (ctx: HoneypotContextService, domain: string): ServerIdentity => {
  const host = ctx.hostname.split(".")[0] ?? ctx.hostname
  const dnsDomain = ctx.hostname.includes(".")
    ? ctx.hostname.split(".").slice(1).join(".")
    : domain.toLowerCase()
  return {
    netbiosDomain: domain.toUpperCase().slice(0, 15),
    netbiosComputer: host.toUpperCase().slice(0, 15),
    dnsDomain,
    dnsComputer: `${host.toLowerCase()}.${dnsDomain}`
  }
}

/** What one running rdp instance shares between its connections. */
interface Instance {
  /** The names the NLA CHALLENGE announces. */
  readonly identity: ServerIdentity
  /** The TLS of the SSL and CredSSP paths. */
  readonly tls: tls.SecureContext
  readonly nlaRequired: boolean
}

const session =
  (instance: Instance) =>
  (conn: Connection, events: Emitter<RdpEvent>): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      yield* events.emit({ _tag: "connection" })
      const first = yield* Effect.gen(function* () {
        const tpkt = yield* conn.readBytes(4)
        const length = tpkt.readUInt16BE(2)
        if (tpkt[0] !== 3 || length < TPKT_MIN || length > TPKT_MAX) return undefined
        return yield* conn.readBytes(length - 4)
      }).pipe(
        Effect.timeout(FIRST_PDU_TIMEOUT),
        Effect.option,
        Effect.map(Option.flatMap(Option.fromNullable))
      )
      if (Option.isNone(first)) return
      const cr = parseConnectionRequest(first.value)
      if (cr === undefined)
        return yield* events.emit({ _tag: "error" }, { msg: "not an X.224 Connection Request", severity: 4 })
      const requested = cr.requestedProtocols ?? 0
      if (cr.cookie !== undefined)
        yield* events.emit({
          _tag: "rdp_cookie",
          requested_protocols: requested,
          username: cr.cookie,
          principal: cr.cookie
        })
      else
        yield* events.emit({
          _tag: "connection_request",
          requested_protocols: requested,
          ...(cr.routingToken === undefined ? {} : { routing_token: cr.routingToken })
        })

      const outcome = negotiate(cr.requestedProtocols, instance.nlaRequired)
      if (outcome._tag === "failure") return yield* conn.end(negotiationFailure(outcome.code))
      if (outcome._tag === "legacy") {
        // Standard RDP security: the client's MCS Connect Initial comes next; it is not played.
        yield* conn.write(confirm(Buffer.alloc(0)))
        return yield* Effect.asVoid(conn.readChunk())
      }
      yield* conn.write(connectionConfirm(outcome.protocol))
      if (outcome.protocol === PROTOCOL_RDP) return yield* Effect.asVoid(conn.readChunk())
      if (outcome.protocol === PROTOCOL_SSL) {
        // TLS, then the client's MCS Connect Initial (not played).
        yield* conn.startTls(instance.tls)
        return yield* Effect.asVoid(conn.readChunk())
      }

      // CredSSP (MS-CSSP §3.1.5): TLS, then SPNEGO-less NTLM tokens inside TSRequests.
      yield* conn.startTls(instance.tls)
      let challenge: Buffer | undefined
      for (let i = 0; i < MAX_TSREQUESTS; i++) {
        const frame = yield* readTsRequest(conn).pipe(
          Effect.catchTag("ConnectionClosed", (e) =>
            i === 0 && e.reason.startsWith("socket error")
              ? Effect.as(
                  events.emit({ _tag: "tls_handshake_failed", error: e.reason }, { severity: 4 }),
                  undefined
                )
              : Effect.fail(e)
          )
        )
        if (frame === undefined) return
        const token = negoToken(frame)
        const at = token === undefined ? -1 : findNtlmssp(token)
        if (token === undefined || at < 0) return
        const ntlm = token.subarray(at)
        const kind = messageType(ntlm)
        if (kind === 1) {
          const built = buildChallenge(instance.identity, yield* Clock.currentTimeMillis)
          challenge = built.serverChallenge
          yield* conn.write(tsRequest(built.message))
          continue
        }
        if (kind !== 3 || challenge === undefined) return
        const parsed = parseAuthenticate(ntlm)
        if (Either.isLeft(parsed))
          return yield* events.emit({ _tag: "error" }, { msg: parsed.left.reason, severity: 4 })
        const capture = ntlmAuthFields(parsed.right, challenge)
        if (capture !== undefined) yield* events.emit({ _tag: "auth_attempt", ...capture, auth_path: "nla" })
        // Every AUTHENTICATE is refused: this honeypot never accepts a login (so no `conn.loggedIn()`).
        return yield* conn.end(tsRequest(undefined, STATUS_LOGON_FAILURE))
      }
    }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const rdpHoneypot = defineHoneypot({
  slug: "rdp",
  description: "RDP: X.224 mstshash cookie capture; optional CredSSP/NLA NTLMv2 capture",
  ports: { tcp: [3389], udp: [] },
  config: RdpConfig,
  events: rdpEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const config = options.config
      const address = options.address()
      // Windows always holds a certificate (self-signed by default); a bad supplied pair fails the start.
      const tlsContext = (yield* serviceTls({
        service: "rdp",
        host: address.host,
        port: address.port,
        config,
        profile: TlsProfiles.schannel
      })).context
      const instance: Instance = {
        identity: identityFor(ctx, config.domain),
        tls: tlsContext,
        nlaRequired: config.nla
      }
      const listener = yield* serveTcp({ ...address, events: rdpEvents, handler: session(instance) })
      return [listener]
    })
})
