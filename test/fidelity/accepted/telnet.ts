import type { Accepted } from "../accepted.js"

// busybox telnetd 1.35 (Debian's busybox-static) with Debian 12's /bin/login and PAM, issue.net
// "Ubuntu 20.04.6 LTS", against the telnet emulator with the machine's hostname: every session of the
// corpus shows the same bytes, in the same order relative to what the client sent, and ends the same way.
export const accepted: ReadonlyArray<Accepted> = []
