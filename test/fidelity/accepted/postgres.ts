import type { Accepted } from "../accepted.js"

// PostgreSQL 15.20 (Debian bookworm) with md5 authentication, against the postgres emulator: every probe
// of the corpus answers the same bytes (the random MD5 salt aside) and ends the same way. With ssl = on,
// its TLS differs only in what its disabled session cache leaves for resumption.
export const accepted: ReadonlyArray<Accepted> = [
  {
    probe: "tls TLSv1.2 resumption",
    reason:
      "PostgreSQL turns OpenSSL's session cache off (SSL_SESS_CACHE_OFF), so its ServerHello carries an empty " +
      "session id; node:tls always runs a server cache (ids of 32 bytes) and has no option to turn it off. " +
      "Neither resumes a session (the emulator keeps no session), so a resumption test fails on both"
  },
  {
    probe: "tls TLSv1.3 resumption",
    reason:
      "For the same reason PostgreSQL sends no TLS 1.3 NewSessionTicket, and the emulator OpenSSL's two " +
      "stateful ones (SSL_OP_NO_TICKET is set: no RFC 5077 tickets), which no later handshake can use"
  }
]
