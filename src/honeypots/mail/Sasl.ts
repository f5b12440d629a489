/**
 * SASL PLAIN (RFC 4616) and LOGIN decoding shared by the mail honeypots (smtp, imap, pop3).
 * Input is attacker base64; a bad encoding is a typed result, never an exception.
 */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Strict base64 (RFC 4648 §4, padding required): `undefined` when malformed. */
export const decodeBase64 = (text: string): Buffer | undefined => {
  const t = text.trim()
  return t.length % 4 === 0 && BASE64.test(t) ? Buffer.from(t, "base64") : undefined
}

export interface PlainCredentials {
  readonly authzid: string
  readonly username: string
  /** The raw password bytes (may hold anything). */
  readonly password: Buffer
}

/** RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd. */
export const decodePlain = (text: string): PlainCredentials | undefined => {
  const raw = decodeBase64(text)
  if (raw === undefined) return undefined
  const first = raw.indexOf(0)
  if (first < 0) return undefined
  const second = raw.indexOf(0, first + 1)
  if (second < 0) return undefined
  return {
    authzid: raw.subarray(0, first).toString("utf8"),
    username: raw.subarray(first + 1, second).toString("utf8"),
    password: raw.subarray(second + 1)
  }
}

/** AUTH LOGIN sends base64 of the bare string at each prompt. */
export const decodeLoginStep = (text: string): Buffer | undefined => decodeBase64(text)
