// Debian's OpenLDAP slapd 2.5 as the ldap emulator's protocol-level reference (issue 14): `slapd -d 0` in
// the foreground on one loopback address, with a slapd.conf of its own in a temp folder (core/cosine
// schemas, an mdb database in the same folder for dc=corp,dc=local, no rootpw, anonymous reads of the
// rootDSE as on a fresh install, a self-signed certificate for StartTLS). The emulator claims an Active
// Directory DC, which Debian does not package: what differs by design (AD's 4-byte BER lengths, its
// rootDSE, its error texts) is normalised or listed in test/fidelity/accepted/ldap.ts, and the
// AD-specific bytes are checked against nmap's signatures instead.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
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

const answers = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

export const start: StartReal = async (options: RealServerOptions): Promise<RealServer> => {
  if (!existsSync(SLAPD)) throw new Error(`${SLAPD} is not installed`)
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-slapd-"))
  mkdirSync(join(dir, "db"))
  // A self-signed certificate, as the emulator has by default, so StartTLS is answered like on a DC.
  const cert = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${HOSTNAME}`].concat([
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem")
    ]),
    { stdio: "ignore" }
  )
  if (cert.status !== 0) throw new Error("openssl could not make slapd's certificate")
  writeFileSync(join(dir, "slapd.conf"), slapdConfig(dir))
  const host = options.host.includes(":") ? `[${options.host}]` : options.host
  const child = spawn(
    SLAPD,
    ["-d", "0", "-h", `ldap://${host}:${options.port}/`, "-f", join(dir, "slapd.conf")],
    {
      stdio: "ignore",
      detached: true
    }
  )
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()))
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // already gone
      }
      await gone
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const until = Date.now() + 15_000
  while (Date.now() < until) {
    if (child.exitCode !== null) break
    if (await answers(options.host, options.port)) return { host: options.host, port: options.port, stop }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error(`slapd did not answer on ${options.host}:${options.port}`)
}
