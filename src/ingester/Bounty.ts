/**
 * The shapes the ingester writes: `bounty` payloads (spec api.md §7.3: `fingerprint`, `ip_leak`,
 * `artifact`) and `credentials` rows (logging-and-config §5.5). A bounty is de-duplicated on
 * (bounty_type, attacker_ip, payload JSON text), so every payload holds only what identifies the thing
 * (a client, a leaked address, a stored file), never per-request detail: that stays in `logs`. Key order
 * is fixed by these Schemas, so the same thing always renders the same text.
 */
import { Schema } from "effect"

export const BountyType = Schema.Literal("fingerprint", "ip_leak", "artifact")
export type BountyType = typeof BountyType.Type

/** What the User-Agent says the client is: a known tool, a browser, or neither. */
export const UserAgentClient = Schema.Literal(
  "nmap",
  "nikto",
  "sqlmap",
  "nuclei",
  "masscan",
  "zgrab",
  "metasploit",
  "python-requests",
  "gobuster",
  "dirbuster",
  "hydra",
  "wfuzz",
  "curl",
  "wget",
  "go-http-client",
  "browser",
  "other"
)
export type UserAgentClient = typeof UserAgentClient.Type

export const UserAgentFingerprint = Schema.Struct({
  fingerprint_type: Schema.Literal("http_useragent"),
  value: Schema.String,
  client: UserAgentClient
})

/** JA4H of one request's header block (http_request_fingerprint). */
export const Ja4hFingerprint = Schema.Struct({
  fingerprint_type: Schema.Literal("ja4h"),
  ja4h: Schema.String
})

/** The client's first HTTP/2 SETTINGS frame; `hash` = 16 hex of SHA-256 over order and values. */
export const Http2SettingsFingerprint = Schema.Struct({
  fingerprint_type: Schema.Literal("http2_settings"),
  hash: Schema.String,
  settings: Schema.Record({ key: Schema.String, value: Schema.Number }),
  frame_order: Schema.Array(Schema.Int)
})

/** The RFB ProtocolVersion a VNC client sent. */
export const VncClientVersionFingerprint = Schema.Struct({
  fingerprint_type: Schema.Literal("vnc_client_version"),
  value: Schema.String
})

/** Where a proxy-family header's address came from: its name, and every such header as received. */
const ProxyClaim = {
  source_ip: Schema.String,
  source_header: Schema.String,
  headers_seen: Schema.Record({ key: Schema.String, value: Schema.String })
}

/** Not routable (loopback, private, link-local, multicast, reserved, unspecified). */
export const ClaimCategory = Schema.Literal(
  "unspecified",
  "loopback",
  "link_local",
  "multicast",
  "reserved",
  "private"
)
export type ClaimCategory = typeof ClaimCategory.Type

/**
 * A proxy header naming a non-routable address (`X-Forwarded-For: 127.0.0.1`): an allow-list or WAF
 * bypass attempt. No address leaked, but the client knows what the header does.
 */
export const SpoofedSourceFingerprint = Schema.Struct({
  fingerprint_type: Schema.Literal("spoofed_source"),
  ...ProxyClaim,
  claimed_ip: Schema.String,
  claim_category: ClaimCategory
})

/** A proxy header naming a public address other than the peer: the client's real address, probably. */
export const IpLeak = Schema.Struct({
  ...ProxyClaim,
  real_ip_claim: Schema.String
})

/** An upload kept in quarantine (ssh/ftp `file_captured`): `<artifacts>/<decky>/<service>/<stored_as>`. */
export const FileArtifact = Schema.Struct({
  kind: Schema.Literal("file"),
  stored_as: Schema.String,
  sha256: Schema.String,
  size: Schema.Int,
  orig_path: Schema.String
})

/** A message kept in quarantine (smtp/smtp_relay `message_stored`). */
export const MailArtifact = Schema.Struct({
  kind: Schema.Literal("mail"),
  stored_as: Schema.String,
  sha256: Schema.String,
  size: Schema.Int,
  msg_id: Schema.String,
  mail_from: Schema.String,
  rcpt_to: Schema.String,
  subject: Schema.String,
  attachment_count: Schema.Int
})

export const FingerprintPayload = Schema.Union(
  UserAgentFingerprint,
  Ja4hFingerprint,
  Http2SettingsFingerprint,
  VncClientVersionFingerprint,
  SpoofedSourceFingerprint
)
export const ArtifactPayload = Schema.Union(FileArtifact, MailArtifact)

/** One `bounty` row to write (the id and the de-duplication are the store's). */
export type NewBounty = {
  readonly timestamp: Date
  readonly decky: string
  readonly service: string
  readonly attacker_ip: string
} & (
  | { readonly bounty_type: "fingerprint"; readonly payload: typeof FingerprintPayload.Type }
  | { readonly bounty_type: "ip_leak"; readonly payload: typeof IpLeak.Type }
  | { readonly bounty_type: "artifact"; readonly payload: typeof ArtifactPayload.Type }
)

/** Column limits of `credentials` (logging-and-config §5.5). */
export const PRINCIPAL_MAX = 256
export const PRINTABLE_MAX = 512
export const B64_MAX = 2048
export const KIND_MAX = 32
export const OUTCOME_MAX = 16

/** One captured secret, as `credentials` stores it; `attempts` counts its sightings in one batch. */
export interface CapturedCredential {
  readonly timestamp: Date
  readonly attacker_ip: string
  readonly decky_name: string
  readonly service: string
  readonly principal: string | null
  readonly principal_key: string
  readonly secret_kind: string
  readonly secret_sha256: string
  readonly secret_b64: string
  readonly secret_printable: string | null
  readonly outcome: string | null
  /** The event's other fields, JSON (kept from the first sighting). */
  readonly fields: string
  readonly attempts: number
}

/** The `credential.captured` bus payload (spec bus.md): hashes and places, never the secret. */
export const CredentialCaptured = Schema.Struct({
  secret_sha256: Schema.String,
  secret_kind: Schema.String,
  attacker_ip: Schema.String,
  decky: Schema.String,
  service: Schema.String
}).annotations({ identifier: "CredentialCaptured" })
export type CredentialCaptured = typeof CredentialCaptured.Type

/** The ingester's `system.log` payload after each committed batch (workers §4.3). */
export const BatchCommitted = Schema.Struct({
  component: Schema.Literal("ingester"),
  flushed: Schema.Int,
  position: Schema.Int
}).annotations({ identifier: "BatchCommitted" })
export type BatchCommitted = typeof BatchCommitted.Type
