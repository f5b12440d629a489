import type { Accepted } from "../accepted.js"

// OpenLDAP slapd 2.5 (Debian bookworm) with an empty dc=corp,dc=local database, against the ldap emulator's
// Active Directory DC (Windows Server 2019). Replies are compared as (message id, protocolOp, resultCode,
// responseName) after AD's 4-byte lengths, rootDSE contents and diagnostic texts are set aside; these are
// the answers where AD and OpenLDAP differ by design.
export const accepted: ReadonlyArray<Accepted> = [
  {
    probe: "LDAPBindReq",
    reason:
      "nmap's probe is an LDAPv2 anonymous bind: slapd refuses v2 unless `allow bind_v2` (protocolError), AD lists supportedLDAPVersion 2 and binds (success); nmap matches both"
  },
  {
    probe: "anonymous bind v2",
    reason: "the same: AD accepts LDAPv2 binds, slapd's default refuses them"
  },
  {
    probe: "simple bind, UPN",
    reason:
      "OpenLDAP needs a DN (invalidDNSyntax 34); AD resolves UPNs and DOMAIN\\user in a simple bind (MS-ADTS §5.1.1.1.1), so a wrong password is invalidCredentials 49, data 52e"
  },
  {
    probe: "simple bind, DN without password",
    reason:
      "an unauthenticated bind (RFC 4513 §5.1.2): slapd refuses it (unwillingToPerform 53); AD treats it as anonymous and answers success unless dsHeuristics' DenyUnauthenticatedBind is set (off by default)"
  },
  {
    probe: "SASL bind GSSAPI",
    reason:
      "this slapd has no SASL mechanisms (authMethodNotSupported 7); a DC advertises GSSAPI and refuses the empty token with invalidCredentials 49"
  },
  {
    probe: "subtree search before bind",
    reason:
      "slapd lets anonymous clients read (noSuchObject 32 on the empty tree); AD refuses every anonymous operation below the rootDSE with operationsError 1, 000004DC (since Windows Server 2003)"
  },
  {
    probe: "delete before bind",
    reason:
      'slapd: strongerAuthRequired 8 ("modifications require authentication"); AD: operationsError 1, 000004DC, as for every operation before a bind'
  },
  {
    probe: "StartTLS",
    reason:
      "both answer success; AD names the operation in the response (responseName 1.3.6.1.4.1.1466.20037, as RFC 2830 required), slapd leaves it out (allowed by RFC 4511 §4.12)"
  },
  {
    probe: "two binds pipelined",
    reason:
      "slapd abandons a bind still in progress when the next bind arrives (RFC 4511 §4.2.1) and answers only the second; AD completes and answers both"
  },
  {
    // LDAPS (636) against Windows Server 2019's documented Schannel defaults (tlsPersonas.ts).
    probe: "tls TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    reason:
      "Schannel enables TLS_RSA_WITH_3DES_EDE_CBC_SHA by default (TLS 1.0 to 1.2, last in its order); this " +
      "OpenSSL is built without 3DES suites (`openssl ciphers -stdname` lists none), so neither the emulator " +
      "nor a client here can negotiate it. A scanner with its own TLS stack offering it gets a refusal where " +
      "Windows accepts: nmap's ssl-enum-ciphers lists it for Windows, with the SWEET32 warning and least " +
      "strength C, and not for the emulator (least strength A)"
  }
]
