// Debian's vsftpd 3.0.3, standalone (listen=YES, background=NO) on a loopback address, with its own
// configuration in a temp folder: Debian's defaults (local users through PAM, write_enable=NO) plus
// anonymous logins into an empty anon_root, the persona the ftp emulator plays. Needs root (vsftpd
// checks its privileges at start); nothing under /etc is changed (pam_service_name=vsftpd is Debian's).
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { greets, spawnReal } from "./spawn.js"
import type { StartReal } from "./types.js"

export const VSFTPD = "/usr/sbin/vsftpd"

/**
 * The emulator's matching config: vsftpd 3.0.3's greeting, read-only (write_enable=NO), anonymous on
 * (the default) and every other login refused (no local account's password is known to a scanner).
 */
export const emulatorConfig: Record<string, unknown> = {
  banner: "220 (vsFTPd 3.0.3)",
  login_mode: "never",
  max_upload_bytes: 0
}
export const nmapExpect = /ftp\s+vsftpd 3\.0\.3/

export const start: StartReal = async ({ host, port }) => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-ftp-"))
  chmodSync(dir, 0o755)
  const empty = join(dir, "empty")
  const root = join(dir, "root")
  mkdirSync(empty, { mode: 0o755 })
  mkdirSync(root, { mode: 0o755 })
  const conf = join(dir, "vsftpd.conf")
  writeFileSync(
    conf,
    [
      "listen=YES",
      "listen_ipv6=NO",
      `listen_address=${host}`,
      `listen_port=${port}`,
      "background=NO",
      "anonymous_enable=YES",
      `anon_root=${root}`,
      "local_enable=YES",
      "write_enable=NO",
      `secure_chroot_dir=${empty}`,
      "pam_service_name=vsftpd",
      "xferlog_enable=NO",
      ""
    ].join("\n")
  )
  const { stop } = await spawnReal(dir, VSFTPD, [conf], {
    answers: () => greets(host, port, (g) => g.startsWith("220 ")),
    timeoutMs: 20_000,
    everyMs: 50,
    failure: () => `vsftpd did not answer on ${host}:${port}`
  })
  return { host, port, stop }
}
