/** The redis honeypot's events (spec/honeypots.md §19). */
import { Schema } from "effect"
import { CredentialEventFields, defineEvents, type EventsOf, Sd } from "../runtime/index.js"

export const redisEvents = defineEvents("redis", {
  connect: {},
  /** One per command, up to a bound per connection; AUTH's arguments never appear here. */
  command: { cmd: Sd.Text, args: Sd.Json(Schema.Array(Schema.String)) },
  /** AUTH [user] secret. */
  auth: CredentialEventFields,
  /** `commands_suppressed`: commands past the per-connection event bound. */
  disconnect: { commands_suppressed: Sd.Int }
})

export type RedisEvent = EventsOf<typeof redisEvents>
