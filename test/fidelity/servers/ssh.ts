// Debian's sshd (openssh-server 1:9.2p1-2+deb12u10), on loopback with its own sshd_config and host keys
// (RSA-3072, ECDSA P-256, Ed25519, as a fresh install generates them) in a temp folder.
//
// sshd started as root insists on its privilege-separation folder /run/sshd, which belongs to the
// machine's own (never started) ssh service; so as root it runs as `nobody`, keeping only the right to
// bind a low port. Nothing a client sees before authentication depends on that. `UsePAM no` (Debian's
// default is yes): PAM only acts once a password is checked, which the comparison never does on the real
// side. KbdInteractiveAuthentication no as in Debian's sshd_config.
import { spawnSync } from "node:child_process"
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { greets, spawnReal } from "./spawn.js"
import type { StartReal } from "./types.js"

export const SSHD = "/usr/sbin/sshd"
export const SSH_KEYGEN = "/usr/bin/ssh-keygen"

/** The persona that claims this sshd. */
export const emulatorConfig: Record<string, unknown> = {
  version: "OpenSSH_9.2p1 Debian-2+deb12u10",
  keyboard_interactive: false
}

/** What nmap -sV must show for the emulator: the product and version the real one gets. */
export const nmapExpect = /OpenSSH 9\.2p1 Debian 2\+deb12u10/

const HOST_KEYS = [
  ["ssh_host_rsa_key", "rsa", "3072"],
  ["ssh_host_ecdsa_key", "ecdsa", "256"],
  ["ssh_host_ed25519_key", "ed25519", "256"]
] as const

export const start: StartReal = async ({ host, port }) => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-ssh-"))
  for (const [file, type, bits] of HOST_KEYS) {
    const r = spawnSync(SSH_KEYGEN, ["-q", "-t", type, "-b", bits, "-N", "", "-C", "", "-f", join(dir, file)])
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`ssh-keygen ${type}: ${r.stderr}`)
    }
  }
  const config = join(dir, "sshd_config")
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      ...HOST_KEYS.map(([file]) => `HostKey ${join(dir, file)}`),
      `PidFile ${join(dir, "sshd.pid")}`,
      "UsePAM no",
      "KbdInteractiveAuthentication no",
      "X11Forwarding yes",
      "PrintMotd no",
      "AcceptEnv LANG LC_*",
      "Subsystem sftp /usr/lib/openssh/sftp-server",
      ""
    ].join("\n")
  )
  const root = process.getuid?.() === 0
  if (root) {
    // nobody must own what sshd reads (it refuses host keys others can read, and a config others can write)
    const nobody = 65534
    chownSync(dir, nobody, nobody)
    for (const f of readdirSync(dir)) chownSync(join(dir, f), nobody, nobody)
  }
  chmodSync(dir, 0o700)
  const argv = [SSHD, "-D", "-e", "-f", config]
  const privileges = [
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "--inh-caps=+net_bind_service",
    "--ambient-caps=+net_bind_service"
  ]
  const { stop } = await spawnReal(
    dir,
    root ? "setpriv" : SSHD,
    root ? [...privileges, ...argv] : argv.slice(1),
    {
      answers: () => greets(host, port, (g) => g.startsWith("SSH-2.0-")),
      timeoutMs: 20_000,
      everyMs: 50,
      failure: () => `sshd did not answer on ${host}:${port}`
    }
  )
  return { host, port, stop }
}
