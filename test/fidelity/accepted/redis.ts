import type { Accepted } from "../accepted.js"

// Redis 7.0.15 (Debian bookworm's redis-server) with requirepass, against the redis emulator with a password:
// every probe of the corpus answers the same bytes and ends the same way.
export const accepted: ReadonlyArray<Accepted> = []
