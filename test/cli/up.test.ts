// `decnet up` as a child process, driven by real clients (redis-cli, OpenSSH through sshpass, curl): the
// embedded default plans three deckies of three archetypes on 127.77.0.x, and a touch becomes a row (with
// its credential), a `system.log` message on the bus, and a line of `decnet logs`. Another process's
// `mutate` and `teardown` reach the running fleet; Ctrl-C stops it cleanly and the next `up` resumes the
// same fleet and database. With the broker killed the events still reach the database.

import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import {
  cli,
  type Endpoint,
  endpoint,
  hostPort,
  query,
  type Ready,
  redisAuth,
  refuses,
  startUp
} from "./upSupport.js"

const run = promisify(execFile)

const sshPassword = (e: Endpoint, user: string, pass: string) => {
  const { host, port } = hostPort(e)
  return run(
    "sshpass",
    [
      "-p",
      pass,
      "ssh",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "PreferredAuthentications=password",
      "-o",
      "PubkeyAuthentication=no",
      "-o",
      "ConnectTimeout=10",
      "-p",
      port,
      `${user}@${host}`,
      "true"
    ],
    { timeout: 20_000 }
  ).catch(() => undefined) // the honeypot refuses every password: ssh exits 5
}

afterAll(stopAll)

describe("decnet up (the embedded default)", () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-up-"))
  const env = cleanEnv({ HOME: home, DECNET_CONFIG: join(home, "absent.ini") })
  let first: Ready | undefined

  it("runs three deckies of three archetypes; a touch becomes a row, a credential, a bus message and a log line", async () => {
    const { proc, ready } = await startUp(env)
    first = ready
    expect(ready.resumed).toBe(false)
    expect(ready.db).toBe(join(home, ".decnet", "decnet.db"))
    expect(ready.deckies).toHaveLength(3)
    expect(new Set(ready.deckies.map((d) => d.ip)).size).toBe(3)
    expect(new Set(ready.deckies.map((d) => d.archetype)).size).toBe(3)
    for (const d of ready.deckies) {
      expect(d.ip).toMatch(/^127\.77\.0\.\d+$/)
      expect(d.services.length).toBeGreaterThan(0)
      for (const s of d.services) expect(s.address.startsWith(`${d.ip}:`)).toBe(true)
    }

    // Another terminal: the bus (the broker runs inside `up`) and `decnet logs --follow`.
    const sub = decnet(["bus", "sub", "system.log", "--json"], env)
    const creds = decnet(["bus", "sub", "credential.captured", "--json", "--count", "1"], env)
    const follow = decnet(["logs", "--follow", "--json", "--service", "redis"], env)
    expect(
      await waitUntil(
        () => sub.stderr().includes("subscribed to") && creds.stderr().includes("subscribed to"),
        20_000
      )
    ).toBe(true)

    const redis = endpoint(ready, "decky-02", "redis")
    await redisAuth(redis, "admin", "s3cret-redis")
    // The 2 s: from the touch to the row (with its credential) and the bus message.
    const row = await waitUntil(
      () =>
        query<{ id: number }>(
          ready.db,
          "SELECT id FROM logs WHERE decky = ? AND service = ? AND event_type = 'auth' AND attacker_ip = '127.0.0.1'",
          "decky-02",
          "redis"
        )[0],
      2_000
    )
    expect(row, "the redis auth row").toBeTruthy()
    const cred = query<{ principal: string; secret_printable: string; service: string }>(
      ready.db,
      "SELECT principal, secret_printable, service FROM credentials WHERE decky_name = 'decky-02'"
    )
    expect(cred).toEqual([{ principal: "admin", secret_printable: "s3cret-redis", service: "redis" }])
    expect(await waitUntil(() => sub.stdout().includes("decky-02"), 2_000)).toBeTruthy()
    expect((await creds.exited).code).toBe(0)
    expect(JSON.parse(creds.stdout().trim())).toMatchObject({
      topic: "credential.captured",
      payload: { decky: "decky-02", service: "redis", attacker_ip: "127.0.0.1" }
    })
    expect(creds.stdout()).not.toContain("s3cret-redis")

    // OpenSSH's password attempt on decky-01.
    await sshPassword(endpoint(ready, "decky-01", "ssh"), "root", "hunter2")
    const ssh = await waitUntil(
      () =>
        query<{ principal: string }>(
          ready.db,
          "SELECT principal FROM credentials WHERE service = 'ssh' AND decky_name = 'decky-01'"
        )[0],
      2_000
    )
    expect(ssh).toEqual({ principal: "root" })

    // `decnet logs`: the follower printed the redis lines; a filtered listing finds the auth.
    expect(await waitUntil(() => follow.stdout().includes('"event_type":"auth"'), 5_000)).toBeTruthy()
    const listed = await cli(["logs", "--json", "--decky", "decky-02", "--event", "auth"], env)
    expect(listed.status, listed.stderr).toBe(0)
    // The row's own encoding, as the API serves it: `fields` is the JSON text of the column.
    const rows: ReadonlyArray<{ service: string; fields: string }> = JSON.parse(listed.stdout)
    expect(rows.map((r) => r.service)).toEqual(["redis"])
    expect(JSON.parse(rows[0]?.fields ?? "{}")).toMatchObject({
      principal: "admin",
      secret_kind: "plaintext"
    })
    const text = await cli(["logs", "--service", "ssh", "--limit", "5"], env)
    expect(text.stdout).toMatch(/decky-01 {2}ssh {2}auth_attempt {2}127\.0\.0\.1:\d+ .*principal=root/)

    // The reconciler marks every decky running; `status --json` says so.
    const running = await waitUntil(
      async () => {
        const s = await cli(["status", "--json"], env)
        const v: { states: Record<string, string> } = JSON.parse(s.stdout)
        return Object.values(v.states).every((x) => x === "running") ? v.states : undefined
      },
      30_000,
      500
    )
    expect(running).toEqual({ "decky-01": "running", "decky-02": "running", "decky-03": "running" })

    // Another process asks for a mutation: `up`'s mutator swaps decky-01's services and records the lineage.
    const mutate = await cli(["mutate", "--decky", "decky-01"], env)
    expect(mutate.status, mutate.stderr).toBe(0)
    const mutated = await waitUntil(
      () =>
        query<{ fields: string }>(
          ready.db,
          "SELECT fields FROM logs WHERE decky = 'decky-01' AND event_type = 'decky_mutated' AND fields LIKE '%operator%'"
        )[0],
      20_000,
      200
    )
    expect(mutated, proc.stderr()).toBeTruthy()
    const lineage: { old_services: string; new_services: string } = JSON.parse(
      mutated ? mutated.fields : "{}"
    )
    expect(lineage.old_services).toBe("ssh,http")
    expect(lineage.new_services).not.toBe("ssh,http")
    const after = await cli(["status", "--json"], env)
    const status: {
      config: { deckies: ReadonlyArray<{ name: string; services: ReadonlyArray<string> }> }
      ports: Record<string, ReadonlyArray<{ service: string; port: number; host: string }>>
    } = JSON.parse(after.stdout)
    const d1 = status.config.deckies.find((d) => d.name === "decky-01")
    expect(d1?.services.join(",")).toBe(lineage.new_services)
    const newPort = status.ports["decky-01"]?.find((p) => p.service === d1?.services[0])
    expect(newPort).toBeDefined()
    if (newPort) expect(await refuses(newPort.host, newPort.port)).toBe(false)

    // Another process tears one decky down: `up` stops its services within its sync period.
    const smtp = hostPort(endpoint(ready, "decky-03", "smtp"))
    expect(await refuses(smtp.host, Number(smtp.port))).toBe(false)
    const down = await cli(["teardown", "--id", "decky-03"], env)
    expect(down.status, down.stderr).toBe(0)
    expect(await waitUntil(() => refuses(smtp.host, Number(smtp.port)), 15_000, 200)).toBe(true)

    // A second `up` on the same home is refused while this one runs.
    const second = await cli(["up", "--once"], env)
    expect(second.status).toBe(1)
    expect(second.stderr).toContain("another `decnet up`")

    // Ctrl-C: a clean exit, the lock and the broker's socket gone.
    proc.signal("SIGINT")
    expect((await proc.exited).code, proc.stderr()).toBe(0)
    expect(proc.stderr()).toContain("ingester stopped")
    expect(existsSync(join(home, ".decnet", "up.pid"))).toBe(false)
    expect(existsSync(join(home, ".decnet", "bus.sock"))).toBe(false)
    sub.signal("SIGTERM")
    follow.signal("SIGTERM")
  }, 180_000)

  it("the next up resumes the same fleet and database, without storing any line twice", async () => {
    expect(first).toBeDefined()
    const db = join(home, ".decnet", "decnet.db")
    const before = query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM logs")[0]?.n ?? 0
    const { proc, ready } = await startUp(env)
    expect(ready.resumed).toBe(true)
    expect(ready.deckies.map((d) => d.name)).toEqual(["decky-01", "decky-02"])
    expect(ready.deckies.map((d) => d.ip)).toEqual(first?.deckies.slice(0, 2).map((d) => d.ip))
    await redisAuth(endpoint(ready, "decky-02", "redis"), "admin", "second-run")
    const cred = await waitUntil(
      () =>
        query<{ attempts: number }>(
          db,
          "SELECT attempt_count AS attempts FROM credentials WHERE secret_printable = 'second-run'"
        )[0],
      2_000
    )
    expect(cred).toEqual({ attempts: 1 })
    // Nothing from the first run came in again: every row of the first run is stored once.
    const dupes = query<{ n: number }>(
      db,
      "SELECT COUNT(*) AS n FROM (SELECT raw_line FROM logs WHERE id <= ? GROUP BY raw_line HAVING COUNT(*) > 1)",
      before
    )[0]
    expect(dupes?.n).toBe(0)
    expect(query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM logs WHERE id <= ?", before)[0]?.n).toBe(
      before
    )
    proc.signal("SIGTERM")
    expect((await proc.exited).code, proc.stderr()).toBe(0)
  }, 120_000)
})

describe("decnet up with the bus down", () => {
  it("stores every event while the broker is dead, and publishes again once it is back", async () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-up-bus-"))
    const socket = join(home, "bus.sock")
    const env = cleanEnv({ HOME: home, DECNET_CONFIG: join(home, "absent.ini"), DECNET_BUS_SOCKET: socket })
    const broker = decnet(["bus", "--group", "", "--heartbeat", "0"], env)
    expect(await waitUntil(() => broker.stderr().includes("listening on"), 20_000)).toBe(true)
    const { proc, ready } = await startUp(env)
    expect(ready.bus).toContain("a running `decnet bus`")
    const redis = endpoint(ready, "decky-02", "redis")

    broker.signal("SIGKILL")
    await broker.exited
    await redisAuth(redis, "while-down", "pw1")
    // Until the row is there: a count of 0 is "not yet", not an answer (redis-cli returns as soon as the
    // emulator replies, which can be before the event is stored).
    const stored = await waitUntil(() => {
      const n = query<{ n: number }>(
        ready.db,
        "SELECT COUNT(*) AS n FROM credentials WHERE principal = 'while-down'"
      )[0]?.n
      return n === undefined || n === 0 ? undefined : n
    }, 2_000)
    expect(stored).toBe(1)
    expect(proc.child.exitCode).toBeNull()

    const back = decnet(["bus", "--group", "", "--heartbeat", "0"], env)
    expect(await waitUntil(() => back.stderr().includes("listening on"), 20_000)).toBe(true)
    const creds = decnet(["bus", "sub", "credential.captured", "--json"], env)
    expect(await waitUntil(() => creds.stderr().includes("subscribed to"), 20_000)).toBe(true)
    // The clients reconnect with backoff: touch (a new secret each time, so each is a new credential)
    // until a notice comes through. The notice carries the secret's hash, never the secret.
    const tried: Array<string> = []
    const seen = await waitUntil(
      async () => {
        const secret = `pw-after-${tried.length}`
        tried.push(createHash("sha256").update(secret).digest("hex"))
        await redisAuth(redis, "after-restart", secret)
        return tried.some((h) => creds.stdout().includes(h)) || undefined
      },
      30_000,
      1_000
    )
    expect(seen, proc.stderr()).toBe(true)
    expect(
      query<{ n: number }>(
        ready.db,
        "SELECT COUNT(*) AS n FROM credentials WHERE principal = 'while-down'"
      )[0]?.n
    ).toBe(1)
    proc.signal("SIGTERM")
    expect((await proc.exited).code).toBe(0)
    creds.signal("SIGTERM")
    back.signal("SIGTERM")
  }, 120_000)
})
