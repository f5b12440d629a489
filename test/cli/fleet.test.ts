// The fleet CLI on the in-process runtime, as child processes with their own HOME (SQLite under
// ~/.decnet): `deploy --dry-run` plans without storing, bad input gets the spec's error texts, a deployment
// recorded by `deploy --runtime inprocess` is what `decnet up` serves, a deploy while `up` runs is applied
// by it, `logs` filters what it prints, and `teardown --all` stops the deckies.
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cleanEnv, stopAll, waitUntil } from "../support/proc.js"
import { cli, hostPort, query, redisAuth, refuses, startUp } from "./upSupport.js"

interface Planned {
  readonly config: {
    readonly runtime: string
    readonly subnet: string
    readonly deckies: ReadonlyArray<{
      readonly name: string
      readonly ip: string
      readonly services: ReadonlyArray<string>
    }>
  }
}
interface Status extends Planned {
  readonly states: Record<string, string>
  readonly ports: Record<string, ReadonlyArray<{ readonly service: string; readonly port: number }>>
}
interface Row {
  readonly decky: string
  readonly service: string
  readonly event_type: string
}

const freshEnv = () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-fleet-cli-"))
  return cleanEnv({ HOME: home, DECNET_CONFIG: join(home, "absent.ini") })
}

/**
 * A deployment INI of `n` redis deckies. Deckies from an INI start their mutate interval now; deckies
 * planned from flags start it at 0 (spec: the mutator's first pass finds them due), so `up`'s mutator
 * would rotate their services while the test talks to them.
 */
const redisFleet = (env: NodeJS.ProcessEnv, n: number) => {
  const file = join(env.HOME ?? "", `fleet-${n}.ini`)
  const sections = Array.from({ length: n }, (_, i) => `[decky-0${i + 1}]\nservices=redis\n`)
  writeFileSync(file, sections.join("\n"))
  return file
}

afterAll(stopAll)

describe("decnet deploy / status / teardown (in-process runtime)", () => {
  it("--dry-run plans and prints (text and --json) and stores nothing", async () => {
    const env = freshEnv()
    const text = await cli(
      ["deploy", "--dry-run", "-n", "2", "--services", "ssh,redis", "--runtime", "inprocess"],
      env
    )
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^DECKY +IP +SERVICES +DISTRO +HOSTNAME +ARCHETYPE$/m)
    expect(text.stdout).toMatch(/^decky-01 +127\.77\.0\.2 +ssh,redis /m)
    expect(text.stdout).toMatch(/^decky-02 +127\.77\.0\.3 +ssh,redis /m)
    expect(text.stdout).toContain("Dry run: no deckies started, nothing stored.")

    const json = await cli(
      [
        "deploy",
        "--dry-run",
        "--archetype",
        "database-server",
        "-n",
        "3",
        "--runtime",
        "inprocess",
        "--json"
      ],
      env
    )
    expect(json.status, json.stderr).toBe(0)
    const plan = JSON.parse(json.stdout) as Planned
    expect(plan.config.runtime).toBe("inprocess")
    expect(plan.config.subnet).toBe("127.77.0.0/24")
    expect(plan.config.deckies.map((d) => [d.name, d.ip])).toEqual([
      ["decky-01", "127.77.0.2"],
      ["decky-02", "127.77.0.3"],
      ["decky-03", "127.77.0.4"]
    ])

    const status = await cli(["status"], env)
    expect(status.status).toBe(0)
    expect(status.stdout.trim()).toBe("No active deployment.")
    expect((await cli(["status", "--json"], env)).stdout.trim()).toBe("null")
  }, 120_000)

  it("bad input: one line naming the problem, exit 1, nothing stored", async () => {
    const env = freshEnv()
    const cases: ReadonlyArray<[ReadonlyArray<string>, string | RegExp]> = [
      [["deploy", "--runtime", "inprocess"], "decnet: give --deckies N (or --config file.ini)"],
      [["deploy", "-n", "0", "--runtime", "inprocess"], "decnet: --deckies must be at least 1, got 0"],
      [
        ["deploy", "-n", "1", "--services", "nope", "--runtime", "inprocess"],
        /^decnet: Unknown service\(s\): \['nope'\]\. Available: \[.*'redis'.*\]$/
      ],
      [
        ["deploy", "-n", "1", "--archetype", "nope", "--runtime", "inprocess"],
        /^decnet: Unknown archetype 'nope'\. Available: .*linux-server/
      ],
      [
        ["deploy", "--config", "/nonexistent/fleet.ini", "--runtime", "inprocess"],
        "decnet: Config file not found: /nonexistent/fleet.ini"
      ],
      [["teardown", "--all"], "decnet: No active deployment found"]
    ]
    const results = await Promise.all(cases.map(([args]) => cli(args, env)))
    results.forEach((r, i) => {
      const [args, message] = cases[i] ?? [[], ""]
      expect(r.status, args.join(" ")).toBe(1)
      expect(r.stdout, args.join(" ")).toBe("")
      const last = r.stderr.trim().split("\n").at(-1) ?? ""
      if (typeof message === "string") expect(last).toBe(message)
      else expect(last).toMatch(message)
    })
    expect((await cli(["status", "--json"], env)).stdout.trim()).toBe("null")
  }, 120_000)

  it("up serves what deploy recorded, applies a deploy made while it runs, logs filters, teardown --all stops it", async () => {
    const env = freshEnv()
    const deployed = await cli(
      ["deploy", "--config", redisFleet(env, 2), "--runtime", "inprocess", "--json"],
      env
    )
    expect(deployed.status, deployed.stderr).toBe(0)
    expect((JSON.parse(deployed.stdout) as Planned).config.deckies.map((d) => d.services)).toEqual([
      ["redis"],
      ["redis"]
    ])
    const pending = JSON.parse((await cli(["status", "--json"], env)).stdout) as Status
    expect(pending.states).toEqual({ "decky-01": "pending", "decky-02": "pending" })

    const { proc, ready } = await startUp(env)
    expect(ready.resumed).toBe(true)
    expect(ready.deckies.map((d) => [d.name, d.services.map((s) => s.service)])).toEqual([
      ["decky-01", ["redis"]],
      ["decky-02", ["redis"]]
    ])
    const redis02 = ready.deckies[1]?.services[0]
    if (redis02 === undefined) throw new Error("no redis on decky-02")
    await redisAuth(redis02, "fleet-cli", "s3cret")
    const stored = await waitUntil(
      () =>
        query<Row>(ready.db, "SELECT decky FROM logs WHERE decky = 'decky-02' AND event_type = 'auth'")[0],
      5_000
    )
    expect(stored).toEqual({ decky: "decky-02" })

    // logs: the filters narrow what is printed.
    const logs = async (...args: ReadonlyArray<string>) => {
      const r = await cli(["logs", "--json", ...args], env)
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as ReadonlyArray<Row>
    }
    const auth = await logs("--decky", "decky-02", "--service", "redis", "--event", "auth")
    expect(auth.length).toBeGreaterThan(0)
    expect(
      auth.every((r) => r.decky === "decky-02" && r.service === "redis" && r.event_type === "auth")
    ).toBe(true)
    expect((await logs("--decky", "decky-02")).length).toBeGreaterThan(auth.length)
    expect(await logs("--limit", "1")).toHaveLength(1)
    expect((await logs("--since", "1h")).length).toBeGreaterThan(0)
    expect(await logs("--decky", "decky-01", "--event", "auth")).toEqual([])
    const none = await cli(["logs", "--decky", "no-such-decky"], env)
    expect(none.status).toBe(0)
    expect(none.stdout).toBe("")
    expect(none.stderr).toContain("no events match")

    // A deploy while up runs: up brings the runtime to what the database says within seconds.
    const redeployed = await cli(["deploy", "--config", redisFleet(env, 3), "--runtime", "inprocess"], env)
    expect(redeployed.status, redeployed.stderr).toBe(0)
    expect(redeployed.stdout).toContain("a running one picks them up within seconds")
    const third = await waitUntil(
      async () => {
        const s = JSON.parse((await cli(["status", "--json"], env)).stdout) as Status
        // Running (the reconciler's view) and its ports stored (the sync's): two writers, either first.
        return s.states["decky-03"] === "running" && s.ports["decky-03"] !== undefined ? s : undefined
      },
      30_000,
      500
    )
    if (!third) throw new Error(`decky-03 never ran:\n${proc.stderr()}`)
    const port03 = third.ports["decky-03"]?.find((p) => p.service === "redis")?.port
    expect(port03, `${JSON.stringify(third.ports)}\n${proc.stderr()}`).toBeDefined()
    const redis03 = { service: "redis", port: port03 ?? 0, proto: "tcp", address: `127.77.0.4:${port03}` }
    expect((await redisAuth(redis03, "third", "pw")).stderr).toBe("")

    // teardown --all: the deckies stop listening and the deployment is gone.
    const down = await cli(["teardown", "--all"], env)
    expect(down.status, down.stderr).toBe(0)
    const { host, port } = hostPort(redis02)
    expect(await waitUntil(() => refuses(host, Number(port)), 30_000, 250)).toBe(true)
    expect(await waitUntil(() => refuses("127.77.0.4", port03 ?? 0), 30_000, 250)).toBe(true)
    expect((await cli(["status"], env)).stdout.trim()).toBe("No active deployment.")
    expect(proc.child.exitCode).toBeNull()

    proc.signal("SIGINT")
    expect((await proc.exited).code, proc.stderr()).toBe(0)
  }, 180_000)
})
