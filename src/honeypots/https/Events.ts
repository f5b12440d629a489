/**
 * The https honeypot's events (spec/honeypots.md §4): http's, field for field, under its own slug.
 * No `http3_settings`: there is no QUIC in node 20, so nothing could emit it.
 */
import { webEventFields } from "../http/Events.js"
import { defineEvents, type EventsOf } from "../runtime/index.js"

export const httpsEvents = defineEvents("https", webEventFields)

export type HttpsEvent = EventsOf<typeof httpsEvents>
