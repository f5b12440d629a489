// `decnet up` and the fleet CLI as child processes: start `up --json` and read its ready line, find a
// decky's endpoint, read the live SQLite database as another process would, touch redis with redis-cli.
import { execFile } from "node:child_process"
import { createConnection } from "node:net"
import { promisify } from "node:util"
import Database from "better-sqlite3"
import { DECNET } from "../support/cli.js"
import { decnet, type Proc, waitUntil } from "../support/proc.js"
import { spawnAsync } from "../support/spawn.js"

export const run = promisify(execFile)

export interface Endpoint {
  readonly service: string
  readonly port: number
  readonly proto: string
  readonly address: string
}
export interface Ready {
  readonly ready: true
  readonly db: string
  readonly bus: string
  readonly log: string
  readonly resumed: boolean
  readonly deckies: ReadonlyArray<{
    readonly name: string
    readonly ip: string
    readonly archetype: string | null
    readonly services: ReadonlyArray<Endpoint>
  }>
}

export const isReady = (v: unknown): v is Ready => typeof v === "object" && v !== null && "ready" in v

export const readyOf = (p: Proc): Ready | undefined => {
  const line = p.stdout().split("\n")[0] ?? ""
  if (!line.endsWith("}")) return undefined
  const v: unknown = JSON.parse(line)
  return isReady(v) ? v : undefined
}

export const startUp = async (env: NodeJS.ProcessEnv): Promise<{ proc: Proc; ready: Ready }> => {
  const proc = decnet(["up", "--json"], env)
  const ready = await waitUntil(
    () => readyOf(proc) ?? (proc.child.exitCode !== null ? false : undefined),
    60_000
  )
  if (!ready) throw new Error(`decnet up did not become ready:\n${proc.stdout()}\n${proc.stderr()}`)
  return { proc, ready }
}

export const endpoint = (ready: Ready, decky: string, service: string): Endpoint => {
  const d = ready.deckies.find((x) => x.name === decky)
  const e = d?.services.find((s) => s.service === service)
  if (d === undefined || e === undefined)
    throw new Error(`${decky} has no ${service}: ${JSON.stringify(ready)}`)
  return e
}

export const hostPort = (e: Endpoint) => {
  const [host = "", port = ""] = e.address.split(":")
  return { host, port }
}

export const cli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  spawnAsync(process.execPath, [...DECNET, ...args], { env, timeout: 60_000 })

export const refuses = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.once("connect", () => {
      s.destroy()
      resolve(false)
    })
    s.once("error", () => resolve(true))
  })

/** Rows of the live database, read as another process would (read-only, WAL). */
export const query = <T>(
  db: string,
  sql: string,
  ...params: ReadonlyArray<string | number>
): ReadonlyArray<T> => {
  const conn = new Database(db, { readonly: true, fileMustExist: true })
  try {
    return conn.prepare(sql).all(...params) as ReadonlyArray<T>
  } finally {
    conn.close()
  }
}

export const redisAuth = (e: Endpoint, user: string, pass: string) => {
  const { host, port } = hostPort(e)
  return run("redis-cli", ["-h", host, "-p", port, "AUTH", user, pass], { timeout: 10_000 })
}
