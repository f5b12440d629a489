import type { Accepted } from "../accepted.js"

// PostgreSQL 15.20 (Debian bookworm) with md5 authentication, against the postgres emulator: every probe
// of the corpus answers the same bytes (the random MD5 salt aside) and ends the same way.
export const accepted: ReadonlyArray<Accepted> = []
