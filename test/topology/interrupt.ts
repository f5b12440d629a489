// A deploy or teardown left unfinished by a real process: deployer.ts started on a topology, returned once
// the status and its owner are in the database, for the caller to SIGKILL (`kill`) or to keep running (an
// owner that is still alive). Used by recovery.test.ts and the CLI's interrupted-operation tests.
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Backend } from "../db/backends.js"
import { spawnProc, waitUntil } from "../support/proc.js"

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
  const proc = spawnProc(
    process.execPath,
    ["--import", "tsx", SCRIPT, db.kind, db.target, topologyId, operation, owner, runtime],
    process.env
  )
  const kill = async () => {
    proc.signal("SIGKILL")
    await proc.exited
  }
  const started = await waitUntil(
    () => proc.stdout().includes("started\n") || (proc.child.exitCode !== null ? false : undefined),
    30_000,
    25
  )
  if (started !== true) {
    await kill()
    throw new Error(`deployer.ts did not start its ${operation}: ${proc.stderr()}`)
  }
  return { child: proc.child, kill }
}
