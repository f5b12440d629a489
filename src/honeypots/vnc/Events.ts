/** The vnc honeypot's events (spec/honeypots.md §9). */
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const vncEvents = defineEvents("vnc", {
  connect: {},
  /** The client's 12-byte ProtocolVersion, newline stripped (logged even when it is not RFB). */
  version: { client_version: Sd.Text },
  /** The security type a 3.7/3.8 client picked (only VNC Authentication, 2, is offered). */
  security_choice: { type: Sd.Int },
  /**
   * The 16-byte DES response to our challenge: `response` and `secret_printable` in hex, `secret_b64`
   * the raw bytes, `challenge` in hex (the pair is what an offline crack needs).
   */
  auth_response: {
    response: Sd.Text,
    ...CredentialEventFields,
    secret_kind: Sd.Literal("vnc_des_response"),
    challenge: Sd.Text
  },
  /** WARNING: the ProtocolVersion was not `RFB xxx.yyy\n`; the connection closes. */
  error: {},
  disconnect: {}
})

export type VncEvent = EventsOf<typeof vncEvents>
