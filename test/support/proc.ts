/**
 * Long-running CLI children for end-to-end tests: each in its own process group (so `stopAll` takes
 * the whole group down, even when a test fails halfway), with its output collected as it arrives.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { DECNET } from "./cli.js"

export interface Proc {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Signal the child's whole process group. */
  readonly signal: (sig: NodeJS.Signals) => void
}

const started = new Set<Proc>()

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Poll `check` every `everyMs` until it holds or `timeoutMs` passes; returns its last answer. */
export const waitUntil = async <A>(
  check: () => A | undefined | false | Promise<A | undefined | false>,
  timeoutMs: number,
  everyMs = 20
): Promise<A | undefined | false> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() >= until) return v
    await sleep(everyMs)
  }
}

/** Start `decnet <args>` (the built bundle) detached, in its own process group. */
export const decnet = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Proc =>
  spawnProc(process.execPath, [...DECNET, ...args], env)

export const spawnProc = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Proc => {
  const child = spawn(file, [...args], { env, stdio: ["ignore", "pipe", "pipe"], detached: true })
  let out = ""
  let err = ""
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d
  })
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d
  })
  const proc: Proc = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    signal: (sig) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      try {
        process.kill(-child.pid, sig)
      } catch {
        // the group is gone
      }
    }
  }
  started.add(proc)
  void proc.exited.then(() => started.delete(proc))
  return proc
}

/** SIGKILL every child group still running (afterEach/afterAll). */
export const stopAll = async (): Promise<void> => {
  const left = [...started]
  for (const p of left) p.signal("SIGKILL")
  await Promise.all(left.map((p) => p.exited))
}

/** The environment of a child with no DECNET_* of the test runner's own, plus `extra`. */
export const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("DECNET_")) env[k] = v
  return { ...env, ...extra }
}
