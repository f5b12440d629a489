/**
 * The universal credential fields (spec/honeypots.md §0 "Credential shape"), filled in one place.
 * Any event carrying `secret_b64` becomes a `credentials` row downstream.
 */
import { Sd } from "./Events.js"

export const SECRET_KINDS = [
  "plaintext",
  "publickey",
  "http_bearer",
  "http_digest_md5",
  "ntlmv2",
  "ntlmv1",
  "mysql_native_password",
  "postgres_md5",
  "vnc_des_challenge",
  "mssql_login7",
  "ldap_simple",
  "scram_sha_256",
  "hash",
  // Spellings from spec/honeypots.md §7–§18 (smb/rdp, postgres, vnc, mongodb).
  "ntlmssp_v1",
  "ntlmssp_v2",
  "postgres_md5_challenge",
  "vnc_des_response",
  "scram_sha256",
  "scram_sha1",
  "scram_unknown"
] as const
export type SecretKind = (typeof SECRET_KINDS)[number]

/** The credential fields as event fields: spread into every event that carries a secret. */
export const CredentialEventFields = {
  principal: Sd.NullableText,
  secret_printable: Sd.Text,
  secret_b64: Sd.Text,
  secret_kind: Sd.Literal(...SECRET_KINDS)
} as const

export interface CredentialFields {
  readonly principal: string | null
  readonly secret_printable: string
  readonly secret_b64: string
  readonly secret_kind: SecretKind
}

/** `secret_printable`: bytes outside 0x20–0x7e become `?`. `secret_b64`: base64 of the raw bytes. */
export const encodeSecret = (
  secret: string | Uint8Array
): { secret_printable: string; secret_b64: string } => {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret)
  let printable = ""
  for (const b of bytes) printable += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : "?"
  return { secret_printable: printable, secret_b64: bytes.toString("base64") }
}

export const credentialFields = (
  principal: string | null | undefined,
  secret: string | Uint8Array,
  kind: SecretKind = "plaintext"
): CredentialFields => ({ principal: principal ?? null, ...encodeSecret(secret), secret_kind: kind })
