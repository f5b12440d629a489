import type { Accepted } from "../accepted.js"

// rdp has no Debian counterpart (test/fidelity/nosrc.test.ts): its TLS, after the X.224 negotiation, is held
// to Windows Server 2019's documented Schannel defaults (tlsPersonas.ts), and differs only here.
export const accepted: ReadonlyArray<Accepted> = [
  {
    probe: "tls TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    reason:
      "Schannel enables TLS_RSA_WITH_3DES_EDE_CBC_SHA by default (TLS 1.0 to 1.2, last in its order); this " +
      "OpenSSL is built without 3DES suites (`openssl ciphers -stdname` lists none), so neither the emulator " +
      "nor a client here can negotiate it. A scanner with its own TLS stack offering it (testssl.sh, sslscan; " +
      "nmap 7.93's ssl-enum-ciphers does not reach RDP's TLS) gets a refusal where Windows accepts and is " +
      "reported for SWEET32"
  }
]
