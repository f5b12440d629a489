// The event contract end to end: one `decnet decky` process (the shipped bundle) runs all 18 services,
// real clients nobody here wrote touch every one of them, and every line the process prints on stdout
// must decode as a HoneypotEvent whose type its catalog entry lists, with a peer after `startup`.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { HONEYPOT_SLUGS } from "../../src/honeypots/Registry.js"
import type { HoneypotEvent } from "../../src/logging/HoneypotEvent.js"
import { CLI_BUNDLE } from "../support/cli.js"
import { checkEventLine, run } from "./support.js"

interface Decky {
  readonly ports: ReadonlyMap<string, number>
  readonly stdout: () => string
  readonly stop: () => Promise<void>
}

/** Start `decnet decky` with every service on free ports; resolves once its notice names the ports. */
const startDecky = (artifacts: string): Promise<Decky> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        CLI_BUNDLE,
        "decky",
        "--services",
        HONEYPOT_SLUGS.join(","),
        "--ephemeral",
        "--name",
        "decky-contract",
        "--artifacts-dir",
        artifacts
      ],
      { stdio: ["ignore", "pipe", "pipe"], detached: true }
    )
    let stdout = ""
    let stderr = ""
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8")
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8")
      const notice = /decky decky-contract listening on (.*)\n/.exec(stderr)
      if (notice === null) return
      const ports = new Map<string, number>()
      for (const m of (notice[1] ?? "").matchAll(/(\w+) 127\.0\.0\.1:(\d+) \((\d+)\/tcp\)/g))
        ports.set(`${m[1]}:${m[3]}`, Number(m[2]))
      resolve({
        ports,
        stdout: () => stdout,
        stop: async () => {
          if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM")
          await exited
        }
      })
    })
    child.once("exit", (code) => reject(new Error(`decnet decky exited ${code}: ${stderr}`)))
  })

const SSH_OPTS = [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "PreferredAuthentications=password",
  "-o",
  "ConnectTimeout=10"
]

describe("the event contract, on a real decky process", () => {
  it.live(
    "every service, touched by a real client, logs only typed events with a peer",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "decnet-contract-"))
        const decky = yield* Effect.acquireRelease(
          Effect.promise(() => startDecky(join(dir, "artifacts"))),
          (d) =>
            Effect.promise(() => d.stop()).pipe(
              Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
            )
        )
        const port = (slug: string, known: number) => String(decky.ports.get(`${slug}:${known}`) ?? 0)
        const mail = join(dir, "mail.eml")
        writeFileSync(mail, "Subject: hi\r\n\r\nhello\r\n")
        const clients = [
          // nmap's service probes are the real client for the protocols without a scriptable one here.
          run(
            "nmap",
            [
              "-sV",
              "--version-light",
              "-Pn",
              "-n",
              "-p",
              [
                port("telnet", 23),
                port("rdp", 3389),
                port("vnc", 5900),
                port("mssql", 1433),
                port("mongodb", 27017)
              ].join(","),
              "127.0.0.1"
            ],
            { timeoutMs: 240_000 }
          ),
          run("sshpass", [
            "-p",
            "wrong",
            "ssh",
            ...SSH_OPTS,
            "-p",
            port("ssh", 22),
            "root@127.0.0.1",
            "true"
          ]),
          run("curl", ["-s", "-m", "10", `http://127.0.0.1:${port("http", 80)}/`]),
          run("curl", ["-sk", "-m", "10", `https://127.0.0.1:${port("https", 443)}/`]),
          run("curl", ["-s", "-m", "10", "--user", "anonymous:a@b.c", `ftp://127.0.0.1:${port("ftp", 21)}/`]),
          run("smbclient", ["-L", "//127.0.0.1", "-p", port("smb", 445), "-U", "alice%secret", "-m", "SMB3"]),
          run("curl", [
            "-s",
            "-m",
            "10",
            `smtp://127.0.0.1:${port("smtp", 25)}`,
            "--mail-from",
            "a@example.org",
            "--mail-rcpt",
            "b@example.net",
            "-T",
            mail
          ]),
          run("curl", [
            "-s",
            "-m",
            "10",
            `smtp://127.0.0.1:${port("smtp_relay", 25)}`,
            "--mail-from",
            "a@example.org",
            "--mail-rcpt",
            "b@example.net",
            "-T",
            mail
          ]),
          run("curl", ["-s", "-m", "10", "--user", "alice:secret", `imap://127.0.0.1:${port("imap", 143)}/`]),
          run("curl", ["-s", "-m", "10", "--user", "alice:secret", `pop3://127.0.0.1:${port("pop3", 110)}/`]),
          run("ldapsearch", [
            "-x",
            "-H",
            `ldap://127.0.0.1:${port("ldap", 389)}`,
            "-D",
            "cn=admin,dc=corp,dc=local",
            "-w",
            "secret",
            "-b",
            "",
            "-s",
            "base"
          ]),
          run("mariadb", [
            "-h",
            "127.0.0.1",
            "-P",
            port("mysql", 3306),
            "-u",
            "root",
            "-pwrong",
            "--connect-timeout=10",
            "-e",
            "select 1"
          ]),
          run("psql", [
            `host=127.0.0.1 port=${port("postgres", 5432)} user=postgres password=wrong dbname=postgres sslmode=disable connect_timeout=10`,
            "-c",
            "select 1"
          ]),
          run("redis-cli", ["-p", port("redis", 6379), "AUTH", "alice", "secret"])
        ]
        yield* Effect.all(clients, { concurrency: 4 })
        // Let the last events (disconnects after a grace) land before stopping the decky.
        yield* Effect.sleep("2 seconds")
        yield* Effect.promise(() => decky.stop())
        const lines = decky
          .stdout()
          .split("\n")
          .filter((l) => l !== "")
        const events: Array<HoneypotEvent> = []
        for (const line of lines) events.push(yield* checkEventLine(line))
        const touched = new Set(events.filter((e) => e.event_type !== "startup").map((e) => e.service))
        const started = new Set(events.filter((e) => e.event_type === "startup").map((e) => e.service))
        expect([...started].sort()).toEqual([...HONEYPOT_SLUGS].sort())
        expect([...touched].sort()).toEqual([...HONEYPOT_SLUGS].sort())
        expect(lines.length).toBe(events.length)
      }).pipe(Effect.scoped),
    // nmap's version probes wait out each protocol's silence (about two minutes in all).
    { timeout: 400_000 }
  )
})
