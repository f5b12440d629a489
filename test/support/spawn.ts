/**
 * Run a child process to completion without blocking the test worker's event loop.
 *
 * `spawnSync` freezes the worker for the child's whole run. A test that runs several CLI children
 * in a row can block it for a minute on a loaded 2-vCPU machine, and vitest then fails the run
 * with `Timeout calling "onTaskUpdate"` even though every assertion passed. The result has the
 * same shape as spawnSync's (`status` null and `signal` set when the child was killed).
 */
import { spawn } from "node:child_process"

export interface SpawnResult {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Written to stdin, which is then closed (stdin is closed at once without it). */
  readonly input?: string
  /** SIGKILL after this many ms (default 60 s). */
  readonly timeout?: number
}

export const spawnAsync = (
  file: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {}
): Promise<SpawnResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { env: options.env ?? process.env, cwd: options.cwd })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
    })
    child.stdin.on("error", () => {})
    child.stdin.end(options.input)
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 60_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr })
    })
  })
