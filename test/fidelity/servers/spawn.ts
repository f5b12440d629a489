// What every real-server starter does around its own configuration: run the server detached (its own
// process group, node calls setsid), wait until it answers, and stop it by that process group only,
// removing its temp folder; plus the readiness checks and the self-signed certificate several share.
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { createConnection } from "node:net"
import { sleep } from "../../support/proc.js"

export interface Spawned {
  readonly child: ChildProcess
  /** SIGKILL the server's process group, wait for it to exit, and remove its temp folder. */
  readonly stop: () => Promise<void>
}

export interface ReadyOptions {
  /** True once the server answers as it should. */
  readonly answers: () => Promise<boolean>
  readonly timeoutMs: number
  /** The pause between two checks. */
  readonly everyMs: number
  /** The error's text when it never answers (read before the temp folder is removed). */
  readonly failure: () => string
}

/**
 * Spawn `file args` detached with stdio ignored (unless `options` say otherwise), then poll `answers`
 * until it holds. If the server exits first or `timeoutMs` passes, stop it and throw.
 */
export const spawnReal = async (
  dir: string,
  file: string,
  args: ReadonlyArray<string>,
  ready: ReadyOptions,
  options: SpawnOptions = {}
): Promise<Spawned> => {
  const child = spawn(file, [...args], { stdio: "ignore", ...options, detached: true })
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
  const until = Date.now() + ready.timeoutMs
  for (;;) {
    if (child.exitCode === null && (await ready.answers())) return { child, stop }
    if (child.exitCode !== null || Date.now() > until) {
      const text = ready.failure()
      await stop()
      throw new Error(text)
    }
    await sleep(ready.everyMs)
  }
}

/** Whether the first bytes host:port sends (its greeting) satisfy `ok`. */
export const greets = (host: string, port: number, ok: (greeting: string) => boolean) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.once("data", (d: Buffer) => {
      s.destroy()
      resolve(ok(d.toString("latin1")))
    })
    s.once("error", () => resolve(false))
  })

/** A self-signed RSA-2048 certificate for `subject` (`/CN=…`), valid `days` days; throws if openssl fails. */
export const selfSigned = (o: { key: string; cert: string; subject: string; days: number }): void => {
  const r = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(o.days), "-subj", o.subject].concat([
      "-keyout",
      o.key,
      "-out",
      o.cert
    ]),
    { stdio: "ignore" }
  )
  if (r.status !== 0) throw new Error(`openssl could not make the test certificate (${o.subject})`)
}
