// The telnet emulator's persona is busybox telnetd in front of a PAM /bin/login on an Ubuntu 20.04 host:
// its reference is Debian's busybox telnetd (busybox-static) running Debian's /bin/login, standalone
// (-F) on a loopback address, with the persona's /etc/issue.net ("Ubuntu 20.04.6 LTS") from a temp
// folder (-f). login(1) uses the machine's own PAM stack and login.defs (pam_faildelay 3 s, LOGIN_RETRIES
// 5, LOGIN_TIMEOUT 60), which Ubuntu 20.04 shares. Needs root (login(1) authenticates through PAM).
import { mkdtempSync, writeFileSync } from "node:fs"
import { createConnection } from "node:net"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { spawnReal } from "./spawn.js"
import type { StartReal } from "./types.js"

export const BUSYBOX = "/bin/busybox"
export const LOGIN = "/bin/login"

/** The emulator's matching config: login(1) prompts with the machine's hostname. */
export const emulatorConfig: Record<string, unknown> = { hostname: hostname() }
export const nmapExpect = /telnet\s+BusyBox telnetd/

const prompts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    let seen = ""
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 2_000)
    s.on("data", (d: Buffer) => {
      seen += d.toString("latin1")
      if (seen.endsWith(" login: ")) {
        clearTimeout(timer)
        s.destroy()
        resolve(true)
      }
    })
    s.once("error", () => {
      clearTimeout(timer)
      resolve(false)
    })
  })

export const start: StartReal = async ({ host, port }) => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-telnet-"))
  const issue = join(dir, "issue.net")
  writeFileSync(issue, "Ubuntu 20.04.6 LTS\n")
  const { stop } = await spawnReal(
    dir,
    BUSYBOX,
    ["telnetd", "-F", "-p", String(port), "-b", host, "-f", issue, "-l", LOGIN],
    {
      answers: () => prompts(host, port),
      timeoutMs: 20_000,
      everyMs: 100,
      failure: () => `busybox telnetd did not prompt on ${host}:${port}`
    }
  )
  return { host, port, stop }
}
