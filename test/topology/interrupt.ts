// A deploy or teardown left unfinished by a real process: deployer.ts started on a topology, returned once
// the status and its owner are in the database, for the caller to SIGKILL (`kill`) or to keep running (an
// owner that is still alive). Used by recovery.test.ts and the CLI's interrupted-operation tests.
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Backend } from "../db/backends.js"

const SCRIPT = fileURLToPath(new URL("./deployer.ts", import.meta.url))

export interface DbTarget {
  readonly kind: "sqlite" | "mysql"
  /** The SQLite file or the MariaDB URL. */
  readonly target: string
}

export const backendTarget = (backend: Backend): DbTarget => ({
  kind: backend.name === "sqlite" ? "sqlite" : "mysql",
  target: backend.url
})

export const startDeployer = async (
  db: DbTarget,
  topologyId: string,
  operation: "deploy" | "teardown",
  runtime: "docker" | "in-process",
  owner = "decnet up"
): Promise<{ readonly child: ChildProcess; readonly kill: () => Promise<void> }> => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", SCRIPT, db.kind, db.target, topologyId, operation, owner, runtime],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  let out = ""
  let err = ""
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await exited
  }
  for (let i = 0; i < 1200 && !out.includes("started\n") && child.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 25))
  if (!out.includes("started\n")) {
    await kill()
    throw new Error(`deployer.ts did not start its ${operation}: ${err}`)
  }
  return { child, kill }
}
