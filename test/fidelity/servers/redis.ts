// Debian's redis-server, on loopback with a password (requirepass), its working folder in a temp dir.
import { mkdtempSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { spawnReal } from "./spawn.js"
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
  const { stop } = await spawnReal(
    dir,
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
    {
      answers: () => answersPing(host, port),
      timeoutMs: 20_000,
      everyMs: 50,
      failure: () => `redis-server did not answer on ${host}:${port}`
    }
  )
  return { host, port, stop }
}
