import type { Accepted } from "../accepted.js"

// Dovecot 2.3.19 imapd (Debian bookworm) against the imap emulator: every probe of the corpus answers the
// same bytes and ends the same way, unless listed here with the reason.
export const accepted: ReadonlyArray<Accepted> = []
