import type { Accepted } from "../accepted.js"

// Dovecot 2.3.19 pop3d (Debian bookworm) against the pop3 emulator: every probe of the corpus answers the
// same bytes and ends the same way, unless listed here with the reason.
export const accepted: ReadonlyArray<Accepted> = []
