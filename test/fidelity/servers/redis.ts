// Debian's redis-server, on loopback with a password (requirepass), its working folder in a temp dir.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { waitUntil } from "../../support/proc.js"
import type { StartReal } from "./types.js"

export const REDIS = "/usr/bin/redis-server"
export const PASSWORD = "fidelity-s3cret"

/** The emulator is given the same password. */
export const emulatorConfig: Record<string, unknown> = { password: PASSWORD }

const answersPing = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.once("data", () => {
      s.destroy()
      resolve(true)
    })
    s.once("connect", () => s.write("PING\r\n"))
    s.once("error", () => resolve(false))
  })

export const start: StartReal = async ({ host, port }) => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-redis-"))
  const child = spawn(
    REDIS,
    [
      "--port",
      String(port),
      "--bind",
      host,
      "--save",
      "",
      "--appendonly",
      "no",
      "--requirepass",
      PASSWORD
    ].concat(["--dir", dir, "--daemonize", "no", "--protected-mode", "no"]),
    { stdio: "ignore", detached: true }
  )
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r))
      process.kill(-child.pid, "SIGKILL")
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  if ((await waitUntil(() => answersPing(host, port), 20_000, 50)) !== true) {
    await stop()
    throw new Error(`redis-server did not answer on ${host}:${port}`)
  }
  return { host, port, stop }
}
