/**
 * NetBIOS session service (RFC 1002 §4.3) as Windows runs it on 139: the first frame must be a
 * SESSION REQUEST naming this host (or `*SMBSERVER`); anything else gets a NEGATIVE SESSION RESPONSE
 * and the connection closes. On 445 (MS-SMB2 §2.1 direct TCP) only the 4-byte length header remains.
 */

// RFC 1002 §4.3.1 packet types.
export const NBSS_SESSION_MESSAGE = 0x00
export const NBSS_SESSION_REQUEST = 0x81
export const NBSS_POSITIVE_RESPONSE = 0x82
export const NBSS_NEGATIVE_RESPONSE = 0x83
export const NBSS_KEEPALIVE = 0x85

// RFC 1002 §4.3.4 NEGATIVE SESSION RESPONSE error codes.
/** The called name is not registered here (Windows, for a name that is not its own). */
export const NBSS_CALLED_NAME_NOT_PRESENT = 0x82
/** What Windows answers a first frame that is not a session request (nmap's "Microsoft Windows netbios-ssn"). */
export const NBSS_UNSPECIFIED_ERROR = 0x8f

export const positiveResponse = (): Buffer => Buffer.from([NBSS_POSITIVE_RESPONSE, 0, 0, 0])
export const negativeResponse = (error: number): Buffer =>
  Buffer.from([NBSS_NEGATIVE_RESPONSE, 0, 0, 1, error])

/** A session message: the 4-byte header (type 0, 24-bit length) and the payload. */
export const frame = (payload: Buffer): Buffer => {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(payload.length & 0xffffff, 0)
  return Buffer.concat([h, payload])
}

/**
 * The called name of a SESSION REQUEST body (RFC 1001 §14.1 first-level encoding: a length byte of 32,
 * then each of the 16 name bytes as two letters 'A'+nibble, then the scope labels). Returns the 15-byte
 * name with its padding trimmed and the 16th byte (the suffix), or undefined when malformed.
 */
export const calledName = (body: Buffer): { readonly name: string; readonly suffix: number } | undefined => {
  if (body.length < 34 || body[0] !== 32) return undefined
  const bytes: Array<number> = []
  for (let i = 0; i < 16; i++) {
    const hi = body[1 + 2 * i]! - 0x41
    const lo = body[2 + 2 * i]! - 0x41
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return undefined
    bytes.push((hi << 4) | lo)
  }
  return {
    name: Buffer.from(bytes.slice(0, 15))
      .toString("latin1")
      .replace(/[ \0]+$/, "")
      .toUpperCase(),
    suffix: bytes[15]!
  }
}

/** RFC 1001 first-level encoding of a 15-character name with suffix (what a client sends). */
export const encodeName = (name: string, suffix = 0x20): Buffer => {
  const padded = Buffer.alloc(16, 0x20)
  Buffer.from(name.slice(0, 15), "latin1").copy(padded)
  padded[15] = suffix
  const out = [32]
  for (const c of padded) out.push(0x41 + (c >> 4), 0x41 + (c & 15))
  out.push(0)
  return Buffer.from(out)
}
