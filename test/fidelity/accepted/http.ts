import type { Accepted } from "../accepted.js"

// Debian's Apache 2.4 (apache2 2.4.71-1~deb12u1, a Debian-like configuration) against the http emulator,
// on Debian's default site (fake_app apache_default) and on an all-denied one (the default persona).
export const accepted: ReadonlyArray<Accepted> = []
