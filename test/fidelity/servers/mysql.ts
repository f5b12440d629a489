// Debian bookworm's MariaDB 10.11 (the packaged stand-in for the MySQL 8.0 the emulator claims) for the
// fidelity test and report: a fresh data directory (mariadb-install-db) in a temp folder, run as the
// `mysql` system user on one loopback address (socket in the temp folder), skip-name-resolve (the
// Access denied host is the client's address, as the emulator shows it), TLS with a throwaway
// self-signed certificate (MySQL 8.0 always offers TLS), root with a password. Never the machine's own.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { probe } from "../probe.js"
import type { RealServer, StartReal } from "./types.js"

const MARIADBD = "/usr/sbin/mariadbd"
const INSTALL_DB = "/usr/bin/mariadb-install-db"
export const available = (): boolean =>
  existsSync(MARIADBD) && existsSync(INSTALL_DB) && existsSync("/usr/bin/openssl")

/** The emulator's --config: the seeded MySQL 8.0 persona, pinned so the test is stable. */
export const emulatorConfig: Record<string, unknown> = { version: "8.0.36" }
/** What nmap -sV must say about the emulator (the real one says "MySQL 5.5.5-10.11.x-MariaDB-…"). */
export const nmapExpect = /MySQL 8\.0\.\d+/

const account = (name: string): { uid: number; gid: number } => {
  const uid = Number(spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim())
  const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim())
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0)
    throw new Error(`no system user ${name} to run MariaDB as`)
  return { uid, gid }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export const start: StartReal = async ({ host, port }) => {
  const { uid, gid } = account("mysql")
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-mysql-"))
  chmodSync(dir, 0o755)
  chownSync(dir, uid, gid)
  const data = join(dir, "data")
  let child: ChildProcess | undefined
  const stop = async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()))
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch {
        // the group is gone
      }
      await Promise.race([exited, sleep(5_000)])
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: dir }
    const install = spawnSync(
      INSTALL_DB,
      [
        "--no-defaults",
        `--datadir=${data}`,
        "--user=mysql",
        "--auth-root-authentication-method=normal",
        "--skip-test-db"
      ],
      { env, encoding: "utf8", cwd: dir, timeout: 120_000 }
    )
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
    const cert = join(dir, "cert.pem")
    const key = join(dir, "key.pem")
    const ssl = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2"].concat([
        "-subj",
        "/CN=MariaDB_Fidelity_Server_Certificate"
      ]),
      { env, encoding: "utf8", timeout: 60_000 }
    )
    if (ssl.status !== 0) throw new Error(`openssl failed: ${ssl.stderr}`)
    const init = join(dir, "init.sql")
    // mariadb-install-db also makes password-less root@127.0.0.1, root@::1 and root@<hostname>; an
    // application account for any host keeps remote clients allowed (else: "Host … is not allowed").
    writeFileSync(
      init,
      "ALTER USER 'root'@'localhost' IDENTIFIED BY 'fidelity-root-pw';\n" +
        `DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'${hostname()}';\n` +
        "CREATE USER 'app'@'%' IDENTIFIED BY 'fidelity-app-pw';\n"
    )
    for (const p of [cert, key, init]) chownSync(p, uid, gid)
    child = spawn(
      MARIADBD,
      [
        "--no-defaults",
        `--datadir=${data}`,
        `--port=${port}`,
        `--bind-address=${host}`,
        `--socket=${join(dir, "mysqld.sock")}`,
        `--pid-file=${join(dir, "mysqld.pid")}`,
        "--user=mysql",
        "--skip-name-resolve",
        "--skip-log-bin",
        `--init-file=${init}`,
        `--ssl-cert=${cert}`,
        `--ssl-key=${key}`,
        "--innodb-buffer-pool-size=16M"
      ],
      { env, cwd: dir, stdio: "ignore", detached: true }
    )
    const started = child
    for (let i = 0; i < 300; i++) {
      if (started.exitCode !== null) throw new Error(`mariadbd exited with ${started.exitCode}`)
      const o = await probe(host, port, Buffer.alloc(0), 50, 1_000).catch(() => undefined)
      if (o !== undefined && o.reply[4] === 0x0a) {
        const server: RealServer = { host, port, stop }
        return server
      }
      await sleep(100)
    }
    throw new Error(`mariadbd did not answer on ${host}:${port}`)
  } catch (e) {
    await stop()
    throw e
  }
}
