import type { Accepted } from "../accepted.js"

// Postfix 3.7.11 (Debian bookworm) configured as a fresh Ubuntu install with STARTTLS and SMTP AUTH, against
// the smtp emulator in harvester mode.
export const accepted: ReadonlyArray<Accepted> = []
