// `decnet ingest` (the shipped bundle) with a real bus: a broker child, `decnet bus sub` children, and the
// ingester child on a SQLite file. The notices arrive after the rows are stored, over the unix socket.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { DECNET } from "../support/cli.js"
import { jsonLine, numbered, sshPassword } from "./records.js"
import { tmpDir } from "./support.js"

interface Proc {
  readonly child: ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const waitFor = async (check: () => boolean, tries = 600) => {
  for (let i = 0; i < tries && !check(); i++) await sleep(20)
  return check()
}

describe("decnet ingest with the bus", () => {
  const dir = tmpDir("decnet-ingest-cli-")
  const socket = path.join(dir, "bus.sock")
  const env = {
    ...process.env,
    HOME: dir,
    DECNET_DB_TYPE: "sqlite",
    DECNET_DB_PATH: path.join(dir, "decnet.db"),
    DECNET_BUS_SOCKET: socket,
    DECNET_BUS_TYPE: "unix",
    DECNET_BUS_ENABLED: "true"
  }
  const cli = (args: ReadonlyArray<string>): Proc => {
    const child = spawn(process.execPath, [...DECNET, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    const p: Proc = {
      child,
      stdout: "",
      stderr: "",
      exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
    }
    child.stdout?.on("data", (d: Buffer) => {
      p.stdout += d.toString()
    })
    child.stderr?.on("data", (d: Buffer) => {
      p.stderr += d.toString()
    })
    return p
  }

  it("stores the records, then publishes system.log, credential.captured and its heartbeat; SIGTERM exits 0", async () => {
    const broker = cli(["bus", "--socket", socket, "--group", "", "--heartbeat", "3600"])
    expect(await waitFor(() => broker.stderr.includes("listening on")), broker.stderr).toBe(true)
    const subs = ["system.log", "credential.captured", "system.ingester.health"].map((topic) =>
      cli(["bus", "sub", topic, "--json", "--count", "1"])
    )
    expect(await waitFor(() => subs.every((s) => s.stderr.includes("subscribed to")))).toBe(true)

    const json = path.join(dir, "decnet.json")
    fs.writeFileSync(json, [numbered(1), sshPassword("root", "hunter2")].map(jsonLine).join(""))
    const ingest = cli(["ingest", "--log-file", path.join(dir, "decnet.log")])
    const envelopes = await Promise.all(
      subs.map(async (s) => {
        const exit = await s.exited
        expect(exit.code, s.stderr).toBe(0)
        return JSON.parse(s.stdout.trim())
      })
    )
    expect(envelopes[0]).toMatchObject({
      topic: "system.log",
      type: "batch_committed",
      payload: { component: "ingester", flushed: 2, position: fs.statSync(json).size }
    })
    expect(envelopes[1]).toMatchObject({
      topic: "credential.captured",
      type: "captured",
      payload: { secret_kind: "plaintext", attacker_ip: "203.0.113.7", decky: "decky-01", service: "ssh" }
    })
    expect(JSON.stringify(envelopes[1])).not.toContain("hunter2")
    expect(envelopes[2]).toMatchObject({ topic: "system.ingester.health", payload: { worker: "ingester" } })

    ingest.child.kill("SIGTERM")
    expect((await ingest.exited).code, ingest.stderr).toBe(0)
    expect(ingest.stderr).toContain("ingester stopped")
  })
})
