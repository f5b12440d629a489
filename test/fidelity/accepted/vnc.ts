import type { Accepted } from "../accepted.js"

// TigerVNC 1.12 (Debian bookworm's Xtigervnc, -SecurityTypes VncAuth) against the vnc emulator: every probe
// of the corpus answers the same bytes (the random challenge masked) and ends the same way.
export const accepted: ReadonlyArray<Accepted> = []
