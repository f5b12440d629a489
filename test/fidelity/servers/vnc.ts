// The real TigerVNC 1.12 (Debian's Xtigervnc) for the fidelity test and report: an X server of its own
// (display picked by the server, -displayfd), RFB on host:port with VNC Authentication only, its password
// file in a temp folder (written as vncpasswd -f would: DES under VNC's fixed key), no X TCP listener.
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createConnection } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { desEncryptBlock } from "../../../src/honeypots/vnc/Des.js"
import type { RealServer, RealServerOptions, StartReal } from "./types.js"

export const XTIGERVNC = "/usr/bin/Xtigervnc"
export const PASSWORD = "fidelity"
export const available = (): boolean => existsSync(XTIGERVNC)

/** The emulator's --config for the comparison: TigerVNC's own defaults (blacklist 5 connections, 10 s). */
export const emulatorConfig: Record<string, unknown> = {}
/** What nmap -sV shows for both: `vnc  VNC (protocol 3.8)`. */
export const nmapExpect = /vnc\s+VNC \(protocol 3\.8\)/

/** The VNC password file: the password (8 bytes, NUL-padded) DES-encrypted under VNC's fixed key. */
export const passwordFile = (password: string): Buffer => {
  const block = Buffer.alloc(8)
  block.write(password.slice(0, 8), "latin1")
  return desEncryptBlock(Buffer.from("e84ad660c4721ae0", "hex"), block)
}

const answers = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host, port })
    s.once("data", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
    s.setTimeout(500, () => {
      s.destroy()
      resolve(false)
    })
  })

export interface VncOptions extends RealServerOptions {
  /** TigerVNC's BlacklistThreshold (default 5). */
  readonly blacklistThreshold?: number
  /** TigerVNC's BlacklistTimeout in seconds (default 10). */
  readonly blacklistTimeout?: number
}

export const startVnc = async (options: VncOptions): Promise<RealServer> => {
  const dir = mkdtempSync(join(tmpdir(), "decnet-fidelity-vnc-"))
  const passwd = join(dir, "passwd")
  writeFileSync(passwd, passwordFile(PASSWORD))
  const child = spawn(
    XTIGERVNC,
    [
      "-displayfd",
      "3",
      "-rfbport",
      String(options.port),
      "-interface",
      options.host,
      "-SecurityTypes",
      "VncAuth",
      "-PasswordFile",
      passwd,
      "-nolisten",
      "tcp",
      "-desktop",
      "fidelity",
      ...(options.blacklistThreshold === undefined
        ? []
        : ["-BlacklistThreshold", String(options.blacklistThreshold)]),
      ...(options.blacklistTimeout === undefined
        ? []
        : ["-BlacklistTimeout", String(options.blacklistTimeout)])
    ],
    { stdio: ["ignore", "ignore", "ignore", "pipe"], detached: true, env: { ...process.env, HOME: dir } }
  )
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // SIGTERM first, so the X server removes its lock file and socket; SIGKILL if it lingers.
      process.kill(-child.pid, "SIGTERM")
      const gone = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)])
      if (!gone) process.kill(-child.pid, "SIGKILL")
    }
    rmSync(dir, { recursive: true, force: true })
  }
  // Xvnc writes its display number on fd 3 once it is ready; the RFB listener is up by then.
  const until = Date.now() + 15_000
  for (;;) {
    // Each probe connection counts against TigerVNC's blacklist: poll slowly and only until it answers.
    if (await answers(options.host, options.port)) break
    if (Date.now() > until || child.exitCode !== null) {
      await stop()
      throw new Error("Xtigervnc did not answer")
    }
    await sleep(200)
  }
  return { host: options.host, port: options.port, stop }
}

export const start: StartReal = (options) => startVnc(options)

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
