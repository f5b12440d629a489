/**
 * The Ubuntu persona a login lands in (spec/honeypots.md §1 ssh = 22.04, §2 telnet = 20.04) and its
 * motd.
 */
import type { HoneypotContextService } from "../runtime/index.js"
import type { ShellPersona } from "./Shell.js"

export type UbuntuRelease = "22.04" | "20.04"

const RELEASES = {
  "22.04": {
    issue: "Ubuntu 22.04.3 LTS",
    kernel: "5.15.0-88-generic",
    build: "#98-Ubuntu SMP Mon Oct 2 15:18:56 UTC 2023"
  },
  "20.04": {
    issue: "Ubuntu 20.04.6 LTS",
    kernel: "5.4.0-150-generic",
    build: "#167-Ubuntu SMP Mon May 15 17:35:05 UTC 2023"
  }
} as const

const CPUS = [
  "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
  "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
  "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"
] as const

export const shellPersona = (
  ctx: HoneypotContextService,
  options: { release: UbuntuRelease; hostname: string; localIp: string; srcIp: string }
): ShellPersona => {
  const r = RELEASES[options.release]
  // A fresh seeded draw per call would drift; hash-derived picks stay stable per decky.
  const cpu = CPUS[ctx.seed.bytes(1, "shell-cpu")[0]! % CPUS.length]!
  return {
    hostname: options.hostname,
    user: "root",
    issue: r.issue,
    kernel: r.kernel,
    kernelBuild: r.build,
    cpuModel: cpu,
    localIp: options.localIp === "" || options.localIp === "::1" ? "127.0.0.1" : options.localIp,
    srcIp: options.srcIp,
    uptimeSeconds: () => ctx.seed.uptimeSeconds(),
    planted: ctx.plantedFiles
  }
}

/** The motd pam_motd prints on Ubuntu, with the last-login line sshd adds. */
export const motd = (release: UbuntuRelease, localIp: string): string => {
  const r = RELEASES[release]
  const last = new Date(Date.now() - 86_400_000 * 2 - 3_600_000 * 5)
  const stamp = last.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, "$1 $3 $2 $5 $4")
  return `Welcome to ${r.issue} (GNU/Linux ${r.kernel} x86_64)

 * Documentation:  https://help.ubuntu.com
 * Management:     https://landscape.canonical.com
 * Support:        https://ubuntu.com/advantage

  System information as of ${new Date().toUTCString().replace("GMT", "UTC")}

  System load:  0.08               Processes:             131
  Usage of /:   33.1% of 38.58GB   Users logged in:       0
  Memory usage: 25%                IPv4 address for eth0: ${localIp}

Expanded Security Maintenance for Applications is not enabled.

0 updates can be applied immediately.

Last login: ${stamp} from 10.0.0.12
`
}

export const releaseInfo = (release: UbuntuRelease) => RELEASES[release]
