/**
 * smb (spec/honeypots.md §7): NetBIOS session service + SMB2 NEGOTIATE and SESSION_SETUP far enough to
 * capture an NTLMSSP AUTHENTICATE (crackable NTLMv2/v1), then STATUS_LOGON_FAILURE. Listens on 445
 * (direct TCP) and 139 (NBSS, which starts with a session request).
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect, Either, Schema } from "effect"
import {
  buildChallenge,
  fileTime,
  findNtlmssp,
  messageType,
  NegState,
  negTokenInitHint,
  negTokenResp,
  ntlmAuthFields,
  parseAuthenticate,
  type ServerIdentity
} from "../ntlm/index.js"
import {
  type Connection,
  type ConnectionError,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  type HoneypotContextService,
  serveTcp
} from "../runtime/index.js"
import { type SmbEvent, smbEvents } from "./Events.js"

export const SmbConfig = Schema.Struct({
  /** NetBIOS domain / workgroup announced in the NTLM CHALLENGE (TargetName, AV pair 2). */
  domain: Schema.optionalWith(Schema.String, { default: () => "WORKGROUP" }),
  /** DNS domain (AV pairs 4/5); empty = the lower-cased NetBIOS domain. */
  dns_domain: Schema.optionalWith(Schema.String, { default: () => "" })
})
export type SmbConfig = typeof SmbConfig.Type

// NBSS packet types (RFC 1002 §4.3.1).
const NBSS_SESSION_MESSAGE = 0x00
const NBSS_SESSION_REQUEST = 0x81
const NBSS_POSITIVE_RESPONSE = 0x82
const NBSS_KEEPALIVE = 0x85
const NBSS_MIN = 64
const NBSS_MAX = 1024 * 1024
/** Messages handled per connection before we hang up (a login needs four). */
const MAX_MESSAGES = 16

// MS-SMB2 §2.2.1 header and commands.
const SMB2_MAGIC = Buffer.from([0xfe, 0x53, 0x4d, 0x42])
const SMB1_MAGIC = Buffer.from([0xff, 0x53, 0x4d, 0x42])
const SMB2_NEGOTIATE = 0x0000
const SMB2_SESSION_SETUP = 0x0001
const SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001
const STATUS_SUCCESS = 0x00000000
const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016
const STATUS_LOGON_FAILURE = 0xc000006d
const STATUS_NOT_SUPPORTED = 0xc00000bb
/** The first SessionId an instance hands out (MS-SMB2 §3.3.5.5.1: server-chosen, unique per session). */
const FIRST_SESSION_ID = 0x1000000000000001n
/** Dialects we answer, best first (MS-SMB2 §2.2.3). */
const DIALECTS = [0x0311, 0x0302, 0x0300, 0x0210, 0x0202] as const
const DIALECT_WILDCARD = 0x02ff

export const dialectName = (d: number): string =>
  `${(d >> 8).toString(16)}.${(d & 0xff).toString(16).padStart(2, "0")}`

const header = (
  command: number,
  status: number,
  messageId: bigint,
  sessionId: bigint,
  credits: number
): Buffer => {
  const h = Buffer.alloc(64)
  SMB2_MAGIC.copy(h, 0)
  h.writeUInt16LE(64, 4)
  h.writeUInt32LE(status, 8)
  h.writeUInt16LE(command, 12)
  h.writeUInt16LE(credits, 14)
  h.writeUInt32LE(SMB2_FLAGS_SERVER_TO_REDIR, 16)
  h.writeBigUInt64LE(messageId, 24)
  h.writeBigUInt64LE(sessionId, 40)
  return h
}

/** MS-SMB2 §2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES (SHA-512, 32-byte salt). */
const preauthContext = (): Buffer => {
  const data = Buffer.alloc(38)
  data.writeUInt16LE(1, 0)
  data.writeUInt16LE(32, 2)
  data.writeUInt16LE(0x0001, 4)
  randomBytes(32).copy(data, 6)
  const ctx = Buffer.alloc(8)
  ctx.writeUInt16LE(0x0001, 0)
  ctx.writeUInt16LE(data.length, 2)
  return Buffer.concat([ctx, data])
}

/** MS-SMB2 §2.2.4 NEGOTIATE response body (+ security buffer, + 3.1.1 negotiate contexts). */
export const negotiateResponse = (
  dialect: number,
  serverGuid: Buffer,
  messageId: bigint,
  nowMs: number
): Buffer => {
  const blob = negTokenInitHint()
  const body = Buffer.alloc(64)
  body.writeUInt16LE(65, 0)
  body.writeUInt16LE(0x0001, 2) // SMB2_NEGOTIATE_SIGNING_ENABLED, as every Windows server
  body.writeUInt16LE(dialect, 4)
  serverGuid.copy(body, 8)
  body.writeUInt32LE(0, 24)
  body.writeUInt32LE(0x00010000, 28)
  body.writeUInt32LE(0x00010000, 32)
  body.writeUInt32LE(0x00010000, 36)
  fileTime(nowMs).copy(body, 40)
  body.writeUInt16LE(128, 56)
  body.writeUInt16LE(blob.length, 58)
  let tail: Buffer = blob
  if (dialect === 0x0311) {
    const pad = (8 - ((128 + blob.length) % 8)) % 8
    body.writeUInt16LE(1, 6)
    body.writeUInt32LE(128 + blob.length + pad, 60)
    tail = Buffer.concat([blob, Buffer.alloc(pad), preauthContext()])
  }
  return Buffer.concat([header(SMB2_NEGOTIATE, STATUS_SUCCESS, messageId, 0n, 1), body, tail])
}

const sessionSetupResponse = (status: number, messageId: bigint, sessionId: bigint, blob: Buffer): Buffer => {
  const body = Buffer.alloc(8)
  body.writeUInt16LE(9, 0)
  body.writeUInt16LE(blob.length === 0 ? 0 : 72, 4)
  body.writeUInt16LE(blob.length, 6)
  return Buffer.concat([header(SMB2_SESSION_SETUP, status, messageId, sessionId, 1), body, blob])
}

const nbss = (payload: Buffer): Buffer => {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(payload.length & 0xffffff, 0)
  return Buffer.concat([h, payload])
}

/** Dialect strings of an SMB1 NEGOTIATE (MS-CIFS §2.2.4.52.1): 0x02 + NUL-terminated ASCII each. */
export const smb1Dialects = (msg: Buffer): ReadonlyArray<string> => {
  if (msg.length < 35 || msg[4] !== 0x72) return []
  const byteCount = msg.readUInt16LE(33)
  const data = msg.subarray(35, Math.min(msg.length, 35 + byteCount))
  const out: Array<string> = []
  let i = 0
  while (i < data.length && out.length < 64) {
    if (data[i] !== 0x02) break
    const end = data.indexOf(0, i + 1)
    if (end < 0) break
    out.push(data.toString("latin1", i + 1, end))
    i = end + 1
  }
  return out
}

/** The dialects listed in an SMB2 NEGOTIATE request (MS-SMB2 §2.2.3). */
export const smb2Dialects = (msg: Buffer): ReadonlyArray<number> => {
  if (msg.length < 64 + 36) return []
  const count = Math.min(msg.readUInt16LE(64 + 2), 64)
  const out: Array<number> = []
  for (let i = 0; i < count && 64 + 36 + i * 2 + 2 <= msg.length; i++)
    out.push(msg.readUInt16LE(64 + 36 + i * 2))
  return out
}

const chooseDialect = (offered: ReadonlyArray<number>): number | undefined =>
  DIALECTS.find((d) => offered.includes(d))

const identityFor = (ctx: HoneypotContextService, config: SmbConfig): ServerIdentity => {
  const host = ctx.hostname.split(".")[0] ?? ctx.hostname
  const netbiosComputer = host.toUpperCase().slice(0, 15)
  const netbiosDomain = config.domain.toUpperCase().slice(0, 15)
  const dnsDomain = config.dns_domain !== "" ? config.dns_domain : config.domain.toLowerCase()
  return {
    netbiosDomain,
    netbiosComputer,
    dnsDomain,
    dnsComputer: ctx.hostname.includes(".") ? ctx.hostname : `${host.toLowerCase()}.${dnsDomain}`
  }
}

type State =
  | { readonly _tag: "AwaitNegotiate" }
  | { readonly _tag: "AwaitSessionSetup"; readonly dialect: number }

/** What one running smb instance shares between its connections (and nothing else does). */
interface Instance {
  readonly identity: ServerIdentity
  readonly serverGuid: Buffer
  /** SessionIds handed out so far: every session gets its own, as on a real server. */
  sessions: bigint
}

const session =
  (instance: Instance, netbios: boolean) =>
  (conn: Connection, events: Emitter<SmbEvent>): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      const { identity, serverGuid } = instance
      yield* events.emit({ _tag: "connection" })
      let state: State = { _tag: "AwaitNegotiate" }
      let challenge: Buffer | undefined
      let sessionId: bigint | undefined
      const error = (msg: string) => events.emit({ _tag: "error" }, { msg, severity: 4 })

      for (let n = 0; n < MAX_MESSAGES; n++) {
        const head = yield* conn.readBytes(4)
        const type = head[0]!
        const length = head.readUInt32BE(0) & 0xffffff
        if (netbios && type === NBSS_SESSION_REQUEST) {
          // RFC 1002 §4.3.2: called/calling names; any name is accepted, as Windows does for *SMBSERVER.
          if (length > 256) return yield* error("NBSS session request too long")
          yield* conn.readBytes(length)
          yield* conn.write(Buffer.from([NBSS_POSITIVE_RESPONSE, 0, 0, 0]))
          continue
        }
        if (type === NBSS_KEEPALIVE && length === 0) continue
        if (type !== NBSS_SESSION_MESSAGE || length < NBSS_MIN || length > NBSS_MAX)
          return yield* error(`bad NBSS frame type=0x${type.toString(16)} length=${length}`)
        const msg = yield* conn.readBytes(length)
        const magic = msg.subarray(0, 4)

        if (magic.equals(SMB1_MAGIC)) {
          // MS-SMB2 §3.3.5.3.1: an SMB1 NEGOTIATE offering SMB2 is answered in SMB2.
          if (state._tag !== "AwaitNegotiate") return
          const names = smb1Dialects(msg)
          const dialect = names.includes("SMB 2.???")
            ? DIALECT_WILDCARD
            : names.includes("SMB 2.002")
              ? 0x0202
              : undefined
          if (dialect === undefined) return yield* error("SMB1-only NEGOTIATE refused")
          const now = yield* Clock.currentTimeMillis
          yield* conn.write(nbss(negotiateResponse(dialect, serverGuid, 0n, now)))
          continue
        }
        if (!magic.equals(SMB2_MAGIC) || msg.length < 64) return yield* error("not an SMB2 message")
        const command = msg.readUInt16LE(12)
        const messageId = msg.readBigUInt64LE(24)

        if (command === SMB2_NEGOTIATE) {
          const dialect = chooseDialect(smb2Dialects(msg))
          if (dialect === undefined) {
            yield* conn.write(
              nbss(Buffer.concat([header(0, STATUS_NOT_SUPPORTED, messageId, 0n, 1), errorBody()]))
            )
            return yield* error("no common SMB2 dialect")
          }
          state = { _tag: "AwaitSessionSetup", dialect }
          const now = yield* Clock.currentTimeMillis
          yield* conn.write(nbss(negotiateResponse(dialect, serverGuid, messageId, now)))
          continue
        }
        if (command !== SMB2_SESSION_SETUP || state._tag !== "AwaitSessionSetup") return
        const dialect = state.dialect
        if (sessionId === undefined) {
          sessionId = FIRST_SESSION_ID + instance.sessions
          instance.sessions++
        }

        // MS-SMB2 §2.2.5: security buffer offset/length are relative to the header start.
        if (msg.length < 64 + 24) return yield* error("short SESSION_SETUP")
        const off = msg.readUInt16LE(64 + 12)
        const len = msg.readUInt16LE(64 + 14)
        const blob = off + len <= msg.length ? msg.subarray(off, off + len) : Buffer.alloc(0)
        const at = findNtlmssp(blob)
        const ntlm = at < 0 ? Buffer.alloc(0) : blob.subarray(at)
        const kind = messageType(ntlm)
        if (kind === 1) {
          const built = buildChallenge(identity, yield* Clock.currentTimeMillis)
          challenge = built.serverChallenge
          yield* conn.write(
            nbss(
              sessionSetupResponse(
                STATUS_MORE_PROCESSING_REQUIRED,
                messageId,
                sessionId,
                negTokenResp(NegState.acceptIncomplete, built.message)
              )
            )
          )
          continue
        }
        // Every AUTHENTICATE is refused: this honeypot never accepts a login (so no `conn.loggedIn()`).
        if (kind === 3 && challenge !== undefined) {
          const parsed = parseAuthenticate(ntlm)
          if (Either.isRight(parsed)) {
            const auth = parsed.right
            const capture = ntlmAuthFields(auth, challenge)
            if (capture !== undefined)
              yield* events.emit({ _tag: "auth_attempt", ...capture, dialect: dialectName(dialect) })
            else yield* error(`anonymous or malformed NTLM AUTHENTICATE from ${auth.username || "<null>"}`)
          } else yield* error(parsed.left.reason)
        } else yield* error("SESSION_SETUP without a usable NTLMSSP token")
        yield* conn.write(
          nbss(sessionSetupResponse(STATUS_LOGON_FAILURE, messageId, sessionId, Buffer.alloc(0)))
        )
        return
      }
    }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

/** MS-SMB2 §2.2.2 ERROR response body. */
const errorBody = (): Buffer => {
  const b = Buffer.alloc(9)
  b.writeUInt16LE(9, 0)
  return b
}

export const smbHoneypot = defineHoneypot({
  slug: "smb",
  description: "SMB2 file server: NTLMSSP capture (NTLMv2/v1, hashcat-ready), then logon failure",
  ports: { tcp: [445, 139], udp: [] },
  config: SmbConfig,
  events: smbEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const instance: Instance = {
        identity: identityFor(ctx, options.config),
        serverGuid: ctx.seed.bytes(16, "smb_server_guid"),
        sessions: 0n
      }
      return yield* Effect.all([
        serveTcp({ ...options.address(445), events: smbEvents, handler: session(instance, false) }),
        serveTcp({ ...options.address(139), events: smbEvents, handler: session(instance, true) })
      ])
    })
})
