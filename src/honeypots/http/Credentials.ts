/**
 * HTTP credential extraction (spec/honeypots.md §0 "Credential shape"): the Authorization header
 * (Basic / Bearer / Token / Digest) and url-encoded login forms. Pure functions over attacker input.
 */
import { type CredentialFields, credentialFields } from "../runtime/index.js"

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Decode base64 strictly (like Python's `b64decode(validate=True)`); anything malformed is `undefined`. */
const strictBase64 = (text: string): Buffer | undefined =>
  text.length % 4 === 0 && BASE64.test(text) ? Buffer.from(text, "base64") : undefined

/** Parse a Digest `k=v, k="v"` parameter list (RFC 7616 §3.4). Bounded by the header size limit. */
export const parseDigestParams = (text: string): ReadonlyMap<string, string> => {
  const params = new Map<string, string>()
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const key = m[1]!.toLowerCase()
    if (!params.has(key)) params.set(key, m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? ""))
  }
  return params
}

/** `Authorization` → credential fields, or `undefined` when the scheme carries none. */
export const classifyAuthorization = (header: string | undefined): CredentialFields | undefined => {
  if (header === undefined) return undefined
  const trimmed = header.trim()
  const space = trimmed.indexOf(" ")
  if (space <= 0) return undefined
  const scheme = trimmed.slice(0, space).toLowerCase()
  const rest = trimmed.slice(space + 1).trim()
  switch (scheme) {
    case "basic": {
      const raw = strictBase64(rest)
      if (raw === undefined) return undefined
      const colon = raw.indexOf(0x3a)
      if (colon < 0) return undefined
      return credentialFields(raw.subarray(0, colon).toString("utf8"), raw.subarray(colon + 1))
    }
    case "bearer":
    case "token":
      return rest === "" ? undefined : credentialFields(null, rest, "http_bearer")
    case "digest": {
      const params = parseDigestParams(rest)
      const response = params.get("response")
      if (response === undefined) return undefined
      return credentialFields(params.get("username") ?? null, response, "http_digest_md5")
    }
    default:
      return undefined
  }
}

const PRINCIPAL_KEYS = [
  "username",
  "user",
  "email",
  "login",
  "userid",
  "account",
  "log",
  "user_login",
  "uname",
  "pma_username"
] as const
const SECRET_KEYS = [
  "password",
  "pass",
  "pwd",
  "passwd",
  "passwort",
  "mot_de_passe",
  "user_password",
  "pma_password"
] as const

const decodeComponent = (s: string): string => {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "))
  } catch {
    return s.replace(/\+/g, " ")
  }
}

/** A url-encoded login form → credential fields; the secret key is required, the principal is not. */
export const extractFormCredentials = (
  body: string,
  contentType: string | undefined
): CredentialFields | undefined => {
  if (contentType === undefined) return undefined
  if (contentType.split(";")[0]!.trim().toLowerCase() !== "application/x-www-form-urlencoded")
    return undefined
  const pairs = new Map<string, string>()
  for (const part of body.split("&").slice(0, 256)) {
    if (part === "") continue
    const eq = part.indexOf("=")
    const key = decodeComponent(eq < 0 ? part : part.slice(0, eq)).toLowerCase()
    const value = eq < 0 ? "" : decodeComponent(part.slice(eq + 1))
    if (!pairs.has(key)) pairs.set(key, value)
  }
  const secretKey = SECRET_KEYS.find((k) => pairs.has(k))
  if (secretKey === undefined) return undefined
  const principalKey = PRINCIPAL_KEYS.find((k) => pairs.has(k))
  return credentialFields(
    principalKey === undefined ? null : pairs.get(principalKey),
    pairs.get(secretKey) ?? ""
  )
}
