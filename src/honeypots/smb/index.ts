/**
 * smb (spec/honeypots.md §7): NetBIOS session service + SMB2 NEGOTIATE and SESSION_SETUP far enough to
 * capture an NTLMSSP AUTHENTICATE (crackable NTLMv2/v1), then STATUS_LOGON_FAILURE. Listens on 445
 * (direct TCP) and 139 (NBSS, which starts with a session request).
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect, Either, Schema } from "effect"
import {
  buildChallenge,
  derSequence,
  fileTime,
  findNtlmssp,
  messageType,
  NegState,
  negTokenResp,
  ntlmAuthFields,
  OID_NTLMSSP,
  OID_SPNEGO,
  parseAuthenticate,
  type ServerIdentity,
  tlv
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
import {
  calledName,
  NBSS_CALLED_NAME_NOT_PRESENT,
  NBSS_KEEPALIVE,
  NBSS_SESSION_MESSAGE,
  NBSS_SESSION_REQUEST,
  NBSS_UNSPECIFIED_ERROR,
  frame as nbss,
  negativeResponse,
  positiveResponse
} from "./Nbss.js"
import * as Smb1 from "./Smb1.js"

export { smb1Dialects } from "./Smb1.js"

export const SmbConfig = Schema.Struct({
  /** NetBIOS domain / workgroup announced in the NTLM CHALLENGE (TargetName, AV pair 2). */
  domain: Schema.optionalWith(Schema.String, { default: () => "WORKGROUP" }),
  /** DNS domain (AV pairs 4/5); empty = the lower-cased NetBIOS domain. */
  dns_domain: Schema.optionalWith(Schema.String, { default: () => "" }),
  /**
   * SMB1 installed (as on Windows Server 2016, or 2019 with the FS-SMB1 feature): an "NT LM 0.12"
   * NEGOTIATE is answered in SMB1 (nmap: "Microsoft Windows Server 2008 R2 - 2012 microsoft-ds"). Off:
   * a 2019 default, which resets an SMB1-only NEGOTIATE (nmap: "microsoft-ds?").
   */
  smb1: Schema.optionalWith(Schema.Boolean, { default: () => true })
})
export type SmbConfig = typeof SmbConfig.Type

const NBSS_MIN = 35
const NBSS_MAX = 1024 * 1024
/** Messages handled per connection before we hang up (a login needs four). */
const MAX_MESSAGES = 16

// MS-SMB2 §2.2.1 header and commands.
const SMB2_MAGIC = Buffer.from([0xfe, 0x53, 0x4d, 0x42])
const SMB2_NEGOTIATE = 0x0000
const SMB2_SESSION_SETUP = 0x0001
const SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001
const STATUS_SUCCESS = 0x00000000
const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016
const STATUS_LOGON_FAILURE = 0xc000006d
const STATUS_NOT_SUPPORTED = 0xc00000bb
const STATUS_INVALID_PARAMETER = 0xc000000d
/** MS-SMB2 §2.2.3 capabilities. */
const CAP_DFS = 0x01
const CAP_LEASING = 0x02
const CAP_LARGE_MTU = 0x04
const CAP_MULTI_CHANNEL = 0x08
const CAP_DIRECTORY_LEASING = 0x20
const CAP_ENCRYPTION = 0x40
/** MaxTransactSize/MaxReadSize/MaxWriteSize of Windows Server 2016/2019 (8 MiB; 64 KiB for 2.0.2). */
const MAX_IO = 8 * 1024 * 1024
const MAX_IO_202 = 64 * 1024
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
  credits: number,
  reserved = 0
): Buffer => {
  const h = Buffer.alloc(64)
  // The sync header's Reserved (ex-ProcessId): Windows echoes the client's (0xFEFF from most clients).
  h.writeUInt32LE(reserved, 32)
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

/**
 * The security buffer of a Windows NEGOTIATE response: a GSS-API NegTokenInit2 offering NTLMSSP, with the
 * negHints every Windows since Server 2008 sends (MS-SPNG §2.2.1).
 */
export const negTokenInit2 = (): Buffer =>
  tlv(
    0x60,
    OID_SPNEGO,
    tlv(
      0xa0,
      derSequence(
        tlv(0xa0, derSequence(OID_NTLMSSP)),
        tlv(0xa3, derSequence(tlv(0xa0, tlv(0x1b, Buffer.from("not_defined_in_RFC4178@please_ignore")))))
      )
    )
  )

const negotiateContext = (type: number, data: Buffer): Buffer => {
  const head = Buffer.alloc(8)
  head.writeUInt16LE(type, 0)
  head.writeUInt16LE(data.length, 2)
  return Buffer.concat([head, data])
}

/** MS-SMB2 §2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES (SHA-512, 32-byte salt). */
const preauthContext = (): Buffer => {
  const data = Buffer.alloc(38)
  data.writeUInt16LE(1, 0)
  data.writeUInt16LE(32, 2)
  data.writeUInt16LE(0x0001, 4)
  randomBytes(32).copy(data, 6)
  return negotiateContext(0x0001, data)
}

/** MS-SMB2 §2.2.3.1.2 SMB2_ENCRYPTION_CAPABILITIES with the one cipher chosen. */
const encryptionContext = (cipher: number): Buffer => {
  const data = Buffer.alloc(4)
  data.writeUInt16LE(1, 0)
  data.writeUInt16LE(cipher, 2)
  return negotiateContext(0x0002, data)
}

/** Ciphers Windows Server 2019 supports, in its order of preference (AES-128-GCM, AES-128-CCM). */
const CIPHERS = [0x0002, 0x0001] as const

/** The negotiate contexts of a 3.1.1 NEGOTIATE request (MS-SMB2 §2.2.3.1), at most 16; [] when malformed. */
export const negotiateContexts = (
  msg: Buffer
): ReadonlyArray<{ readonly type: number; readonly data: Buffer }> => {
  if (msg.length < 64 + 36) return []
  let offset = msg.readUInt32LE(64 + 28)
  const count = Math.min(msg.readUInt16LE(64 + 32), 16)
  const out: Array<{ type: number; data: Buffer }> = []
  for (let i = 0; i < count; i++) {
    if (offset + 8 > msg.length) return []
    const type = msg.readUInt16LE(offset)
    const length = msg.readUInt16LE(offset + 2)
    if (offset + 8 + length > msg.length) return []
    out.push({ type, data: msg.subarray(offset + 8, offset + 8 + length) })
    offset += 8 + length + ((8 - ((8 + length) % 8)) % 8)
  }
  return out
}

/** The ciphers of an SMB2_ENCRYPTION_CAPABILITIES context, [] when absent. */
const offeredCiphers = (contexts: ReadonlyArray<{ readonly type: number; readonly data: Buffer }>) => {
  const data = contexts.find((c) => c.type === 0x0002)?.data
  if (data === undefined || data.length < 2) return []
  const n = Math.min(data.readUInt16LE(0), (data.length - 2) >> 1)
  return Array.from({ length: n }, (_, j) => data.readUInt16LE(2 + j * 2))
}

/** MS-SMB2 §3.3.5.4: what Windows Server 2019 advertises for each dialect. */
const capabilitiesFor = (dialect: number): number =>
  dialect === 0x0202
    ? CAP_DFS
    : dialect === 0x0210 || dialect === DIALECT_WILDCARD
      ? CAP_DFS | CAP_LEASING | CAP_LARGE_MTU
      : dialect === 0x0311
        ? CAP_DFS | CAP_LEASING | CAP_LARGE_MTU | CAP_MULTI_CHANNEL | CAP_DIRECTORY_LEASING
        : CAP_DFS | CAP_LEASING | CAP_LARGE_MTU | CAP_MULTI_CHANNEL | CAP_DIRECTORY_LEASING | CAP_ENCRYPTION

/** MS-SMB2 §2.2.4 NEGOTIATE response body (+ security buffer, + 3.1.1 negotiate contexts). */
export const negotiateResponse = (
  dialect: number,
  serverGuid: Buffer,
  messageId: bigint,
  nowMs: number,
  ciphers: ReadonlyArray<number> = [],
  reserved = 0
): Buffer => {
  const blob = negTokenInit2()
  const body = Buffer.alloc(64)
  const io = dialect === 0x0202 ? MAX_IO_202 : MAX_IO
  body.writeUInt16LE(65, 0)
  body.writeUInt16LE(0x0001, 2) // SMB2_NEGOTIATE_SIGNING_ENABLED: a member server's default
  body.writeUInt16LE(dialect, 4)
  serverGuid.copy(body, 8)
  body.writeUInt32LE(capabilitiesFor(dialect), 24)
  body.writeUInt32LE(io, 28)
  body.writeUInt32LE(io, 32)
  body.writeUInt32LE(io, 36)
  fileTime(nowMs).copy(body, 40)
  // ServerStartTime (offset 48) stays 0, as Windows has sent since Server 2012.
  body.writeUInt16LE(128, 56)
  body.writeUInt16LE(blob.length, 58)
  let tail: Buffer = blob
  if (dialect === 0x0311) {
    const pad = (8 - ((128 + blob.length) % 8)) % 8
    const cipher = CIPHERS.find((c) => ciphers.includes(c))
    const contexts = [preauthContext(), ...(cipher === undefined ? [] : [encryptionContext(cipher)])]
    body.writeUInt16LE(contexts.length, 6)
    body.writeUInt32LE(128 + blob.length + pad, 60)
    // Each context but the last is padded to 8 bytes (MS-SMB2 §2.2.4).
    const padded = contexts.map((c, i) =>
      i < contexts.length - 1 ? Buffer.concat([c, Buffer.alloc((8 - (c.length % 8)) % 8)]) : c
    )
    tail = Buffer.concat([blob, Buffer.alloc(pad), ...padded])
  }
  return Buffer.concat([header(SMB2_NEGOTIATE, STATUS_SUCCESS, messageId, 0n, 1, reserved), body, tail])
}

const sessionSetupResponse = (status: number, messageId: bigint, sessionId: bigint, blob: Buffer): Buffer => {
  const body = Buffer.alloc(8)
  body.writeUInt16LE(9, 0)
  body.writeUInt16LE(blob.length === 0 ? 0 : 72, 4)
  body.writeUInt16LE(blob.length, 6)
  return Buffer.concat([header(SMB2_SESSION_SETUP, status, messageId, sessionId, 1), body, blob])
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
  /** SMB1 "NT LM 0.12" negotiated; `extended`: the client asked for extended security (SPNEGO). */
  | { readonly _tag: "AwaitSmb1SessionSetup"; readonly extended: boolean }

/** What one running smb instance shares between its connections (and nothing else does). */
interface Instance {
  readonly identity: ServerIdentity
  readonly serverGuid: Buffer
  readonly smb1: boolean
  /** SessionIds handed out so far: every session gets its own, as on a real server. */
  sessions: bigint
}

/** The outcome of one NTLMSSP token from a SESSION_SETUP (SMB1 or SMB2). */
type NtlmStep = { readonly _tag: "Challenge"; readonly token: Buffer } | { readonly _tag: "Refused" }

const STATUS_ACCESS_DENIED = 0xc0000022
const SMB1_DIALECT = "NT LM 0.12"

/**
 * NetBIOS session establishment on 139 (RFC 1002 §4.3.2), as Windows does it: a SESSION REQUEST for this
 * host's name or `*SMBSERVER` (suffix 0x20, the server service) gets a POSITIVE response; a request for
 * any other name gets NEGATIVE "called name not present"; any other first frame gets NEGATIVE
 * "unspecified error" (what nmap names "Microsoft Windows netbios-ssn"). Keepalives are skipped.
 * false = refused (the caller closes).
 */
const establish = (
  conn: Connection,
  computer: string,
  error: (msg: string) => Effect.Effect<void>
): Effect.Effect<boolean, ConnectionError> =>
  Effect.gen(function* () {
    for (let n = 0; n < MAX_MESSAGES; n++) {
      const head = yield* conn.readBytes(4)
      const type = head[0]!
      const length = head.readUInt32BE(0) & 0x1ffff
      if (type === NBSS_KEEPALIVE) continue
      if (type !== NBSS_SESSION_REQUEST || length > 256) {
        yield* conn.write(negativeResponse(NBSS_UNSPECIFIED_ERROR))
        yield* error(`NBSS frame type=0x${type.toString(16)} before a session request`)
        return false
      }
      const called = calledName(yield* conn.readBytes(length))
      if (
        called !== undefined &&
        called.suffix === 0x20 &&
        (called.name === "*SMBSERVER" || called.name === computer)
      ) {
        yield* conn.write(positiveResponse())
        return true
      }
      yield* conn.write(negativeResponse(NBSS_CALLED_NAME_NOT_PRESENT))
      yield* error(
        `NBSS session request for ${called === undefined ? "a malformed name" : `"${called.name}"`}`
      )
      return false
    }
    return false
  })

const session =
  (instance: Instance, netbios: boolean) =>
  (conn: Connection, events: Emitter<SmbEvent>): Effect.Effect<void, ConnectionError> =>
    Effect.gen(function* () {
      const { identity, serverGuid } = instance
      yield* events.emit({ _tag: "connection" })
      let state: State = { _tag: "AwaitNegotiate" }
      let challenge: Buffer | undefined
      let sessionId: bigint | undefined
      // At most one `error` per connection (Events.ts): the first thing that went wrong.
      let warned = false
      const error = (msg: string) =>
        Effect.suspend(() => {
          if (warned) return Effect.void
          warned = true
          return events.emit({ _tag: "error" }, { msg, severity: 4 })
        })
      if (netbios && !(yield* establish(conn, identity.netbiosComputer, error))) return

      /** NEGOTIATE → CHALLENGE; AUTHENTICATE → capture, then refused (this honeypot never accepts a login). */
      const ntlmStep = (blob: Buffer, dialect: string): Effect.Effect<NtlmStep> =>
        Effect.gen(function* () {
          const at = findNtlmssp(blob)
          const ntlm = at < 0 ? Buffer.alloc(0) : blob.subarray(at)
          const kind = messageType(ntlm)
          if (kind === 1) {
            const built = buildChallenge(identity, yield* Clock.currentTimeMillis)
            challenge = built.serverChallenge
            return { _tag: "Challenge", token: negTokenResp(NegState.acceptIncomplete, built.message) }
          }
          if (kind === 3 && challenge !== undefined) {
            const parsed = parseAuthenticate(ntlm)
            if (Either.isRight(parsed)) {
              const auth = parsed.right
              const capture = ntlmAuthFields(auth, challenge)
              if (capture !== undefined) yield* events.emit({ _tag: "auth_attempt", ...capture, dialect })
              else yield* error(`anonymous or malformed NTLM AUTHENTICATE from ${auth.username || "<null>"}`)
            } else yield* error(parsed.left.reason)
          } else yield* error("SESSION_SETUP without a usable NTLMSSP token")
          return { _tag: "Refused" }
        })

      for (let n = 0; n < MAX_MESSAGES; n++) {
        const head = yield* conn.readBytes(4)
        const type = head[0]!
        const length = head.readUInt32BE(0) & 0xffffff
        if (type === NBSS_KEEPALIVE && length === 0) continue
        if (type !== NBSS_SESSION_MESSAGE || length < NBSS_MIN || length > NBSS_MAX)
          return yield* error(`bad NBSS frame type=0x${type.toString(16)} length=${length}`)
        const msg = yield* conn.readBytes(length)
        const magic = msg.subarray(0, 4)

        if (magic.equals(Smb1.SMB1_MAGIC)) {
          const req = Smb1.smb1Header(msg)
          if (req === undefined) return yield* error("short SMB1 message")
          if (req.command === Smb1.SMB_COM_NEGOTIATE && state._tag === "AwaitNegotiate") {
            // MS-SMB2 §3.3.5.3.1: an SMB1 NEGOTIATE offering SMB2 is answered in SMB2.
            const names = Smb1.smb1Dialects(msg)
            const dialect = names.includes("SMB 2.???")
              ? DIALECT_WILDCARD
              : names.includes("SMB 2.002")
                ? 0x0202
                : undefined
            const now = yield* Clock.currentTimeMillis
            if (dialect !== undefined) {
              yield* conn.write(nbss(negotiateResponse(dialect, serverGuid, 0n, now)))
              continue
            }
            const index = names.indexOf(SMB1_DIALECT)
            if (!instance.smb1 || index < 0) {
              // SMB1 not installed (or no dialect in common): Windows drops the connection with a reset.
              yield* error("SMB1-only NEGOTIATE refused")
              yield* Effect.sync(() => conn.socket().resetAndDestroy())
              return
            }
            const extended = (req.flags2 & Smb1.SMB_FLAGS2_EXTENDED_SECURITY) !== 0
            state = { _tag: "AwaitSmb1SessionSetup", extended }
            yield* conn.write(
              nbss(
                Smb1.negotiateResponse(
                  req,
                  index,
                  { domain: identity.netbiosDomain, computer: identity.netbiosComputer, serverGuid },
                  now,
                  randomBytes(8),
                  negTokenInit2()
                )
              )
            )
            continue
          }
          if (req.command !== Smb1.SMB_COM_SESSION_SETUP_ANDX || state._tag !== "AwaitSmb1SessionSetup")
            return yield* error(`SMB1 command 0x${req.command.toString(16)} out of order`)
          const uid = req.uid !== 0 ? req.uid : 0x0800 + Number(instance.sessions++ % 0xf000n)
          const blob = state.extended ? Smb1.sessionSetupBlob(msg) : undefined
          if (blob === undefined) {
            // LM/NTLM responses in the clear (no extended security): refused without a capture.
            yield* error("SMB1 SESSION_SETUP without extended security")
            yield* conn.write(nbss(Smb1.errorResponse(req, STATUS_LOGON_FAILURE, 0)))
            return
          }
          const step = yield* ntlmStep(blob, SMB1_DIALECT)
          if (step._tag === "Challenge") {
            yield* conn.write(
              nbss(Smb1.sessionSetupResponse(req, STATUS_MORE_PROCESSING_REQUIRED, uid, step.token))
            )
            continue
          }
          yield* conn.write(nbss(Smb1.errorResponse(req, STATUS_LOGON_FAILURE, 0)))
          return
        }
        if (!magic.equals(SMB2_MAGIC) || msg.length < 64) return yield* error("not an SMB2 message")
        const command = msg.readUInt16LE(12)
        const messageId = msg.readBigUInt64LE(24)
        const reserved = msg.readUInt32LE(32)

        if (command === SMB2_NEGOTIATE) {
          if (state._tag !== "AwaitNegotiate") {
            // MS-SMB2 §3.3.5.3: a second NEGOTIATE on a connection ends it.
            yield* conn.write(
              nbss(Buffer.concat([header(0, STATUS_ACCESS_DENIED, messageId, 0n, 1, reserved), errorBody()]))
            )
            return yield* error("second NEGOTIATE")
          }
          const offered = smb2Dialects(msg)
          const dialect = chooseDialect(offered)
          const contexts = dialect === 0x0311 ? negotiateContexts(msg) : []
          // MS-SMB2 §3.3.5.4: no common dialect fails the request (STATUS_NOT_SUPPORTED); 3.1.1 without
          // exactly one preauth-integrity context too (STATUS_INVALID_PARAMETER). The connection stays.
          const refusal =
            dialect === undefined
              ? STATUS_NOT_SUPPORTED
              : dialect === 0x0311 && contexts.filter((c) => c.type === 0x0001).length !== 1
                ? STATUS_INVALID_PARAMETER
                : undefined
          if (dialect === undefined || refusal !== undefined) {
            yield* conn.write(
              nbss(
                Buffer.concat([
                  header(0, refusal ?? STATUS_NOT_SUPPORTED, messageId, 0n, 1, reserved),
                  errorBody()
                ])
              )
            )
            yield* error(
              dialect === undefined ? "no common SMB2 dialect" : "SMB 3.1.1 without a preauth context"
            )
            continue
          }
          state = { _tag: "AwaitSessionSetup", dialect }
          const now = yield* Clock.currentTimeMillis
          const ciphers = offeredCiphers(contexts)
          yield* conn.write(nbss(negotiateResponse(dialect, serverGuid, messageId, now, ciphers, reserved)))
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
        const step = yield* ntlmStep(blob, dialectName(dialect))
        if (step._tag === "Challenge") {
          yield* conn.write(
            nbss(sessionSetupResponse(STATUS_MORE_PROCESSING_REQUIRED, messageId, sessionId, step.token))
          )
          continue
        }
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
        smb1: options.config.smb1,
        sessions: 0n
      }
      return yield* Effect.all([
        serveTcp({ ...options.address(445), events: smbEvents, handler: session(instance, false) }),
        serveTcp({ ...options.address(139), events: smbEvents, handler: session(instance, true) })
      ])
    })
})
