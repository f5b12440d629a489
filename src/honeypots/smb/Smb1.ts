/**
 * SMB1 (MS-CIFS / MS-SMB) as a Windows Server 2019 with the SMB1 feature installed speaks it, far enough
 * for a scanner and a login: NEGOTIATE with "NT LM 0.12" (MS-SMB §2.2.4.5.2) and SESSION_SETUP_ANDX with
 * extended security (MS-SMB §2.2.4.6), whose NTLMSSP AUTHENTICATE is captured like the SMB2 one.
 */
import { fileTime } from "../ntlm/index.js"

export const SMB1_MAGIC = Buffer.from([0xff, 0x53, 0x4d, 0x42])
export const SMB_COM_NEGOTIATE = 0x72
export const SMB_COM_SESSION_SETUP_ANDX = 0x73
export const NT_LM_012 = "NT LM 0.12"

// MS-CIFS §2.2.3.1 header fields.
const SMB_FLAGS_REPLY = 0x80
const SMB_FLAGS_CASE_INSENSITIVE = 0x08
export const SMB_FLAGS2_EXTENDED_SECURITY = 0x0800

/**
 * MS-SMB §2.2.4.5.2.1 capabilities of Windows Server 2008 R2 and later (UNICODE, LARGE_FILES, NT_SMBS,
 * RPC_REMOTE_APIS, STATUS32, LEVEL_II_OPLOCKS, LOCK_AND_READ, NT_FIND, DFS, INFOLEVEL_PASSTHRU,
 * LARGE_READX, LARGE_WRITEX, LWIO), plus EXTENDED_SECURITY when the client asks for it.
 */
const CAPABILITIES = 0x0001f3fc
const CAP_EXTENDED_SECURITY = 0x80000000
/** MaxBufferSize (16644), MaxMpxCount (50) and MaxRawSize of a Windows server. */
const MAX_BUFFER = 16644
const MAX_MPX = 50
const MAX_RAW = 65536

export interface Smb1Request {
  readonly command: number
  readonly flags2: number
  /** TID, PIDHigh, PIDLow and MID, which the reply echoes. */
  readonly tid: number
  readonly pidHigh: number
  readonly pidLow: number
  readonly mid: number
  readonly uid: number
}

/** The header fields of an SMB1 message (≥ 32 bytes, magic already checked). */
export const smb1Header = (msg: Buffer): Smb1Request | undefined =>
  msg.length < 35
    ? undefined
    : {
        command: msg[4]!,
        flags2: msg.readUInt16LE(10),
        pidHigh: msg.readUInt16LE(12),
        tid: msg.readUInt16LE(24),
        pidLow: msg.readUInt16LE(26),
        uid: msg.readUInt16LE(28),
        mid: msg.readUInt16LE(30)
      }

const header = (req: Smb1Request, status: number, uid: number): Buffer => {
  const h = Buffer.alloc(32)
  SMB1_MAGIC.copy(h, 0)
  h[4] = req.command
  h.writeUInt32LE(status, 5)
  h[9] = SMB_FLAGS_REPLY | SMB_FLAGS_CASE_INSENSITIVE
  // Windows answers with the client's FLAGS2 (nmap's probe: 0x4001 in, 0x4001 out).
  h.writeUInt16LE(req.flags2, 10)
  h.writeUInt16LE(req.pidHigh, 12)
  h.writeUInt16LE(req.tid, 24)
  h.writeUInt16LE(req.pidLow, 26)
  h.writeUInt16LE(uid, 28)
  h.writeUInt16LE(req.mid, 30)
  return h
}

const utf16z = (s: string) => Buffer.from(`${s}\0`, "utf16le")

/** The dialect strings of an SMB1 NEGOTIATE (MS-CIFS §2.2.4.52.1): 0x02 + NUL-terminated ASCII each. */
export const smb1Dialects = (msg: Buffer): ReadonlyArray<string> => {
  if (msg.length < 35 || msg[4] !== SMB_COM_NEGOTIATE) return []
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

export interface NegotiateIdentity {
  readonly domain: string
  readonly computer: string
  readonly serverGuid: Buffer
}

/**
 * MS-SMB §2.2.4.5.2 NEGOTIATE response for "NT LM 0.12": without extended security it carries the
 * 8-byte challenge and the (UTF-16) domain and computer names, as nmap's Windows signatures expect;
 * with it, the server GUID and a SPNEGO NegTokenInit.
 */
export const negotiateResponse = (
  req: Smb1Request,
  dialectIndex: number,
  identity: NegotiateIdentity,
  nowMs: number,
  challenge: Buffer,
  spnego: Buffer
): Buffer => {
  const extended = (req.flags2 & SMB_FLAGS2_EXTENDED_SECURITY) !== 0
  const words = Buffer.alloc(1 + 34)
  words[0] = 17
  words.writeUInt16LE(dialectIndex, 1)
  // USER_SECURITY | ENCRYPT_PASSWORDS; signing is not enabled by default on a member server's SMB1.
  words[3] = 0x03
  words.writeUInt16LE(MAX_MPX, 4)
  words.writeUInt16LE(1, 6)
  words.writeUInt32LE(MAX_BUFFER, 8)
  words.writeUInt32LE(MAX_RAW, 12)
  words.writeUInt32LE(0, 16)
  words.writeUInt32LE((CAPABILITIES | (extended ? CAP_EXTENDED_SECURITY : 0)) >>> 0, 20)
  fileTime(nowMs).copy(words, 24)
  words.writeInt16LE(0, 32)
  words[34] = extended ? 0 : challenge.length
  const bytes = extended
    ? Buffer.concat([identity.serverGuid, spnego])
    : Buffer.concat([challenge, utf16z(identity.domain), utf16z(identity.computer)])
  const count = Buffer.alloc(2)
  count.writeUInt16LE(bytes.length, 0)
  return Buffer.concat([header(req, 0, 0), words, count, bytes])
}

/** MS-SMB §2.2.4.6.1: the security blob of an extended-security SESSION_SETUP_ANDX, or undefined. */
export const sessionSetupBlob = (msg: Buffer): Buffer | undefined => {
  if (msg.length < 33 + 24 + 2 || msg[32] !== 12) return undefined
  const blobLength = msg.readUInt16LE(33 + 14)
  const start = 33 + 24 + 2
  return start + blobLength <= msg.length ? msg.subarray(start, start + blobLength) : undefined
}

const NATIVE_OS = "Windows Server 2019 Standard 17763"
const NATIVE_LANMAN = "Windows Server 2019 Standard 6.3"

/** MS-SMB §2.2.4.6.2 SESSION_SETUP_ANDX response with a security blob (MORE_PROCESSING_REQUIRED). */
export const sessionSetupResponse = (req: Smb1Request, status: number, uid: number, blob: Buffer): Buffer => {
  const words = Buffer.alloc(1 + 8)
  words[0] = 4
  words[1] = 0xff
  words.writeUInt16LE(0, 5)
  words.writeUInt16LE(blob.length, 7)
  // Unicode strings start on an even offset from the header: 32 + 9 + 2 + blob.
  const pad = (32 + 9 + 2 + blob.length) % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)
  const bytes = Buffer.concat([blob, pad, utf16z(NATIVE_OS), utf16z(NATIVE_LANMAN)])
  const count = Buffer.alloc(2)
  count.writeUInt16LE(bytes.length, 0)
  return Buffer.concat([header(req, status, uid), words, count, bytes])
}

/** An error reply: header with the status, WordCount 0, ByteCount 0 (MS-CIFS §2.2.3.1). */
export const errorResponse = (req: Smb1Request, status: number, uid: number): Buffer =>
  Buffer.concat([header(req, status, uid), Buffer.alloc(3)])
