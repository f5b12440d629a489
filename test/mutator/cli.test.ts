// `decnet mutate` and `decnet reconcile` as shipped (the bundle), on a SQLite file the test seeds, with the
// bus disabled and a Docker address where no engine listens: what an operator sees, the exit codes, what
// the database holds afterwards, and a clean exit on SIGTERM.
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime, Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DeploymentState } from "../../src/fleet/Model.js"
import { FleetStore } from "../../src/fleet/Store.js"
import { sqliteBackend } from "../db/backends.js"
import { DECNET } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"
import { fleetLayer, makeDecky, makeDeployment } from "../fleet/fakeRuntime.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-mutate-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const { backend, file } = sqliteBackend()
const logFile = join(dir, "decnet.log")

const env: NodeJS.ProcessEnv = {
  ...process.env,
  DECNET_MODE: "master",
  DECNET_CONFIG: join(dir, "absent.ini"),
  DECNET_DB_TYPE: "sqlite",
  DECNET_DB_PATH: file,
  DECNET_INGEST_LOG_FILE: logFile,
  DECNET_BUS_ENABLED: "false",
  DOCKER_HOST: `unix://${join(dir, "no-docker.sock")}`,
  HOME: dir
}

const run = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
  spawnAsync(process.execPath, [...DECNET, ...args], { env: { ...env, ...extra }, timeout: 60_000 })

let rt: ManagedRuntime.ManagedRuntime<FleetStore, unknown> | undefined
beforeAll(async () => {
  rt = ManagedRuntime.make(fleetLayer(backend))
  await rt.runPromise(FleetStore)
})
afterAll(async () => {
  await rt?.dispose()
})
const store = <A>(f: (s: FleetStore) => Effect.Effect<A>) => {
  if (rt === undefined) throw new Error("no runtime")
  return rt.runPromise(Effect.flatMap(FleetStore, f))
}
const seed = (d: DeploymentState | undefined) => store((s) => (d === undefined ? s.clear() : s.save(d)))
const lines = () => {
  try {
    return readFileSync(logFile, "utf8")
      .split("\n")
      .filter((l) => l !== "")
  } catch {
    return []
  }
}

describe("decnet mutate / reconcile", () => {
  it("without a deployment: nothing due, --decky fails, flags that contradict each other fail", async () => {
    await seed(undefined)
    const none = await run(["mutate"])
    expect(none.status).toBe(0)
    expect(none.stdout).toContain("No active deployment")
    const one = await run(["mutate", "--decky", "web01"])
    expect(one.status).toBe(1)
    expect(one.stderr).toContain("decnet: No active deployment")
    const both = await run(["mutate", "--decky", "web01", "--all"])
    expect(both.status).toBe(1)
    expect(both.stderr).toContain("use --decky NAME or --all, not both")
    const watchAll = await run(["mutate", "--watch", "--all"])
    expect(watchAll.status).toBe(1)
    const once = await run(["reconcile", "--once"])
    expect(once.status).toBe(0)
    expect(once.stdout).toContain("0 inserted, 0 deleted, 0 state changes")
  })

  it("is master-only: refused on an agent host", async () => {
    const r = await run(["mutate"], { DECNET_MODE: "agent", DECNET_DISALLOW_MASTER: "true" })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("master-only")
  })

  it("a Docker fleet whose engine is down: the new set is saved, no decky_mutated, exit 1", async () => {
    await seed(
      makeDeployment([makeDecky("web01", { archetype: "linux-server", services: ["ssh"] })], {
        runtime: "docker",
        interface: "eth0",
        subnet: "192.168.1.0/24",
        gateway: "192.168.1.1"
      })
    )
    const r = await run(["mutate", "--decky", "web01"])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("decnet: Failed to mutate web01:")
    expect(r.stderr).toContain("Docker engine not reachable")
    const after = Option.getOrThrow(await store((s) => s.load()))
    expect(after.config.deckies[0].services).not.toEqual(["ssh"])
    expect(after.config.deckies[0].last_mutated).toBeGreaterThan(0)
    expect(lines().filter((l) => l.includes("decky_mutated"))).toEqual([])

    const rec = await run(["reconcile", "--once"])
    expect(rec.status).toBe(1)
    expect(rec.stderr).toContain("cannot read the runtime's state")
  })

  it("an in-process fleet: the schedule is `decnet up`'s; a request needs the bus", async () => {
    await seed(makeDeployment([makeDecky("web01")]))
    const due = await run(["mutate"])
    expect(due.status).toBe(0)
    expect(due.stdout).toContain("`decnet up` runs its schedule")
    const one = await run(["mutate", "--decky", "web01"])
    expect(one.status).toBe(1)
    expect(one.stderr).toContain("the bus is disabled")
    const rec = await run(["reconcile", "--once"])
    expect(rec.status).toBe(0)
    expect(rec.stdout).toContain("`decnet up` reconciles it")
  })

  it("mutate --watch and reconcile exit 0 on SIGTERM", async () => {
    await seed(makeDeployment([makeDecky("web01")]))
    const stopped = (args: ReadonlyArray<string>, ready: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [...DECNET, ...args], { env })
        let stderr = ""
        const timer = setTimeout(() => {
          child.kill("SIGKILL")
          reject(new Error(`${args.join(" ")} never logged "${ready}": ${stderr}`))
        }, 60_000)
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
          stderr += d
          if (stderr.includes(ready)) child.kill("SIGTERM")
        })
        child.on("close", (code) => {
          clearTimeout(timer)
          resolve({ code, stderr })
        })
      })
    const [watch, reconcile] = await Promise.all([
      stopped(["mutate", "--watch"], "idling"),
      stopped(["reconcile", "--interval", "5"], "reconciler running every 5s")
    ])
    expect(watch.code).toBe(0)
    expect(watch.stderr).toContain(
      "the deployment runs on the inprocess runtime, which its own process mutates; idling"
    )
    expect(reconcile.code).toBe(0)
  })
})
