import type { Accepted } from "../accepted.js"

// Debian's Apache 2.4 with mod_ssl and mod_http2 (Debian's ssl.conf defaults) against the https emulator
// on Debian's default site: nmap's port-443 probes on TCP, the http corpus inside TLS, and the TLS
// versions, suites and ALPN protocols each accepts.
export const accepted: ReadonlyArray<Accepted> = []
