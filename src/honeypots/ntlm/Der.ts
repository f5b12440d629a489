/**
 * Minimal, bounded BER/DER for the attacker-facing ASN.1 we speak: LDAP messages (RFC 4511 §5.1),
 * SPNEGO tokens (RFC 4178) and CredSSP TSRequests (MS-CSSP §2.2.1). Low-tag-number form only; a
 * length past 4 octets, an indefinite length or a value running off the buffer is a parse failure.
 */

export interface Tlv {
  /** The identifier octet as sent (class | constructed | number). */
  readonly tag: number
  readonly value: Buffer
  /** Identifier + length octets + value. */
  readonly totalLength: number
}

/** Read one TLV at `offset`; undefined when it is malformed or truncated. */
export const readTlv = (buf: Buffer, offset = 0): Tlv | undefined => {
  if (offset + 2 > buf.length) return undefined
  const tag = buf[offset]!
  // High-tag-number form (0x1f) never occurs in the protocols we parse.
  if ((tag & 0x1f) === 0x1f) return undefined
  const first = buf[offset + 1]!
  let length: number
  let header = 2
  if (first < 0x80) length = first
  else {
    const n = first & 0x7f
    if (n === 0 || n > 4 || offset + 2 + n > buf.length) return undefined
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset + 2 + i]!
    header += n
  }
  const end = offset + header + length
  if (end > buf.length) return undefined
  return { tag, value: buf.subarray(offset + header, end), totalLength: header + length }
}

/** The TLVs inside a constructed value, at most `maxItems`; undefined if any is malformed. */
export const children = (value: Buffer, maxItems = 1024): ReadonlyArray<Tlv> | undefined => {
  const out: Array<Tlv> = []
  let offset = 0
  while (offset < value.length) {
    if (out.length >= maxItems) return undefined
    const t = readTlv(value, offset)
    if (t === undefined) return undefined
    out.push(t)
    offset += t.totalLength
  }
  return out
}

/**
 * How long the BER element starting in `head` is, once enough header bytes are known.
 * `"more"` = need more bytes; undefined = not a definite-length element.
 */
export const berElementLength = (head: Buffer): number | "more" | undefined => {
  if (head.length < 2) return "more"
  const first = head[1]!
  if (first < 0x80) return 2 + first
  const n = first & 0x7f
  if (n === 0 || n > 4) return undefined
  if (head.length < 2 + n) return "more"
  let length = 0
  for (let i = 0; i < n; i++) length = length * 256 + head[2 + i]!
  return 2 + n + length
}

const encodeLength = (n: number): Buffer => {
  if (n < 0x80) return Buffer.from([n])
  const bytes: Array<number> = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

/** Encode a TLV with a definite length. */
export const tlv = (tag: number, ...parts: ReadonlyArray<Uint8Array>): Buffer => {
  const value = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value])
}

/** Two's-complement minimal INTEGER content octets. */
const intContent = (n: number): Buffer => {
  const bytes: Array<number> = []
  let v = n
  do {
    bytes.unshift(v & 0xff)
    v = Math.floor(v / 256)
  } while (v > 0)
  if ((bytes[0]! & 0x80) !== 0) bytes.unshift(0)
  return Buffer.from(bytes)
}

export const derInteger = (n: number, tag = 0x02): Buffer => tlv(tag, intContent(n))
export const derEnumerated = (n: number): Buffer => tlv(0x0a, intContent(n))
export const derOctets = (value: string | Uint8Array, tag = 0x04): Buffer =>
  tlv(tag, typeof value === "string" ? Buffer.from(value, "utf8") : value)
export const derSequence = (...parts: ReadonlyArray<Uint8Array>): Buffer => tlv(0x30, ...parts)
export const derSet = (...parts: ReadonlyArray<Uint8Array>): Buffer => tlv(0x31, ...parts)

/** Decode a non-negative INTEGER/ENUMERATED content (≤ 6 octets); undefined otherwise. */
export const readUnsigned = (value: Buffer): number | undefined => {
  if (value.length === 0 || value.length > 6) return undefined
  let n = 0
  for (const b of value) n = n * 256 + b
  if ((value[0]! & 0x80) !== 0) return undefined
  return n
}

/** OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), pre-encoded. */
export const OID_NTLMSSP = Buffer.from("060a2b0601040182370202 0a".replace(/ /g, ""), "hex")
/** OID 1.3.6.1.5.5.2 (SPNEGO), pre-encoded. */
export const OID_SPNEGO = Buffer.from("06062b0601050502", "hex")
