// A deploy or teardown that a stopped process left unfinished, finished by a restart of the process that owns
// it (src/topology/Recovery.ts), through the real bundle. The unfinished operation is real: deployer.ts runs
// deployTopology/teardownTopology in a process of its own, named as that owner, and is SIGKILLed once the
// status and its owner are written (test/topology/interrupt.ts). Then:
// - `decnet up` (in-process) starts: the deploy is run again and its deckies answer; the teardown ends;
// - `decnet api` (Docker; DOCKER_HOST points at no engine, so nothing real is touched) starts: it takes both
//   over, and the engine's absence ends them `failed` and `degraded` with the reason, no longer stuck;
// - `decnet topology deploy` run again finishes its own, and refuses, naming it, one whose owner still runs.
import { mkdtempSync } from "node:fs"
import * as os from "node:os"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SqlClient } from "@effect/sql"
import { Effect, Layer, type Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { MigrationsLive, SqliteLive } from "../../src/db/index.js"
import { deployTopology } from "../../src/topology/Deploy.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { makeWorld, persistGenerated } from "../topology/harness.js"
import { DOCKER_SKIP_REASON, dockerEnabled } from "../fleet/dockerSupport.js"
import { spawnAsync } from "../support/spawn.js"
import { startDeployer } from "../topology/interrupt.js"
import { cli, query, run } from "./upSupport.js"

afterAll(stopAll)

/** An effect on the SQLite file, migrated, as one more process would open it. */
const onDb = <A, E>(
  file: string,
  effect: Effect.Effect<A, E, TopologyRepo | SqlClient.SqlClient | Scope.Scope>
) =>
  Effect.runPromise(
    Effect.scoped(effect).pipe(
      Effect.provide(
        TopologyRepo.Default.pipe(Layer.provideMerge(MigrationsLive), Layer.provideMerge(SqliteLive(file)))
      )
    )
  )

/** A small generated topology (one LAN under the DMZ, redis everywhere) on its own loopback block. */
const generated = (file: string, seed: number, base: string) =>
  onDb(
    file,
    Effect.map(
      persistGenerated({
        seed,
        depth: 1,
        branching_factor: 1,
        services_explicit: ["redis"],
        randomize_services: false,
        subnet_base_prefix: base
      }),
      (g) => g.topology.id
    )
  )

/** Deployed (active) by this process on a runtime that only records. */
const deployedHere = (file: string, id: string) =>
  onDb(
    file,
    Effect.flatMap(makeWorld(), (w) => w.provide(deployTopology(id)))
  )

interface Event {
  readonly from_status: string
  readonly to_status: string
  readonly reason: string | null
}
const statusOf = (file: string, id: string) =>
  query<{ status: string }>(file, "SELECT status FROM topologies WHERE id = ?", id)[0]?.status
/** The events in the order they were written (ids are UUIDv7). */
const auditOf = (file: string, id: string) =>
  query<Event & { id: string }>(
    file,
    "SELECT id, from_status, to_status, reason FROM topology_status_events WHERE topology_id = ? ORDER BY id",
    id
  )
const host = os.hostname()

describe("an unfinished deploy or teardown, after its owner stopped", () => {
  it("decnet up starts: the deploy it left is run again (its deckies answer), the teardown ends", async () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-interrupted-up-"))
    const db = join(home, "decnet.db")
    const deploying = await generated(db, 3, "10.3.0.0/16")
    const tearing = await generated(db, 4, "10.3.0.0/16")
    await deployedHere(db, tearing)
    const owner = { kind: "sqlite", target: db } as const
    const first = await startDeployer(owner, deploying, "deploy", "in-process", "decnet up")
    const gonePid = first.child.pid
    await first.kill()
    await (await startDeployer(owner, tearing, "teardown", "in-process", "decnet up")).kill()
    expect([statusOf(db, deploying), statusOf(db, tearing)]).toEqual(["deploying", "tearing_down"])

    const proc = decnet(
      ["up", "--json"],
      cleanEnv({
        HOME: home,
        DECNET_CONFIG: join(home, "absent.ini"),
        DECNET_DB_PATH: db,
        DECNET_BUS_SOCKET: join(home, "bus.sock"),
        DECNET_API_PORT: String(await freePort())
      })
    )
    const ready = await waitUntil(() => {
      const line = proc
        .stdout()
        .split("\n")
        .find((l) => l.startsWith("{") && l.endsWith("}"))
      return line !== undefined
        ? (JSON.parse(line) as {
            topologies?: ReadonlyArray<{
              id: string
              status: string
              deckies: ReadonlyArray<{
                state: string
                addresses: ReadonlyArray<{ services: ReadonlyArray<{ service: string; address: string }> }>
              }>
            }>
          })
        : proc.child.exitCode !== null
          ? false
          : undefined
    }, 90_000)
    if (!ready) throw new Error(`decnet up did not become ready:\n${proc.stdout()}\n${proc.stderr()}`)
    const t = ready.topologies?.find((x) => x.id === deploying)
    expect(t?.status).toBe("active")
    expect(t?.deckies.every((d) => d.state === "running")).toBe(true)
    // Its deckies serve: redis answers on every address of every decky.
    const addresses = (t?.deckies ?? []).flatMap((d) => d.addresses.flatMap((a) => a.services))
    expect(addresses.length).toBeGreaterThan(0)
    for (const s of addresses.filter((x) => x.service === "redis")) {
      const [h = "", p = ""] = s.address.split(":")
      expect((await run("redis-cli", ["-h", h, "-p", p, "PING"], { timeout: 10_000 })).stdout.trim()).toBe(
        "PONG"
      )
    }
    // The take-over is in the audit: this up, resuming what the killed one left.
    const takeOver = auditOf(db, deploying).find(
      (e) => e.from_status === "deploying" && e.to_status === "deploying"
    )
    expect(takeOver?.reason).toMatch(
      new RegExp(
        `^by decnet up on ${host} \\(pid ${proc.child.pid}, started \\S+, in-process runtime\\); resuming the deploy left unfinished by decnet up on ${host} \\(pid ${gonePid}, `
      )
    )
    expect(statusOf(db, tearing)).toBe("torn_down")
    expect(
      auditOf(db, tearing)
        .map((e) => `${e.from_status}→${e.to_status}`)
        .slice(-3)
    ).toEqual(["active→tearing_down", "tearing_down→tearing_down", "tearing_down→torn_down"])
    proc.signal("SIGINT")
    await proc.exited
  }, 180_000)

  it("decnet api starts: it takes over the deploy and the teardown a killed decnet api left on this host", async () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-interrupted-api-"))
    const db = join(home, "decnet.db")
    const deploying = await generated(db, 5, "10.4.0.0/16")
    const tearing = await generated(db, 6, "10.4.0.0/16")
    await deployedHere(db, tearing)
    const owner = { kind: "sqlite", target: db } as const
    await (await startDeployer(owner, deploying, "deploy", "docker", "decnet api")).kill()
    await (await startDeployer(owner, tearing, "teardown", "docker", "decnet api")).kill()

    const port = await freePort()
    const proc = decnet(
      ["api", "--port", String(port)],
      cleanEnv({
        HOME: home,
        DECNET_CONFIG: join(home, "absent.ini"),
        DECNET_DB_PATH: db,
        DECNET_BUS_ENABLED: "false",
        DECNET_JWT_SECRET: "a-long-enough-secret-for-the-api-0123456789",
        DECNET_ADMIN_PASSWORD: "a-good-admin-password",
        // No engine behind it: the take-over reaches the runtime, which cannot answer, and nothing real moves.
        DOCKER_HOST: `unix://${join(home, "no-docker.sock")}`
      })
    )
    const settled = await waitUntil(
      () =>
        statusOf(db, deploying) !== "deploying" && statusOf(db, tearing) !== "tearing_down"
          ? true
          : proc.child.exitCode !== null
            ? false
            : undefined,
      60_000,
      100
    )
    if (!settled) throw new Error(`decnet api did not take them over:\n${proc.stderr()}`)
    const resumedBy = new RegExp(
      `^by decnet api on ${host} \\(pid ${proc.child.pid}, started \\S+, docker runtime\\); resuming the (deploy|teardown) left unfinished by decnet api on ${host} `
    )
    const deployAudit = auditOf(db, deploying)
    expect(deployAudit.map((e) => `${e.from_status}→${e.to_status}`)).toEqual([
      "pending→deploying",
      "deploying→deploying",
      "deploying→failed"
    ])
    expect(deployAudit[1]?.reason).toMatch(resumedBy)
    expect(deployAudit[2]?.reason).toMatch(/docker|engine/i)
    const teardownAudit = auditOf(db, tearing)
    expect(teardownAudit.map((e) => `${e.from_status}→${e.to_status}`).slice(-3)).toEqual([
      "active→tearing_down",
      "tearing_down→tearing_down",
      "tearing_down→degraded"
    ])
    expect(teardownAudit.at(-2)?.reason).toMatch(resumedBy)
    proc.signal("SIGTERM")
    await proc.exited
  }, 120_000)

  it("decnet topology deploy run again finishes its own deploy, and names the owner of one that still runs", async () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-interrupted-cli-"))
    const db = join(home, "decnet.db")
    const env = cleanEnv({
      HOME: home,
      DECNET_CONFIG: join(home, "absent.ini"),
      DECNET_DB_PATH: db,
      DECNET_BUS_ENABLED: "false",
      DOCKER_HOST: `unix://${join(home, "no-docker.sock")}`
    })
    const mine = await generated(db, 7, "10.5.0.0/16")
    const busy = await generated(db, 8, "10.5.0.0/16")
    const owner = { kind: "sqlite", target: db } as const
    await (await startDeployer(owner, mine, "deploy", "docker", "decnet topology")).kill()
    const running = await startDeployer(owner, busy, "deploy", "docker", "decnet topology")
    try {
      const refused = await cli(["topology", "deploy", busy], env)
      expect(refused.status).toBe(1)
      expect(refused.stderr).toMatch(
        new RegExp(
          `decnet: Topology is 'deploying' by decnet topology on ${host} \\(pid ${running.child.pid}, started \\S+, docker runtime\\): it is still running\\.`
        )
      )
      expect(statusOf(db, busy)).toBe("deploying")
    } finally {
      await running.kill()
    }
    // Its own (the one a killed run left) is taken over; no engine answers, so it ends failed with why.
    const again = await cli(["topology", "deploy", mine], env)
    expect(again.status, again.stderr).toBe(1)
    expect(statusOf(db, mine)).toBe("failed")
    const audit = auditOf(db, mine)
    expect(audit.map((e) => `${e.from_status}→${e.to_status}`)).toEqual([
      "pending→deploying",
      "deploying→deploying",
      "deploying→failed"
    ])
    expect(audit[1]?.reason).toMatch(
      /^by decnet topology on \S+ \(pid \d+, started \S+, docker runtime\); resuming the deploy/
    )
    expect(again.stderr).toContain(`decnet: ${audit[2]?.reason ?? "?"}`)
  }, 120_000)
})

// [docker] The same on the real engine, interrupted for real: `decnet topology deploy` is SIGKILLed while the
// topology is `deploying` (the Docker runtime mid-way), then `decnet api` starts and takes it over: the
// topology ends active with every decky's containers running, and its own teardown removes them. Networks
// on 10.233.0.0/16, made by the deploy under test; afterAll removes whatever has the topology's prefix.
if (!dockerEnabled) {
  describe("[docker] an unfinished deploy on the engine", () => {
    it.skip(DOCKER_SKIP_REASON, () => {})
  })
} else {
  describe("[docker] an unfinished deploy on the engine", () => {
    const home = mkdtempSync(join(tmpdir(), "decnet-interrupted-docker-"))
    const db = join(home, "decnet.db")
    const env = {
      HOME: home,
      DECNET_CONFIG: join(home, "absent.ini"),
      DECNET_DB_PATH: db,
      DECNET_BUS_ENABLED: "false"
    }
    let id = ""
    afterAll(async () => {
      if (id === "") return
      const prefix = `decnet_t_${id.slice(0, 8)}_`
      const names = async (args: ReadonlyArray<string>) =>
        (await spawnAsync("docker", [...args])).stdout.split("\n").filter((n) => n.startsWith(prefix))
      for (const c of await names(["ps", "-a", "--format", "{{.Names}}"]))
        await spawnAsync("docker", ["rm", "-f", c])
      for (const n of await names(["network", "ls", "--format", "{{.Name}}"]))
        await spawnAsync("docker", ["network", "rm", n])
      const rules = (await spawnAsync("iptables", ["-w", "-S", "DOCKER-USER"])).stdout
        .split("\n")
        .filter((l) => l.includes(prefix))
      for (const r of rules)
        await spawnAsync("iptables", ["-w", "-D", ...r.replace(/^-A /, "").trim().split(/\s+/)])
    })

    it("[docker] decnet topology deploy SIGKILLed mid-way: the next decnet api takes it over to active, containers running", async () => {
      id = await generated(db, 11, "10.233.0.0/16")
      const deploy = decnet(["topology", "deploy", id], cleanEnv(env))
      const deploying = await waitUntil(
        () => (statusOf(db, id) === "deploying" ? true : undefined),
        60_000,
        10
      )
      expect(deploying).toBe(true)
      deploy.signal("SIGKILL")
      await deploy.exited
      expect(statusOf(db, id)).toBe("deploying")

      const api = decnet(
        ["api", "--port", String(await freePort())],
        cleanEnv({
          ...env,
          DECNET_JWT_SECRET: "a-long-enough-secret-for-the-api-0123456789",
          DECNET_ADMIN_PASSWORD: "a-good-admin-password"
        })
      )
      try {
        const ended = await waitUntil(
          () => {
            const s = statusOf(db, id)
            return s !== "deploying" ? s : api.child.exitCode !== null ? false : undefined
          },
          180_000,
          200
        )
        expect(ended, api.stderr()).toBe("active")
        const audit = auditOf(db, id)
        expect(audit.map((e) => `${e.from_status}→${e.to_status}`)).toEqual([
          "pending→deploying",
          "deploying→deploying",
          "deploying→active"
        ])
        expect(audit[0]?.reason).toMatch(/^by decnet topology on /)
        expect(audit[1]?.reason).toMatch(new RegExp(`^by decnet api on ${host} \\(pid ${api.child.pid}, `))
        const running = (await spawnAsync("docker", ["ps", "--format", "{{.Names}}"])).stdout
          .split("\n")
          .filter((n) => n.startsWith(`decnet_t_${id.slice(0, 8)}_`))
        const deckies =
          query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM topology_deckies WHERE topology_id = ?", id)[0]
            ?.n ?? 0
        // A base and a services container per decky (every decky runs redis).
        expect(running.length).toBe(2 * deckies)
      } finally {
        api.signal("SIGTERM")
        await api.exited
      }
      const down = await cli(["topology", "teardown", id], cleanEnv(env))
      expect(down.status, down.stderr).toBe(0)
      expect(statusOf(db, id)).toBe("torn_down")
    }, 300_000)
  })
}
