// Debian bookworm's PostgreSQL 15 for the fidelity test and report: a fresh cluster (initdb) in a temp
// folder, run as the `postgres` system user (the server refuses root), listening on one loopback address
// only (Unix socket in the temp folder), `md5` authentication for every database with md5 password
// hashing (the persona the emulator claims), ssl off; `startPostgres({ ssl: true })` turns it on as
// Debian's postgresql.conf does (a self-signed certificate in the temp folder, the TLS defaults of 15).
// Never the machine's own cluster or port.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { probe } from "../probe.js"
import { selfSigned } from "./spawn.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const BIN = "/usr/lib/postgresql/15/bin"
export const available = (): boolean => existsSync(`${BIN}/postgres`) && existsSync(`${BIN}/initdb`)

/** The emulator's --config for the same persona (md5 challenge, ssl off). */
export const emulatorConfig: Record<string, unknown> = { auth_method: "md5" }
/** What nmap -sV must say about the emulator (the real 15.x: "PostgreSQL DB 9.6.0 or later"). */
export const nmapExpect = /PostgreSQL DB/

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])

const account = (name: string): { uid: number; gid: number } => {
  const uid = Number(spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim())
  const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim())
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0)
    throw new Error(`no system user ${name} to run PostgreSQL as`)
  return { uid, gid }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export const start: StartReal = (options) => startPostgres(options)

export const startPostgres = async ({
  host,
  port,
  ssl = false
}: RealServerOptions & { readonly ssl?: boolean }): Promise<RealServer> => {
  const { uid, gid } = account("postgres")
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-postgres-"))
  chmodSync(dir, 0o755)
  const data = join(dir, "data")
  const socket = join(dir, "socket")
  const pwfile = join(dir, "pw")
  mkdirSync(socket)
  writeFileSync(pwfile, "fidelity-superuser-pw\n")
  for (const p of [dir, socket, pwfile]) chownSync(p, uid, gid)
  let child: ChildProcess | undefined
  const stop = async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()))
      // Fast shutdown first, so the cluster's shared memory is released; then the whole group.
      try {
        process.kill(child.pid, "SIGINT")
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(5_000)])
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // the group is gone
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const env = { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", HOME: dir }
    const init = spawnSync(
      `${BIN}/initdb`,
      ["-D", data, "-U", "postgres", "-A", "md5", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C.UTF-8"],
      { uid, gid, env, encoding: "utf8", cwd: dir, timeout: 60_000 }
    )
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
    if (ssl) {
      selfSigned({
        key: join(data, "server.key"),
        cert: join(data, "server.crt"),
        subject: "/CN=db.corp.internal",
        days: 30
      })
      for (const f of ["server.key", "server.crt"]) chownSync(join(data, f), uid, gid)
      chmodSync(join(data, "server.key"), 0o600)
    }
    writeFileSync(
      join(data, "pg_hba.conf"),
      "local all all md5\nhost all all 127.0.0.0/8 md5\nhost all all ::1/128 md5\n"
    )
    chownSync(join(data, "pg_hba.conf"), uid, gid)
    child = spawn(
      `${BIN}/postgres`,
      [
        "-D",
        data,
        "-k",
        socket,
        "-h",
        host,
        "-p",
        String(port),
        "-c",
        "password_encryption=md5",
        "-c",
        ssl ? "ssl=on" : "ssl=off",
        "-c",
        "fsync=off",
        "-c",
        "logging_collector=off"
      ],
      { uid, gid, env, cwd: dir, stdio: "ignore", detached: true }
    )
    const started = child
    for (let i = 0; i < 300; i++) {
      if (started.exitCode !== null) throw new Error(`postgres exited with ${started.exitCode}`)
      const o = await probe(host, port, SSL_REQUEST, 50, 1_000).catch(() => undefined)
      if (o !== undefined && o.reply.toString("latin1") === (ssl ? "S" : "N")) {
        const server: RealServer = { host, port, stop }
        return server
      }
      await sleep(100)
    }
    throw new Error(`postgres did not answer on ${host}:${port}`)
  } catch (e) {
    await stop()
    throw e
  }
}
