/**
 * The TLS a persona's real server offers by default (issue 14): which protocol versions, which cipher
 * suites in which order, whose order wins, the key-exchange groups, the DHE group, session tickets. A
 * scanner (nmap ssl-enum-ciphers, testssl.sh) sees these before any byte of the protocol, so each emulator
 * names the profile of the server it claims to be and `serviceTls` turns it into one SecureContext at
 * start: no per-connection work. Figures measured against the real Debian 12 servers are checked by the
 * differential tests (test/fidelity/); the others come from the vendor's documentation or source, cited.
 */
import { constants } from "node:crypto"
import type * as tls from "node:tls"

export interface TlsProfile {
  /** Who this is, for logs and docs. */
  readonly name: string
  readonly minVersion: tls.SecureVersion
  readonly maxVersion: tls.SecureVersion
  /** TLS ≤ 1.2 suites in OpenSSL's cipher-string syntax (its order matters when `serverOrder`). */
  readonly ciphers: string
  /** TLS 1.3 suites, `:`-separated, in order; "" for OpenSSL's default three. */
  readonly tls13: string
  /** The server's order wins (SSL_OP_CIPHER_SERVER_PREFERENCE), else the client's. */
  readonly serverOrder: boolean
  /** Key-exchange groups in preference order (`SSL_CTX_set1_groups_list`), or "auto": OpenSSL's default. */
  readonly groups: string
  /** DHE parameters: "auto" (OpenSSL's choice for the key size: RFC 3526's 2048-bit group) or a PEM. */
  readonly dh: string
  /** RFC 5077 session tickets (TLS 1.2) and NewSessionTicket (TLS 1.3). */
  readonly tickets: boolean
  /** Session lifetime in seconds: the cache's, and the lifetime hint a ticket carries. */
  readonly sessionTimeout: number
}

/** RFC 7919's ffdhe2048, as `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048` writes it. */
const FFDHE2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`

/** Debian's /usr/share/dovecot/dh.pem (dovecot-core 2.3.19): RFC 3526's 4096-bit MODP group 16. */
const MODP4096 = `-----BEGIN DH PARAMETERS-----
MIICCAKCAgEA///////////JD9qiIWjCNMTGYouA3BzRKQJOCIpnzHQCC76mOxOb
IlFKCHmONATd75UZs806QxswKwpt8l8UN0/hNW1tUcJF5IW1dmJefsb0TELppjft
awv/XLb0Brft7jhr+1qJn6WunyQRfEsf5kkoZlHs5Fs9wgB8uKFjvwWY2kg2HFXT
mmkWP6j9JM9fg2VdI9yjrZYcYvNWIIVSu57VKQdwlpZtZww1Tkq8mATxdGwIyhgh
fDKQXkYuNs474553LBgOhgObJ4Oi7Aeij7XFXfBvTFLJ3ivL9pVYFxg5lUl86pVq
5RXSJhiY+gUQFXKOWoqqxC2tMxcNBFB6M6hVIavfHLpk7PuFBFjb7wqK6nFXXQYM
fbOXD4Wm4eTHq/WujNsJM9cejJTgSiVhnc7j0iYa0u5r8S/6BtmKCGTYdgJzPshq
ZFIfKxgXeyAMu+EXV3phXWx3CYjAutlG4gjiT6B05asxQ9tb/OD9EI5LgtEgqSEI
ARpyPBKnh+bXiHGaEL26WyaZwycYavTiPBqUaDS2FQvaJYPpyirUTOjbu8LbBN6O
+S6O/BQfvsqmKHxZR05rwF2ZspZPoJDDoiM7oYZRW+ftH2EpcM7i16+4G912IXBI
HNAGkSfVsFqpk7TqmI2P3cGG/7fckKbAj030Nck0BjGZ//////////8CAQI=
-----END DH PARAMETERS-----
`

/**
 * Debian 12's Apache 2.4 with mod_ssl: `SSLProtocol all -SSLv3` (OpenSSL 3 at its default security
 * level: TLS 1.2 and 1.3 in practice), `SSLCipherSuite HIGH:!aNULL`, the client's order
 * (`SSLHonorCipherOrder off`), `SSLSessionTickets off`, mod_ssl's 300 s session cache.
 */
const apache: TlsProfile = {
  name: "Apache 2.4 mod_ssl (Debian 12)",
  minVersion: "TLSv1",
  maxVersion: "TLSv1.3",
  ciphers: "HIGH:!aNULL",
  tls13: "",
  serverOrder: false,
  groups: "auto",
  dh: "auto",
  tickets: false,
  sessionTimeout: 300
}

/**
 * Debian 12's Postfix 3.7 smtpd, `smtpd_tls_security_level = may` (`postconf -d`): `smtpd_tls_protocols
 * >=TLSv1`, `smtpd_tls_ciphers = medium` (`tls_medium_cipherlist`, anonymous suites included, which
 * takes OpenSSL to security level 0), `tls_preempt_cipherlist = no` (the client's order),
 * `tls_eecdh_auto_curves`, its built-in 2048-bit DH group (RFC 3526's), one ticket with a 7200 s hint.
 * Measured against the real one: test/fidelity/smtp.test.ts.
 */
const postfix: TlsProfile = {
  name: "Postfix 3.7 smtpd (Debian 12)",
  minVersion: "TLSv1",
  maxVersion: "TLSv1.3",
  ciphers: "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=0",
  tls13: "",
  serverOrder: false,
  groups: "X25519:X448:P-256:P-521:P-384",
  dh: "auto",
  tickets: true,
  sessionTimeout: 7200
}

/**
 * Debian 12's Dovecot 2.3.19 (`doveconf -d`, conf.d/10-ssl.conf): `ssl_min_protocol = TLSv1.2`, its
 * `ssl_cipher_list`, `ssl_prefer_server_ciphers = no`, OpenSSL's default groups (`ssl_curve_list` empty),
 * `ssl_dh = </usr/share/dovecot/dh.pem`, OpenSSL's tickets (7200 s for TLS_server_method). Measured:
 * test/fidelity/imap.test.ts, pop3.test.ts.
 */
const dovecot: TlsProfile = {
  name: "Dovecot 2.3 (Debian 12)",
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.3",
  ciphers: "ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH",
  tls13: "",
  serverOrder: false,
  groups: "auto",
  dh: MODP4096,
  tickets: true,
  sessionTimeout: 7200
}

/**
 * PostgreSQL 15 (Debian 12's postgresql.conf: `ssl = on`): `ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'`,
 * `ssl_prefer_server_ciphers = on`, `ssl_ecdh_curve = 'prime256v1'` (the only group),
 * `ssl_min_protocol_version = 'TLSv1.2'`, the built-in 2048-bit DH group, no tickets and no session
 * cache (be-secure-openssl.c sets SSL_OP_NO_TICKET). Measured: test/fidelity/postgres.test.ts.
 */
const postgres: TlsProfile = {
  name: "PostgreSQL 15",
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.3",
  ciphers: "HIGH:MEDIUM:+3DES:!aNULL",
  tls13: "",
  serverOrder: true,
  groups: "P-256",
  dh: "auto",
  tickets: false,
  sessionTimeout: 300
}

/**
 * MySQL 8.0 (no Debian package to measure): `tls_version` TLSv1.2,TLSv1.3 from 8.0.28 (MySQL 8.0 manual,
 * "Encrypted Connection TLS Protocols and Ciphers", table 8.14); the TLS 1.2 list after the blocked
 * categories is the manual's default cipher list, in mysql-server's include/tls_ciphers.h order
 * (`default_tls12_ciphers`), and `default_tls13_ciphers` for TLS 1.3; vio/viosslfactories.cc (8.0) leaves
 * the order to the client, sets OpenSSL's automatic curves (dh_ecdh_config.h `set_ecdh`) and RFC 7919's
 * ffdhe2048 at security level ≤ 2 (`set_dh`); tickets with `ssl_session_cache_mode` ON and
 * `ssl_session_cache_timeout` 300 (the defaults).
 */
const mysql: TlsProfile = {
  name: "MySQL 8.0",
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.3",
  ciphers: [
    "!aNULL:!eNULL:!EXPORT:!LOW:!MD5:!DES:!3DES:!RC2:!RC4:!PSK",
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-AES128-CCM:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-AES256-CCM:DHE-RSA-AES128-CCM:DHE-RSA-CHACHA20-POLY1305"
  ].join(":"),
  tls13: "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256",
  serverOrder: false,
  groups: "auto",
  dh: FFDHE2048,
  tickets: true,
  sessionTimeout: 300
}

/**
 * Windows Server 2019's Schannel (build 17763, the Windows personas' release), for LDAPS and RDP: TLS
 * 1.0 to 1.2 (no TLS 1.3 before Server 2022), the default suites in their priority order ("TLS Cipher
 * Suites in Windows 10 v1809", learn.microsoft.com), those an RSA certificate can use, in OpenSSL's
 * names; the server's order; the default curve order curve25519, NistP256, NistP384; no RFC 5077 tickets
 * (Schannel issues them only with a configured ticket key, Enable-TlsSessionTicketKey); the 10-hour
 * session cache (ServerCacheTime). TLS 1.0 and 1.1 sign with SHA-1, hence OpenSSL's security level 0.
 */
const schannel: TlsProfile = {
  name: "Windows Server 2019 Schannel",
  minVersion: "TLSv1",
  maxVersion: "TLSv1.2",
  ciphers: [
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-SHA256",
    "AES128-SHA256",
    "AES256-SHA",
    "AES128-SHA",
    // Last in Schannel's order; OpenSSL 3 builds without weak ciphers (Node's, Debian's) have no 3DES
    // suite, so this one name matches nothing there (test/fidelity/accepted/ldap.ts, rdp.ts).
    "DES-CBC3-SHA",
    "@SECLEVEL=0"
  ].join(":"),
  tls13: "",
  serverOrder: true,
  groups: "X25519:P-256:P-384",
  dh: "auto",
  tickets: false,
  sessionTimeout: 36_000
}

/** The profiles by persona; each emulator names one. */
export const TlsProfiles = { apache, postfix, dovecot, postgres, mysql, schannel } as const

/** The `tls.createSecureContext` options of a profile, for a certificate pair. */
export const profileContextOptions = (
  profile: TlsProfile,
  pair: { readonly cert: string; readonly key: string }
): tls.SecureContextOptions => ({
  cert: pair.cert,
  key: pair.key,
  minVersion: profile.minVersion,
  maxVersion: profile.maxVersion,
  // node:tls takes the TLS 1.3 suites (TLS_*) from the same string.
  ciphers: profile.tls13 === "" ? profile.ciphers : `${profile.tls13}:${profile.ciphers}`,
  honorCipherOrder: profile.serverOrder,
  ...(profile.groups === "auto" ? {} : { ecdhCurve: profile.groups }),
  dhparam: profile.dh,
  ...(profile.tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
  sessionTimeout: profile.sessionTimeout
})
