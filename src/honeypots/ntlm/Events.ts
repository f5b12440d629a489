/**
 * An NTLMSSP AUTHENTICATE capture as event fields (spec/honeypots.md §7, §8): the one field list and
 * the one builder behind smb's and rdp's `auth_attempt`, so a capture logs the same from either door
 * and the credential pipeline reads one shape.
 */
import type { Schema } from "effect"
import { CredentialEventFields, Sd } from "../runtime/index.js"
import { type Authenticate, captureOf } from "./Ntlmssp.js"

/** Spread into a service's `auth_attempt`; SD param order is this order. */
export const NtlmAuthFields = {
  username: Sd.Text,
  domain: Sd.Text,
  ...CredentialEventFields,
  // Narrower than the universal list: a capture is only ever one of the two NTLMSSP kinds.
  secret_kind: Sd.Literal("ntlmssp_v1", "ntlmssp_v2"),
  workstation: Sd.Text,
  /** The challenge we sent, hex: with the response it is what a cracker needs. */
  server_challenge: Sd.Text,
  /** The ready hashcat line: -m 5600 (NTLMv2) or -m 5500 (NTLMv1). */
  hashcat: Sd.Text
} as const

export type NtlmAuth = Schema.Struct.Type<typeof NtlmAuthFields>

/**
 * The capture of a parsed AUTHENTICATE answering `serverChallenge`, or undefined when it carries no
 * crackable response (anonymous, or an NT response of neither v1 nor v2 shape). `secret_printable` is
 * the NT response in hex (what crackers take), `secret_b64` the same bytes raw.
 */
export const ntlmAuthFields = (auth: Authenticate, serverChallenge: Buffer): NtlmAuth | undefined => {
  const capture = captureOf(auth, serverChallenge)
  if (capture === undefined) return undefined
  return {
    username: auth.username,
    domain: auth.domain,
    principal: capture.principal,
    secret_printable: auth.ntResponse.toString("hex"),
    secret_b64: auth.ntResponse.toString("base64"),
    secret_kind: capture.kind,
    workstation: auth.workstation,
    server_challenge: serverChallenge.toString("hex"),
    hashcat: capture.hashcat
  }
}
