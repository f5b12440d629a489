/** The mongodb honeypot's events (spec/honeypots.md §18). */
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const mongodbEvents = defineEvents("mongodb", {
  connect: {},
  /** One per wire message read (at most 256 per connection). */
  message: { opcode: Sd.Int, length: Sd.Int },
  /** saslStart (or a speculative one in hello): the mechanism and the user of client-first. */
  auth_start: { mechanism: Sd.Text, username: Sd.Text },
  /**
   * saslContinue carrying the ClientProof (`secret_printable` and `secret_b64`: the proof, base64 as
   * sent), with the salt (base64), iterations and AuthMessage needed to test a password against it.
   */
  auth: {
    username: Sd.Text,
    ...CredentialEventFields,
    secret_kind: Sd.Literal("scram_sha256", "scram_sha1", "scram_unknown"),
    mechanism: Sd.Text,
    salt: Sd.Text,
    iterations: Sd.Int,
    auth_message: Sd.Text
  },
  disconnect: {}
})

export type MongodbEvent = EventsOf<typeof mongodbEvents>
