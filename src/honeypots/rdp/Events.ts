/** The rdp honeypot's events (spec/honeypots.md §8). */
import { NtlmAuthFields } from "../ntlm/index.js"
import { defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const rdpEvents = defineEvents("rdp", {
  /** A client connected, before its first TPKT. */
  connection: {},
  /**
   * An X.224 Connection Request carrying `Cookie: mstshash=` (the username mstsc and most
   * brute-forcers send). `requested_protocols`: RDP_NEG_REQ's bitmask, 0 when absent.
   */
  rdp_cookie: { requested_protocols: Sd.Int, username: Sd.Text, principal: Sd.Text },
  /** A Connection Request without a mstshash cookie; `routing_token` when it had `Cookie: msts=`. */
  connection_request: { requested_protocols: Sd.Int, routing_token: Sd.optional(Sd.Text) },
  /** NLA only: the NTLMSSP AUTHENTICATE inside CredSSP (always answered STATUS_LOGON_FAILURE). */
  auth_attempt: { ...NtlmAuthFields, auth_path: Sd.Literal("nla") },
  /** WARNING, NLA only: the TLS handshake failed before the first TSRequest; `error` is why. */
  tls_handshake_failed: { error: Sd.Text },
  /** WARNING, msg only: not an X.224 Connection Request, or an unparseable AUTHENTICATE. */
  error: {},
  /** The connection ended, however it ended. */
  disconnect: {}
})

export type RdpEvent = EventsOf<typeof rdpEvents>
