// Debian's Samba 4.17 smbd as the smb emulator's protocol-level reference (issue 14): `smbd -F` in the
// foreground, on one loopback address (bind interfaces only), with an smb.conf of its own in a temp folder
// (standalone server, every state/lock/cache/private/pid directory and the log in that folder; no nmbd).
// Both 445 and 139 are served when `port139` is given. The emulator claims a Windows Server 2019 host,
// which Debian does not package: where Windows and Samba differ by design the test lists the difference
// in test/fidelity/accepted/smb.ts, and the Windows bytes are checked against nmap's signatures and
// MS-SMB2 instead. Nothing under /etc/samba is read or written.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { listening } from "../probe.js"
import { spawnReal } from "./spawn.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const SMBD = "/usr/sbin/smbd"
/** The decky hostname the emulator gets, and Samba's netbios name. */
export const HOSTNAME = "fs01"
export const WORKGROUP = "CORP"

/** The emulator's --config. */
export const emulatorConfig: Record<string, unknown> = { domain: WORKGROUP }
/** What nmap -sV must print for the emulator: 445 as a Windows microsoft-ds, 139 as Windows netbios-ssn. */
export const nmapExpect = /microsoft-ds\s+Microsoft Windows/
export const nmapExpect139 = /netbios-ssn\s+Microsoft Windows netbios-ssn/

export interface SmbdOptions extends RealServerOptions {
  /** A second port served as NetBIOS session service (what 139 is). */
  readonly port139?: number
}

export const smbConfig = (dir: string, options: SmbdOptions): string =>
  [
    "[global]",
    `netbios name = ${HOSTNAME.toUpperCase()}`,
    `workgroup = ${WORKGROUP}`,
    "server role = standalone server",
    `smb ports = ${[options.port, ...(options.port139 === undefined ? [] : [options.port139])].join(" ")}`,
    // "ip/8" is how Samba takes an address of 127/8 that lo does not list on its own.
    `interfaces = ${options.host}/8`,
    "bind interfaces only = yes",
    "disable netbios = no",
    "load printers = no",
    "printing = bsd",
    "printcap name = /dev/null",
    "disable spoolss = yes",
    `private dir = ${dir}/private`,
    `lock directory = ${dir}/lock`,
    `state directory = ${dir}/state`,
    `cache directory = ${dir}/cache`,
    `pid directory = ${dir}/pid`,
    `ncalrpc dir = ${dir}/ncalrpc`,
    `binddns dir = ${dir}/binddns`,
    `log file = ${dir}/log.%m`,
    "log level = 0",
    "passdb backend = tdbsam",
    "map to guest = never",
    "",
    "[share]",
    `path = ${dir}/share`,
    "read only = yes",
    ""
  ].join("\n")

export const startSmbd = async (options: SmbdOptions): Promise<RealServer> => {
  if (!existsSync(SMBD)) throw new Error(`${SMBD} is not installed`)
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-smbd-"))
  for (const d of ["private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "share"])
    mkdirSync(join(dir, d))
  writeFileSync(join(dir, "smb.conf"), smbConfig(dir, options))
  // detached: its own process group (node calls setsid), so smbd must not try to make one itself.
  const ports = [options.port, ...(options.port139 === undefined ? [] : [options.port139])]
  const { stop } = await spawnReal(
    dir,
    SMBD,
    ["-F", "--no-process-group", "--debug-stdout", "-s", join(dir, "smb.conf")],
    {
      answers: async () => (await Promise.all(ports.map((p) => listening(options.host, p)))).every(Boolean),
      timeoutMs: 20_000,
      everyMs: 50,
      failure: () => `smbd did not answer on ${options.host}:${options.port}`
    }
  )
  return { host: options.host, port: options.port, stop }
}

export const start: StartReal = (options) => startSmbd(options)
