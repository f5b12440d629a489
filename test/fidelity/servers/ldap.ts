// Debian's OpenLDAP slapd 2.5 as the ldap emulator's protocol-level reference (issue 14): `slapd -d 0` in
// the foreground on one loopback address, with a slapd.conf of its own in a temp folder (core/cosine
// schemas, an mdb database in the same folder for dc=corp,dc=local, no rootpw, anonymous reads of the
// rootDSE as on a fresh install, a self-signed certificate for StartTLS). The emulator claims an Active
// Directory DC, which Debian does not package: what differs by design (AD's 4-byte BER lengths, its
// rootDSE, its error texts) is normalised or listed in test/fidelity/accepted/ldap.ts, and the
// AD-specific bytes are checked against nmap's signatures instead.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { listening } from "../probe.js"
import { selfSigned, spawnReal } from "./spawn.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const SLAPD = "/usr/sbin/slapd"
export const MODULES = "/usr/lib/ldap"
export const SCHEMA = "/etc/ldap/schema"
/** The AD domain both sides serve, and the decky hostname the emulator gets. */
export const DOMAIN = "corp.local"
export const HOSTNAME = "dc01.corp.local"

/** The emulator's --config (the domain comes from the decky hostname). */
export const emulatorConfig: Record<string, unknown> = { domain: DOMAIN }
/** What nmap -sV must print for the emulator on 389: AD, with the domain and site of a real DC. */
export const nmapExpect =
  /ldap\s+Microsoft Windows Active Directory LDAP \(Domain: corp\.local, Site: Default-First-Site-Name\)/

export const slapdConfig = (dir: string): string =>
  [
    `include ${SCHEMA}/core.schema`,
    `include ${SCHEMA}/cosine.schema`,
    `pidfile ${dir}/slapd.pid`,
    `argsfile ${dir}/slapd.args`,
    `modulepath ${MODULES}`,
    `TLSCertificateFile ${dir}/cert.pem`,
    `TLSCertificateKeyFile ${dir}/key.pem`,
    "moduleload back_mdb",
    "database mdb",
    "maxsize 16777216",
    "suffix dc=corp,dc=local",
    "rootdn cn=admin,dc=corp,dc=local",
    `directory ${dir}/db`,
    ""
  ].join("\n")

export const start: StartReal = async (options: RealServerOptions): Promise<RealServer> => {
  if (!existsSync(SLAPD)) throw new Error(`${SLAPD} is not installed`)
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-slapd-"))
  mkdirSync(join(dir, "db"))
  // A self-signed certificate, as the emulator has by default, so StartTLS is answered like on a DC.
  selfSigned({ key: join(dir, "key.pem"), cert: join(dir, "cert.pem"), subject: `/CN=${HOSTNAME}`, days: 2 })
  writeFileSync(join(dir, "slapd.conf"), slapdConfig(dir))
  const host = options.host.includes(":") ? `[${options.host}]` : options.host
  const { stop } = await spawnReal(
    dir,
    SLAPD,
    ["-d", "0", "-h", `ldap://${host}:${options.port}/`, "-f", join(dir, "slapd.conf")],
    {
      answers: () => listening(options.host, options.port),
      timeoutMs: 15_000,
      everyMs: 50,
      failure: () => `slapd did not answer on ${options.host}:${options.port}`
    }
  )
  return { host: options.host, port: options.port, stop }
}
