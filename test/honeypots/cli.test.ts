// `decnet honeypot` and `decnet decky` as a user runs them: a real child process of the shipped CLI
// bundle, driven by real clients, with its stdout parsed as RFC 5424 by the project's parser.
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { Either, Schema } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type HoneypotEvent, HoneypotEventLine } from "../../src/logging/HoneypotEvent.js"
import { DECNET } from "../support/cli.js"
import { freePort } from "../support/ports.js"
import { spawnAsync } from "../support/spawn.js"
import { CLIENT_OPTIONS } from "./sshClient.js"

interface Cli {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly events: () => ReadonlyArray<HoneypotEvent>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const decodeLine = Schema.decodeUnknownEither(HoneypotEventLine)

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const BIN = DECNET

const start = (args: ReadonlyArray<string>, options: { env?: Record<string, string> } = {}): Cli => {
  const child = spawn(process.execPath, [...BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env }
  })
  children.push(child)
  let out = ""
  let err = ""
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString("utf8")
  })
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString("utf8")
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    events: () =>
      out
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => decodeLine(l))
        .filter(Either.isRight)
        .map((e) => e.right),
    exited
  }
}

const until = async <A>(
  what: string,
  probe: () => A | undefined,
  cli: Cli,
  timeoutMs = 60_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = probe()
    if (v !== undefined) return v
    if (cli.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`${what} did not happen; stderr: ${cli.stderr()} stdout: ${cli.stdout()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Parse `slug 127.0.0.1:PORT (DEFAULT/tcp)` entries from the stderr notice. */
const listeners = (notice: string): Map<string, number> => {
  const found = new Map<string, number>()
  for (const m of notice.matchAll(/(?:^|, |listening on )([a-z0-9_]+ )?127\.0\.0\.1:(\d+) \((\d+)\/tcp\)/g))
    found.set(`${(m[1] ?? "").trim()}:${m[3]}`, Number(m[2]))
  return found
}

const client = async (file: string, args: ReadonlyArray<string>) => {
  const r = await spawnAsync(file, args, { timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe("decnet honeypot <slug>", () => {
  it("runs redis in the foreground: notice on stderr, RFC 5424 events on stdout, SIGTERM exits 0", async () => {
    const cli = start([
      "honeypot",
      "redis",
      "--port",
      "0",
      "--name",
      "decky-cli",
      "--config",
      '{"reply_delay_ms":[0,1]}'
    ])
    const notice = await until(
      "the listening notice",
      () => /^redis listening on .*$/m.exec(cli.stderr())?.[0],
      cli
    )
    expect(notice).toMatch(/^redis listening on 127\.0\.0\.1:\d+ \(6379\/tcp\)$/)
    const port = listeners(notice).get(":6379")
    expect(port).toBeGreaterThan(0)

    const r = await client("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "AUTH", "alice", "s3cret"])
    expect(r.stdout).toContain("Client sent AUTH, but no password is set")

    const auth = await until("the auth event", () => cli.events().find((e) => e.event_type === "auth"), cli)
    expect(auth.decky).toBe("decky-cli")
    expect(auth.service).toBe("redis")
    expect(auth.attacker_ip).toBe("127.0.0.1")
    expect(auth.fields.principal).toBe("alice")
    expect(auth.fields.secret_printable).toBe("s3cret")
    expect(auth.fields.secret_b64).toBe(Buffer.from("s3cret").toString("base64"))
    const startup = cli.events().find((e) => e.event_type === "startup")
    expect(startup?.msg).toBe("redis server starting as decky-cli")
    // stdout carries events only: every line parses, and none is a process log line.
    const lines = cli
      .stdout()
      .split("\n")
      .filter((l) => l !== "")
    expect(lines.every((l) => Either.isRight(decodeLine(l)) && l.includes(" decky-cli redis - "))).toBe(true)

    cli.child.kill("SIGTERM")
    expect(await cli.exited).toEqual({ code: 0, signal: null })
  })

  it("SIGINT also exits 0", async () => {
    const cli = start(["honeypot", "vnc", "--port", "0"])
    await until("the listening notice", () => /vnc listening on/.exec(cli.stderr())?.[0], cli)
    cli.child.kill("SIGINT")
    expect(await cli.exited).toEqual({ code: 0, signal: null })
  })

  it("binds every port of a two-port service, in order, to the given or free ports", async () => {
    const cli = start(["honeypot", "pop3", "--port", "0"])
    const notice = await until(
      "the listening notice",
      () => /^pop3 listening on .*$/m.exec(cli.stderr())?.[0],
      cli
    )
    const ports = listeners(notice)
    expect([...ports.keys()]).toEqual([":110", ":995"])
    const banner = await client("curl", [
      "-s",
      "--max-time",
      "5",
      `pop3://127.0.0.1:${ports.get(":110")}/`,
      "-u",
      "root:toor"
    ])
    expect(banner.code).toBe(0)
    await until("the pop3 auth event", () => cli.events().find((e) => e.event_type === "auth"), cli)
    cli.child.kill("SIGTERM")
    expect((await cli.exited).code).toBe(0)
  })

  it("limits come from DECNET_HONEYPOT_* (per-IP connection cap of 1 refuses a second socket)", async () => {
    const cli = start(["honeypot", "redis", "--port", "0"], { env: { DECNET_HONEYPOT_MAX_CONN_PER_IP: "1" } })
    const notice = await until(
      "the listening notice",
      () => /^redis listening on .*$/m.exec(cli.stderr())?.[0],
      cli
    )
    const port = listeners(notice).get(":6379") ?? 0
    const held = net.connect(port, "127.0.0.1")
    await new Promise((r) => held.once("connect", r))
    await until("the first connect event", () => cli.events().find((e) => e.event_type === "connect"), cli)
    const second = await new Promise<string>((resolve) => {
      const s = net.connect(port, "127.0.0.1")
      let out = ""
      s.on("data", (d) => {
        out += d.toString()
      })
      s.on("connect", () => s.write("PING\r\n"))
      s.on("close", () => resolve(`closed:${out}`))
      s.on("error", () => resolve(`error:${out}`))
    })
    expect(second).toMatch(/^(closed|error):$/)
    held.write("PING\r\n")
    const pong = await new Promise<string>((resolve) => held.once("data", (d) => resolve(d.toString())))
    expect(pong).toBe("+PONG\r\n")
    held.destroy()
    expect(cli.events().filter((e) => e.event_type === "connect")).toHaveLength(1)
    cli.child.kill("SIGTERM")
    expect((await cli.exited).code).toBe(0)
  })

  it("a bad --config is one clear line naming the key, exit 1", async () => {
    const r = await spawnAsync(
      process.execPath,
      [...BIN, "honeypot", "redis", "--port", "0", "--config", '{"pasword":"x"}'],
      { timeout: 60_000 }
    )
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(
      'decnet: invalid redis config: unknown key "pasword" (valid keys: "password" | "version" | "os_string" | "reply_delay_ms")\n'
    )
    expect(r.stdout).toBe("")
    const typed = await spawnAsync(
      process.execPath,
      [...BIN, "honeypot", "redis", "--port", "0", "--config", '{"password":1}'],
      { timeout: 60_000 }
    )
    expect(typed.status).toBe(1)
    expect(typed.stderr).toBe('decnet: invalid redis config: "password": Expected string, actual 1\n')
    const json = await spawnAsync(process.execPath, [...BIN, "honeypot", "redis", "--config", "{nope"], {
      timeout: 60_000
    })
    expect(json.status).toBe(1)
    expect(json.stderr).toMatch(/^decnet: --config is not valid JSON: /)
  })

  it("an unknown slug lists the valid ones, exit 1", async () => {
    const r = await spawnAsync(process.execPath, [...BIN, "honeypot", "sshd"], { timeout: 60_000 })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(
      /^decnet: unknown honeypot service 'sshd'\. Valid services: ssh, telnet, http, .*redis\n$/
    )
  })

  it("--list prints a table and --list --json the same rows as JSON", async () => {
    const table = await spawnAsync(process.execPath, [...BIN, "honeypot", "--list"], { timeout: 60_000 })
    expect(table.status).toBe(0)
    expect(table.stdout).toMatch(/^SLUG +PORTS +DESCRIPTION\n/)
    expect(table.stdout).toMatch(/\nsmb +445\/tcp,139\/tcp +SMB2/)
    const json = await spawnAsync(process.execPath, [...BIN, "honeypot", "--list", "--json"], {
      timeout: 60_000
    })
    expect(json.status).toBe(0)
    const rows: Array<{ slug: string; tcp: Array<number>; udp: Array<number>; description: string }> =
      JSON.parse(json.stdout)
    expect(rows).toHaveLength(18)
    expect(rows.find((r) => r.slug === "ssh")).toMatchObject({ tcp: [22], udp: [] })
    expect(rows.find((r) => r.slug === "imap")).toMatchObject({ tcp: [143, 993] })
    expect(table.stdout.trim().split("\n")).toHaveLength(19)
  })

  it("--host must be an address, and the default host is loopback", async () => {
    const r = await spawnAsync(process.execPath, [...BIN, "honeypot", "redis", "--host", "localhost"], {
      timeout: 60_000
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe("decnet: --host must be an IP address, got 'localhost'\n")
    const help = await spawnAsync(process.execPath, [...BIN, "honeypot", "--help"], { timeout: 60_000 })
    expect(help.stdout).toContain("127.0.0.1")
  })
})

describe("decnet decky", () => {
  it("shows the files given with --files in its ssh shell (what the Docker runtime passes)", async () => {
    const files = [
      {
        path: "/opt/app/.env",
        content_b64: Buffer.from("API_KEY=canary-123\n").toString("base64"),
        mode: 0o640,
        mtime: null
      }
    ]
    const cli = start([
      "decky",
      "--services",
      "ssh",
      "--ephemeral",
      "--name",
      "decky-files",
      "--files",
      JSON.stringify(files)
    ])
    const notice = await until(
      "the listening notice",
      () => /^decky decky-files listening on .*$/m.exec(cli.stderr())?.[0],
      cli
    )
    const port = listeners(notice).get("ssh:22")
    const r = await client("sshpass", [
      "-p",
      "admin",
      "ssh",
      ...CLIENT_OPTIONS,
      "-p",
      String(port),
      "root@127.0.0.1",
      "cat /opt/app/.env; ls -la /opt/app"
    ])
    expect(r.stdout).toContain("API_KEY=canary-123")
    expect(r.stdout).toMatch(/-rw-r----- .* \.env/)
    const bad = await spawnAsync(process.execPath, [...BIN, "decky", "--services", "ssh", "--files", "[{"], {
      timeout: 60_000
    })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain("--files is not valid JSON")
  })

  it("runs redis and http in one process, driven by redis-cli and curl", async () => {
    const cli = start(["decky", "--services", "redis,http", "--ephemeral", "--name", "decky-two"])
    const notice = await until(
      "the listening notice",
      () => /^decky decky-two listening on .*$/m.exec(cli.stderr())?.[0],
      cli
    )
    const ports = listeners(notice)
    expect([...ports.keys()]).toEqual(["redis:6379", "http:80"])

    const r = await client("redis-cli", [
      "-h",
      "127.0.0.1",
      "-p",
      String(ports.get("redis:6379")),
      "AUTH",
      "bob",
      "hunter2"
    ])
    expect(r.code).toBe(0)
    const c = await client("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-u",
      "admin:letmein",
      `http://127.0.0.1:${ports.get("http:80")}/admin`
    ])
    expect(c.stdout).toMatch(/^\d{3}$/)

    const auth = await until(
      "the redis auth event",
      () => cli.events().find((e) => e.event_type === "auth"),
      cli
    )
    expect(auth).toMatchObject({ decky: "decky-two", service: "redis" })
    expect(auth.fields.principal).toBe("bob")
    expect(auth.fields.secret_printable).toBe("hunter2")
    const request = await until(
      "the http request event",
      () => cli.events().find((e) => e.service === "http" && e.event_type === "request"),
      cli
    )
    expect(request.decky).toBe("decky-two")
    expect(request.fields.principal).toBe("admin")
    expect(request.fields.secret_printable).toBe("letmein")
    expect(
      cli
        .events()
        .filter((e) => e.event_type === "startup")
        .map((e) => e.service)
    ).toEqual(["redis", "http"])

    cli.child.kill("SIGTERM")
    expect(await cli.exited).toEqual({ code: 0, signal: null })
  })

  it("--port slug=PORT and slug:DEFAULT=PORT override single ports", async () => {
    const [p1, p2] = await Promise.all([freePort(), freePort()])
    const one = start(["decky", "--services", "redis", "--port", `redis=${p1}`, "--name", "d1"])
    const n1 = await until(
      "the listening notice",
      () => /^decky d1 listening on .*$/m.exec(one.stderr())?.[0],
      one
    )
    expect(n1).toBe(`decky d1 listening on redis 127.0.0.1:${p1} (6379/tcp)`)
    const two = start([
      "decky",
      "--services",
      "imap",
      "--ephemeral",
      "--port",
      `imap:993=${p2}`,
      "--name",
      "d2"
    ])
    const n2 = await until(
      "the listening notice",
      () => /^decky d2 listening on .*$/m.exec(two.stderr())?.[0],
      two
    )
    const ports = listeners(n2)
    expect([...ports.keys()]).toEqual(["imap:143", "imap:993"])
    expect(ports.get("imap:993")).toBe(p2)
    expect(ports.get("imap:143")).not.toBe(143)
    one.child.kill("SIGTERM")
    two.child.kill("SIGTERM")
    expect((await one.exited).code).toBe(0)
    expect((await two.exited).code).toBe(0)
  })

  it("rejects bad service lists, config and port specs with a clear line, exit 1", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--services", "redis,nope"], "decnet: unknown honeypot service 'nope'. Valid services: "],
      [
        ["--services", "redis", "--config", '{"ssh":{}}'],
        "decnet: --config has an entry for 'ssh', which is not in --services"
      ],
      [
        ["--services", "redis", "--config", "[1]"],
        "decnet: --config must be a JSON object keyed by service slug"
      ],
      [
        ["--services", "redis", "--config", '{"redis":{"version":7}}', "--ephemeral"],
        'decnet: invalid redis config: "version": Expected string, actual 7'
      ],
      [
        ["--services", "redis", "--port", "redis=x"],
        "decnet: --port 'redis=x': expected slug=PORT or slug:DEFAULT=PORT"
      ],
      [["--services", "redis", "--port", "imap=1"], "decnet: --port imap=…: imap is not in --services"],
      [["--services", "redis", "--port", "redis:80=1"], "decnet: --port redis:80=…: redis's ports are 6379"],
      [
        ["--services", "ssh", "--port-offset", "65530"],
        "decnet: --port-offset 65530 puts ssh's port 22 at 65552, outside 1-65535"
      ]
    ]
    for (const [args, message] of cases) {
      const r = await spawnAsync(process.execPath, [...BIN, "decky", ...args], { timeout: 60_000 })
      expect({ args, status: r.status }).toEqual({ args, status: 1 })
      expect(r.stderr.startsWith(message), `${args.join(" ")} → ${r.stderr}`).toBe(true)
    }
  })

  it("an unprivileged bind below 1024 says what to do", async () => {
    // Run the child without CAP_NET_BIND_SERVICE (setpriv, util-linux) but as the same user, so it can
    // still read this checkout wherever it lives; the kernel must still reserve ports below 1024.
    const { readFileSync } = await import("node:fs")
    const unprivilegedStart = Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"))
    expect(unprivilegedStart).toBeGreaterThan(23)
    const child = spawn(
      "setpriv",
      [
        "--bounding-set=-net_bind_service",
        "--inh-caps=-net_bind_service",
        process.execPath,
        ...BIN,
        "decky",
        "--services",
        "telnet"
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    children.push(child)
    let err = ""
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString("utf8")
    })
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    expect(code).toBe(1)
    expect(err).toBe(
      "decnet: telnet: cannot bind 127.0.0.1:23: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; use --port-offset)\n"
    )
  })
})
