// The TLS defaults of the servers no Debian package brings here (issue 14), written from their vendors'
// documentation and source, for the emulators that claim them: MySQL 8.0 (mysql) and Windows Server 2019's
// Schannel (ldap's LDAPS, rdp). Each test scans its emulator (tlsScan.ts) and compares the result with
// what these tables imply for an RSA certificate. A documented suite the local OpenSSL cannot negotiate is
// an accepted difference (accepted/<service>.ts, probe `tls <IANA name>`), checked to be unofferable.
import type { TlsSurface } from "./tlsScan.js"
import { offerableSuites, surfaceFacts } from "./tlsScan.js"

type Version = "TLSv1" | "TLSv1.1" | "TLSv1.2"

export interface DocumentedTls {
  readonly name: string
  readonly source: string
  /** The TLS ≤ 1.2 suites enabled by default (IANA names), in priority order, each with its versions. */
  readonly suites: ReadonlyArray<readonly [string, ReadonlyArray<Version>]>
  /** TLS 1.3 suites enabled by default; [] when the release has no TLS 1.3. */
  readonly tls13: ReadonlyArray<string>
  readonly order: "server" | "client"
  /** The groups a TLS 1.2 ECDHE handshake can use, as tlsScan names them. */
  readonly groups: ReadonlyArray<string>
  /** tlsScan's "TLSv1.2 resumption" fact. */
  readonly resumption: string
}

const TLS12: ReadonlyArray<Version> = ["TLSv1.2"]
const ALL: ReadonlyArray<Version> = ["TLSv1", "TLSv1.1", "TLSv1.2"]

/**
 * "TLS Cipher Suites in Windows 10 v1809" (learn.microsoft.com, MicrosoftDocs/win32
 * desktop-src/SecAuthN/tls-cipher-suites-in-windows-10-v1809.md; Windows Server 2019 is build 17763, v1809):
 * the suites enabled by default, in priority order, with their protocol versions (the two NULL suites are
 * "only used when application explicitly requests", so not listed). Curves: "TLS Elliptic Curves in
 * Windows 10 version 1607 and later" (curve25519, NistP256, NistP384). TLS 1.3 came with Server 2022.
 */
export const SCHANNEL_2019: DocumentedTls = {
  name: "Windows Server 2019 Schannel",
  source:
    "learn.microsoft.com: TLS Cipher Suites in Windows 10 v1809; TLS Elliptic Curves in Windows 10 1607+",
  suites: [
    ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", ALL],
    ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", ALL],
    ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", ALL],
    ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", ALL],
    ["TLS_RSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_RSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_RSA_WITH_AES_256_CBC_SHA256", TLS12],
    ["TLS_RSA_WITH_AES_128_CBC_SHA256", TLS12],
    ["TLS_RSA_WITH_AES_256_CBC_SHA", ALL],
    ["TLS_RSA_WITH_AES_128_CBC_SHA", ALL],
    ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", ALL]
  ],
  tls13: [],
  order: "server",
  groups: ["X25519", "P-256", "P-384"],
  // Schannel caches sessions by id; it issues RFC 5077 tickets only with a ticket key an administrator
  // configures (New-TlsSessionTicketKey / Enable-TlsSessionTicketKey).
  resumption: "no ticket, session id of 32 bytes"
}

/**
 * MySQL 8.0 (8.0.35 and later, the default persona's releases): the MySQL 8.0 Reference Manual, "Encrypted
 * Connection TLS Protocols and Ciphers" (TLSv1.2,TLSv1.3 from 8.0.28; "MySQL passes the following default
 * cipher list"), in mysql-server's include/tls_ciphers.h order (`default_tls12_ciphers`,
 * `default_tls13_ciphers`); vio/viosslfactories.cc (8.0) sets no server preference, OpenSSL's automatic
 * curves (include/dh_ecdh_config.h), and keeps tickets (`ssl_session_cache_mode` ON, timeout 300 s).
 */
export const MYSQL_80: DocumentedTls = {
  name: "MySQL 8.0",
  source: "MySQL 8.0 manual §8.3.2; mysql-server include/tls_ciphers.h, vio/viosslfactories.cc",
  suites: [
    ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TLS12],
    ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_256_CCM", TLS12],
    ["TLS_ECDHE_ECDSA_WITH_AES_128_CCM", TLS12],
    ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS12],
    ["TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", TLS12],
    ["TLS_DHE_RSA_WITH_AES_256_CCM", TLS12],
    ["TLS_DHE_RSA_WITH_AES_128_CCM", TLS12],
    ["TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS12]
  ],
  tls13: [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256"
  ],
  order: "client",
  groups: ["X25519", "X448", "P-256", "P-384", "P-521"],
  resumption: "1 ticket(s), lifetime hint 300 s"
}

/**
 * Where the emulator's scan differs from what the document implies for an RSA certificate (ECDSA suites
 * need an ECDSA one), apart from accepted suites (probe `tls <IANA name>`), which must be ones this
 * OpenSSL cannot offer. One line per difference.
 */
export const documentedDifferences = (
  scan: TlsSurface,
  doc: DocumentedTls,
  accepted: ReadonlyArray<{ readonly probe: string }>
): Array<string> => {
  const skipped = new Set(accepted.map((a) => a.probe))
  const offerable = offerableSuites()
  const out = doc.suites
    .filter(([suite]) => skipped.has(`tls ${suite}`) && offerable.has(suite))
    .map(([suite]) => `${suite} is accepted as unofferable, but this OpenSSL offers it`)
  const usable = doc.suites.filter(([suite]) => !suite.includes("_ECDSA_") && !skipped.has(`tls ${suite}`))
  const versions = (["TLSv1", "TLSv1.1", "TLSv1.2"] as const).filter((v) =>
    usable.some(([, vs]) => vs.includes(v))
  )
  const listed = (suites: ReadonlyArray<string>) => {
    const ordered = doc.order === "server" ? [...suites] : [...suites].sort()
    return `${doc.order} order, ${ordered.length}: ${ordered.join(" ")}`
  }
  const expected = new Map<string, string>([
    ["versions", [...versions, ...(doc.tls13.length > 0 ? ["TLSv1.3"] : [])].join(" ")],
    ...versions.map((v): [string, string] => [
      `${v} suites`,
      listed(usable.filter(([, vs]) => vs.includes(v)).map(([suite]) => suite))
    ]),
    ...(doc.tls13.length > 0 ? [["TLSv1.3 suites", listed(doc.tls13)] as [string, string]] : []),
    ["TLSv1.2 groups", doc.groups.join(" ")],
    ["TLSv1.2 resumption", doc.resumption]
  ])
  const seen = surfaceFacts(scan)
  for (const [fact, value] of expected)
    if (seen.get(fact) !== value)
      out.push(`${fact}\n  ${doc.name} (documented): ${value}\n  emulator: ${seen.get(fact) ?? "(none)"}`)
  return out
}
