// `decnet topology …` as child processes with their own HOME (SQLite under ~/.decnet), spec/topology.md §10:
// generate (same seed, same topology; the subnets of live topologies skipped, released by torn_down ones),
// list and show in text and --json, mutate and mutations, delete's refusal and confirmation, and
// deploy --dry-run. Statuses a command cannot reach without a runtime are set in the database directly.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { DECNET } from "../support/cli.js"
import { cleanEnv } from "../support/proc.js"
import { spawnAsync } from "../support/spawn.js"
import { cli } from "./upSupport.js"

interface Summary {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly version: number
}
interface Detail {
  readonly topology: Summary
  readonly lans: ReadonlyArray<{ readonly name: string; readonly subnet: string; readonly is_dmz: boolean }>
  readonly deckies: ReadonlyArray<{ readonly name: string; readonly services: ReadonlyArray<string> }>
  readonly edges: ReadonlyArray<unknown>
}

const freshEnv = () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-topology-cli-"))
  // No bus broker here: the hints are dropped quietly.
  return cleanEnv({ HOME: home, DECNET_CONFIG: join(home, "absent.ini"), DECNET_BUS_ENABLED: "false" })
}

const dbOf = (env: NodeJS.ProcessEnv) => join(env.HOME ?? "", ".decnet", "decnet.db")

/** Run one statement on the CLI's database, as another process would. */
const exec = (env: NodeJS.ProcessEnv, sql: string, ...params: ReadonlyArray<string>) => {
  const db = new Database(dbOf(env), { fileMustExist: true })
  try {
    db.prepare(sql).run(...params)
  } finally {
    db.close()
  }
}

const ok = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, input?: string) => {
  const r = await (input === undefined ? cli(args, env) : cliWithInput(args, env, input))
  expect(r.status, `${args.join(" ")}\n${r.stderr}`).toBe(0)
  return r.stdout
}
const refused = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, input?: string) => {
  const r = await (input === undefined ? cli(args, env) : cliWithInput(args, env, input))
  expect(r.status, `${args.join(" ")}\n${r.stdout}`).toBe(1)
  return r.stderr.trim().split("\n").at(-1) ?? ""
}

const cliWithInput = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, input: string) =>
  spawnAsync(process.execPath, [...DECNET, ...args], { env, input, timeout: 60_000 })

const shape = (d: Detail) => ({
  lans: d.lans.map((l) => [l.name, l.is_dmz]),
  deckies: d.deckies.map((x) => [x.name, x.services]),
  edges: d.edges.length
})

describe("decnet topology", () => {
  it("generate: the same seed gives the same topology on free subnets; text and --json; bad flags exit 1", async () => {
    const env = freshEnv()
    const text = await ok(["topology", "generate", "--name", "alpha", "--depth", "2", "--seed", "7"], env)
    expect(text).toMatch(
      /^Generated topology alpha \([0-9a-f-]{36}\): \d+ LANs, \d+ deckies, \d+ edges; seed 7\.$/m
    )
    const beta = JSON.parse(
      await ok(["topology", "generate", "--name", "beta", "--depth", "2", "--seed", "7", "--json"], env)
    ) as Summary
    expect(beta).toMatchObject({ name: "beta", status: "pending", version: 1, mode: "unihost" })

    const alpha = JSON.parse(await ok(["topology", "show", "alpha", "--json"], env)) as Detail
    const betaDetail = JSON.parse(await ok(["topology", "show", beta.id, "--json"], env)) as Detail
    expect(shape(betaDetail)).toEqual(shape(alpha))
    const held = new Set(alpha.lans.map((l) => l.subnet))
    expect(betaDetail.lans.some((l) => held.has(l.subnet))).toBe(false)
    expect(alpha.lans[0]).toMatchObject({ name: "LAN-00", subnet: "172.16.0.0/24", is_dmz: true })

    // a torn-down topology holds no subnet any more
    exec(env, "UPDATE topologies SET status = 'torn_down' WHERE name = 'alpha'")
    const gamma = JSON.parse(
      await ok(
        [
          "topology",
          "show",
          (
            JSON.parse(
              await ok(
                ["topology", "generate", "--name", "gamma", "--depth", "2", "--seed", "7", "--json"],
                env
              )
            ) as Summary
          ).id,
          "--json"
        ],
        env
      )
    ) as Detail
    expect(gamma.lans.map((l) => l.subnet)).toEqual(alpha.lans.map((l) => l.subnet))

    const explicit = JSON.parse(
      await ok(
        ["topology", "generate", "--name", "plain", "--depth", "1", "--services", "ssh,http", "--json"],
        env
      )
    ) as Summary
    const plain = JSON.parse(await ok(["topology", "show", explicit.id, "--json"], env)) as Detail
    expect(new Set(plain.deckies.map((d) => d.services.join(",")))).toEqual(new Set(["ssh,http"]))

    expect(await refused(["topology", "generate", "--name", "x", "--deckies-per-lan", "3"], env)).toBe(
      "decnet: --deckies-per-lan must be MIN-MAX (e.g. 1-3), got '3'"
    )
    expect(await refused(["topology", "generate", "--name", "x", "--deckies-per-lan", "3-1"], env)).toContain(
      "deckies_per_lan_min must be <= deckies_per_lan_max"
    )
    expect(await refused(["topology", "generate", "--name", "x", "--depth", "17"], env)).toMatch(
      /^decnet: depth: /
    )
    expect(await refused(["topology", "generate", "--name", "x", "--no-randomize-services"], env)).toContain(
      "either randomize_services=True or services_explicit must be set"
    )
    expect(await refused(["topology", "generate", "--name", "beta"], env)).toBe(
      "decnet: A topology named 'beta' already exists."
    )
  }, 120_000)

  it("list and show: text tables and --json; show tags bridges and L3 forwarders per LAN", async () => {
    const env = freshEnv()
    expect((await ok(["topology", "list"], env)).trim()).toBe("No topologies.")
    const a = JSON.parse(
      await ok(
        [
          "topology",
          "generate",
          "--name",
          "one",
          "--depth",
          "1",
          "--branching",
          "1",
          "--seed",
          "3",
          "--json"
        ],
        env
      )
    ) as Summary
    await ok(["topology", "generate", "--name", "two", "--depth", "1", "--seed", "4"], env)
    const listed = JSON.parse(await ok(["topology", "list", "--json"], env)) as ReadonlyArray<Summary>
    expect(listed.map((t) => t.name)).toEqual(["two", "one"])
    const table = await ok(["topology", "list"], env)
    expect(table).toMatch(/^ID +NAME +STATUS +MODE +VERSION +CREATED$/m)
    expect(table).toMatch(new RegExp(`^${a.id} +one +pending +unihost +1 `, "m"))
    expect(JSON.parse(await ok(["topology", "list", "--status", "active", "--json"], env))).toEqual([])

    const shown = await ok(["topology", "show", "one"], env)
    expect(shown).toContain(`one (${a.id})`)
    expect(shown).toMatch(/^LAN-00 +172\.16\.0\.0\/24 +DMZ$/m)
    expect(shown).toMatch(/^LAN-01 +172\.16\.1\.0\/24$/m)
    // LAN-01's bridge decky sits on the DMZ too, forwarding, homed on LAN-01
    expect(shown).toMatch(/^ {2}decky-\d{3} +172\.16\.0\.3 +pending +\S+ +bridge, L3-forward, home LAN-01$/m)
    expect(shown).toMatch(/^ {2}decky-\d{3} +172\.16\.1\.\d+ +pending +\S+ +bridge, L3-forward$/m)
    expect(await refused(["topology", "show", "nope"], env)).toBe("decnet: topology 'nope' not found")
    // master only (spec/swarm.md §1): an agent refuses the whole group
    expect(await refused(["topology", "list"], { ...env, DECNET_MODE: "agent" })).toContain(
      "`decnet topology` is a master-only command"
    )
  }, 120_000)

  it("mutate and mutations: refused while pending; queued on an active topology; --state filter; bad input", async () => {
    const env = freshEnv()
    const t = JSON.parse(
      await ok(["topology", "generate", "--name", "live", "--depth", "1", "--seed", "5", "--json"], env)
    ) as Summary
    expect(
      await refused(["topology", "mutate", "live", "add_lan", "--payload-json", '{"name":"x"}'], env)
    ).toBe(
      "decnet: Topology is 'pending'; mutations apply to an active or degraded topology (deploy it first, or edit it directly while it is pending)."
    )
    exec(env, "UPDATE topologies SET status = 'active' WHERE id = ?", t.id)
    const queued = await ok(
      ["topology", "mutate", "live", "add_lan", "--payload-json", '{"name":"LAN-09"}'],
      env
    )
    expect(queued).toMatch(/^Queued mutation [0-9a-f-]{36} \(add_lan\) on topology live;/)
    const accepted = JSON.parse(
      await ok(
        [
          "topology",
          "mutate",
          t.id,
          "remove_lan",
          "--payload-json",
          '{"name":"LAN-09"}',
          "--expected-version",
          "1",
          "--json"
        ],
        env
      )
    ) as { mutation_id: string; state: string }
    expect(accepted.state).toBe("pending")
    expect(await refused(["topology", "mutate", "live", "add_lan", "--expected-version", "1"], env)).toBe(
      "decnet: topology version conflict: expected 1, current is 2"
    )
    const rows = JSON.parse(await ok(["topology", "mutations", "live", "--json"], env)) as ReadonlyArray<{
      id: string
      op: string
      state: string
      payload: unknown
    }>
    expect(rows.map((r) => [r.op, r.state])).toEqual([
      ["remove_lan", "pending"],
      ["add_lan", "pending"]
    ])
    expect(rows[0]?.id).toBe(accepted.mutation_id)
    expect(rows[1]?.payload).toEqual({ name: "LAN-09" })
    expect(
      JSON.parse(await ok(["topology", "mutations", "live", "--state", "applied", "--json"], env))
    ).toEqual([])
    expect(await ok(["topology", "mutations", "live"], env)).toMatch(
      /^ID +OP +STATE +REQUESTED +APPLIED +PAYLOAD +REASON$/m
    )
    expect(await refused(["topology", "mutate", "live", "add_lan", "--payload-json", "[1]"], env)).toMatch(
      /^decnet: --payload-json must be one JSON object/
    )
    expect((await cli(["topology", "mutate", "live", "explode"], env)).status).toBe(1)
  }, 120_000)

  it("delete: refuses a live topology and says what to do; asks first unless --force", async () => {
    const env = freshEnv()
    const t = JSON.parse(
      await ok(["topology", "generate", "--name", "doomed", "--depth", "1", "--json"], env)
    ) as Summary
    exec(env, "UPDATE topologies SET status = 'active' WHERE id = ?", t.id)
    expect(await refused(["topology", "delete", "doomed", "--force"], env)).toBe(
      "decnet: Topology is 'active'; teardown to 'torn_down' before delete. Run `decnet topology teardown doomed` first, then delete it."
    )
    exec(env, "UPDATE topologies SET status = 'torn_down' WHERE id = ?", t.id)
    expect(await refused(["topology", "delete", "doomed"], env, "n\n")).toBe(
      "decnet: not deleted (confirm with y, or pass --force)"
    )
    const yes = await ok(["topology", "delete", "doomed"], env, "y\n")
    expect(yes).toContain(`Deleted topology doomed (${t.id}).`)
    expect(await refused(["topology", "show", t.id], env)).toBe(`decnet: topology '${t.id}' not found`)
    await ok(["topology", "generate", "--name", "quick", "--depth", "1"], env)
    expect(JSON.parse(await ok(["topology", "delete", "quick", "--force", "--json"], env))).toMatchObject({
      deleted: true
    })
  }, 120_000)

  it("deploy --dry-run validates and starts nothing; an invalid topology is refused with its codes", async () => {
    const env = freshEnv()
    const t = JSON.parse(
      await ok(["topology", "generate", "--name", "dry", "--depth", "2", "--seed", "9", "--json"], env)
    ) as Summary
    const text = await ok(["topology", "deploy", "dry", "--dry-run"], env)
    expect(text.trim()).toMatch(
      /^Topology dry is valid: \d+ LANs, \d+ deckies, \d+ edges\. Dry run: nothing started, status stays pending\.$/
    )
    const planned = JSON.parse(await ok(["topology", "deploy", t.id, "--dry-run", "--json"], env)) as {
      topology: Detail
      warnings: ReadonlyArray<unknown>
    }
    expect(planned.topology.topology.id).toBe(t.id)
    expect(planned.warnings).toEqual([])
    expect((JSON.parse(await ok(["topology", "show", "dry", "--json"], env)) as Detail).topology.status).toBe(
      "pending"
    )
    exec(
      env,
      "DELETE FROM topology_edges WHERE decky_uuid = (SELECT uuid FROM topology_deckies WHERE topology_id = ? AND name = 'decky-001')",
      t.id
    )
    expect(await refused(["topology", "deploy", "dry", "--dry-run"], env)).toMatch(
      /^decnet: \d+ topology validation error\(s\): .*\[DECKY_ORPHAN\] decky 'decky-001' has no LAN edges/
    )
    expect(await refused(["topology", "deploy", "dry", "--runtime", "inprocess"], env)).toContain(
      "an in-process topology runs inside `decnet up`"
    )
    exec(env, "UPDATE topologies SET status = 'active' WHERE id = ?", t.id)
    expect(await refused(["topology", "deploy", "dry"], env)).toBe(
      "decnet: Topology is 'active'; only a pending topology can be deployed."
    )
  }, 120_000)
})
