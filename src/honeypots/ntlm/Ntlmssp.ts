/**
 * NTLMSSP (MS-NLMP §2.2.1) for the SMB and RDP/NLA emulators: build the server CHALLENGE with a fresh
 * random challenge per connection, parse the client's AUTHENTICATE into a crackable capture
 * (hashcat -m 5600 / -m 5500 lines), and verify a capture against a known password.
 */
import { createHmac, randomBytes } from "node:crypto"
import { Either } from "effect"
import { ProtocolViolation } from "../runtime/index.js"
import { md4 } from "./Md4.js"

export const NTLMSSP_SIGNATURE = Buffer.from("NTLMSSP\0", "latin1")

// MS-NLMP §2.2.2.5 NEGOTIATE flags.
export const NTLMSSP_NEGOTIATE_UNICODE = 0x00000001
const NTLMSSP_REQUEST_TARGET = 0x00000004
const NTLMSSP_NEGOTIATE_SIGN = 0x00000010
const NTLMSSP_NEGOTIATE_NTLM = 0x00000200
const NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000
const NTLMSSP_TARGET_TYPE_DOMAIN = 0x00010000
const NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
const NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000
const NTLMSSP_NEGOTIATE_VERSION = 0x02000000
const NTLMSSP_NEGOTIATE_128 = 0x20000000
const NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000
const NTLMSSP_NEGOTIATE_56 = 0x80000000

/** What a Windows server answers with (0xE2898215). */
export const CHALLENGE_FLAGS =
  (NTLMSSP_NEGOTIATE_56 |
    NTLMSSP_NEGOTIATE_KEY_EXCH |
    NTLMSSP_NEGOTIATE_128 |
    NTLMSSP_NEGOTIATE_VERSION |
    NTLMSSP_NEGOTIATE_TARGET_INFO |
    NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NTLMSSP_TARGET_TYPE_DOMAIN |
    NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
    NTLMSSP_NEGOTIATE_NTLM |
    NTLMSSP_NEGOTIATE_SIGN |
    NTLMSSP_REQUEST_TARGET |
    NTLMSSP_NEGOTIATE_UNICODE) >>>
  0

/** Find the NTLMSSP message inside a SPNEGO / TSRequest / raw blob; -1 when absent. */
export const findNtlmssp = (blob: Buffer): number => blob.indexOf(NTLMSSP_SIGNATURE)

/** The MessageType (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE) of the message at `blob`, or 0. */
export const messageType = (blob: Buffer): number =>
  blob.length >= 12 && blob.subarray(0, 8).equals(NTLMSSP_SIGNATURE) ? blob.readUInt32LE(8) : 0

export interface ServerIdentity {
  /** NetBIOS domain / workgroup (AV pair 2, and the TargetName). */
  readonly netbiosDomain: string
  /** NetBIOS computer name (AV pair 1). */
  readonly netbiosComputer: string
  /** DNS domain (AV pair 4). */
  readonly dnsDomain: string
  /** DNS computer name (AV pair 3). */
  readonly dnsComputer: string
}

const utf16 = (s: string): Buffer => Buffer.from(s, "utf16le")

const avPair = (id: number, value: Buffer): Buffer => {
  const head = Buffer.alloc(4)
  head.writeUInt16LE(id, 0)
  head.writeUInt16LE(value.length, 2)
  return Buffer.concat([head, value])
}

/** Windows FILETIME (100 ns ticks since 1601-01-01) as 8 LE bytes. */
export const fileTime = (ms: number): Buffer => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE((BigInt(ms) + 11_644_473_600_000n) * 10_000n)
  return b
}

/** MS-NLMP §2.2.2.1 AV_PAIR list: the names NTLMv2 clients fold into their response blob. */
export const targetInfo = (id: ServerIdentity, nowMs: number): Buffer =>
  Buffer.concat([
    avPair(2, utf16(id.netbiosDomain)),
    avPair(1, utf16(id.netbiosComputer)),
    avPair(4, utf16(id.dnsDomain)),
    avPair(3, utf16(id.dnsComputer)),
    avPair(5, utf16(id.dnsDomain)),
    avPair(7, fileTime(nowMs)),
    avPair(0, Buffer.alloc(0))
  ])

/** Windows Server 2019 (10.0.17763), NTLM revision 15 (MS-NLMP §2.2.2.10 VERSION). */
const VERSION = Buffer.from("0a0063450000000f", "hex")

export interface Challenge {
  readonly serverChallenge: Buffer
  readonly message: Buffer
}

/**
 * MS-NLMP §2.2.1.2 CHALLENGE_MESSAGE. The server challenge is fresh OS randomness for every
 * connection: a fixed challenge (as the original had) lets a rainbow table pre-compute answers
 * and marks the host as a honeypot.
 */
export const buildChallenge = (id: ServerIdentity, nowMs: number): Challenge => {
  const serverChallenge = randomBytes(8)
  const target = utf16(id.netbiosDomain)
  const info = targetInfo(id, nowMs)
  const header = Buffer.alloc(56)
  NTLMSSP_SIGNATURE.copy(header, 0)
  header.writeUInt32LE(2, 8)
  header.writeUInt16LE(target.length, 12)
  header.writeUInt16LE(target.length, 14)
  header.writeUInt32LE(56, 16)
  header.writeUInt32LE(CHALLENGE_FLAGS, 20)
  serverChallenge.copy(header, 24)
  header.writeUInt16LE(info.length, 40)
  header.writeUInt16LE(info.length, 42)
  header.writeUInt32LE(56 + target.length, 44)
  VERSION.copy(header, 48)
  return { serverChallenge, message: Buffer.concat([header, target, info]) }
}

export interface Authenticate {
  readonly domain: string
  readonly username: string
  readonly workstation: string
  readonly lmResponse: Buffer
  readonly ntResponse: Buffer
  readonly flags: number
}

const field = (blob: Buffer, at: number): Buffer => {
  const len = blob.readUInt16LE(at)
  const off = blob.readUInt32LE(at + 4)
  if (off > blob.length || off + len > blob.length) return Buffer.alloc(0)
  return blob.subarray(off, off + len)
}

/** MS-NLMP §2.2.1.3 AUTHENTICATE_MESSAGE; fields pointing outside the message read as empty. */
export const parseAuthenticate = (blob: Buffer): Either.Either<Authenticate, ProtocolViolation> => {
  if (blob.length < 64 || messageType(blob) !== 3)
    return Either.left(new ProtocolViolation({ reason: "not an NTLMSSP AUTHENTICATE message" }))
  const flags = blob.readUInt32LE(60)
  const text = (b: Buffer) =>
    (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0 ? b.toString("utf16le") : b.toString("latin1")
  return Either.right({
    lmResponse: field(blob, 12),
    ntResponse: field(blob, 20),
    domain: text(field(blob, 28)),
    username: text(field(blob, 36)),
    workstation: text(field(blob, 44)),
    flags
  })
}

export type NtlmKind = "ntlmssp_v1" | "ntlmssp_v2"

export interface NtlmCapture {
  readonly principal: string
  readonly kind: NtlmKind
  /** The hashcat input line (-m 5600 for v2, -m 5500 for v1). */
  readonly hashcat: string
}

/** NTLMv1 responses are exactly 24 bytes; NTLMv2 is a 16-byte NTProofStr plus the client blob. */
export const captureOf = (auth: Authenticate, serverChallenge: Buffer): NtlmCapture | undefined => {
  if (auth.ntResponse.length === 0) return undefined
  const principal = auth.domain === "" ? auth.username : `${auth.domain}\\${auth.username}`
  const ch = serverChallenge.toString("hex")
  if (auth.ntResponse.length === 24)
    return {
      principal,
      kind: "ntlmssp_v1",
      hashcat: `${auth.username}::${auth.domain}:${auth.lmResponse.toString("hex")}:${auth.ntResponse.toString("hex")}:${ch}`
    }
  if (auth.ntResponse.length < 16 + 28) return undefined
  return {
    principal,
    kind: "ntlmssp_v2",
    hashcat: `${auth.username}::${auth.domain}:${ch}:${auth.ntResponse.subarray(0, 16).toString("hex")}:${auth.ntResponse
      .subarray(16)
      .toString("hex")}`
  }
}

const hmacMd5 = (key: Uint8Array, ...data: ReadonlyArray<Uint8Array>): Buffer => {
  const h = createHmac("md5", key)
  for (const d of data) h.update(d)
  return h.digest()
}

/** NTOWFv1 = MD4(UTF-16LE(password)); MD4 is not in OpenSSL 3's default provider, hence our own. */
export const ntowfv1 = (password: string): Buffer => md4(utf16(password))

/** NTOWFv2 (MS-NLMP §3.3.2) = HMAC-MD5(NTOWFv1, UTF-16LE(UPPER(user) + domain)). */
export const ntowfv2 = (password: string, username: string, domain: string): Buffer =>
  hmacMd5(ntowfv1(password), utf16(username.toUpperCase() + domain))

/**
 * Does an NTLMv2 capture come from `password`? Lets an operator (or the canary/intel pipeline)
 * recognise a planted credential being replayed.
 */
export const verifyNtlmv2 = (password: string, auth: Authenticate, serverChallenge: Buffer): boolean => {
  if (auth.ntResponse.length < 16 + 28) return false
  const proof = hmacMd5(
    ntowfv2(password, auth.username, auth.domain),
    serverChallenge,
    auth.ntResponse.subarray(16)
  )
  return proof.equals(auth.ntResponse.subarray(0, 16))
}
