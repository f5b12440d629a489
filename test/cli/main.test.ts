import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { allowed, masterBlocked, refusalMessage, roleOf } from "../../src/cli/mode.js"
import { DECNET } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"

// DECNET_CONFIG points at a file that does not exist unless a test writes one, so the host's
// /etc/decnet/decnet.ini never leaks into these runs.
const noIni = join(mkdtempSync(join(tmpdir(), "decnet-cli-")), "absent.ini")

// Each run gets its own HOME: `up --once` starts the embedded default under ~/.decnet.
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnAsync(process.execPath, [...DECNET, ...args], {
    env: {
      ...process.env,
      HOME: mkdtempSync(join(tmpdir(), "decnet-cli-home-")),
      DECNET_MODE: "master",
      DECNET_CONFIG: noIni,
      ...env
    },
    timeout: 60_000
  })

const withoutMode = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.DECNET_MODE
  delete env.DECNET_DISALLOW_MASTER
  return env
}

// Subcommand names listed in the COMMANDS section of --help.
const listed = (help: string): Array<string> =>
  [...help.replace(/\x1b\[[0-9;]*m/g, "").matchAll(/^\s+- ([a-z][a-z-]*)/gm)].map((m) => m[1] ?? "")

describe("decnet cli", () => {
  it("--version prints the package version", async () => {
    const r = await run(["--version"])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("0.2.0")
  })

  it("up --once starts the embedded default, prints where to connect, stops and exits 0", async () => {
    const r = await run(["up", "--once"], { DECNET_MODE: "agent" })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("DECNET embedded default (mode agent, new fleet)")
    expect(r.stdout).toMatch(/^DECKY +IP +ARCHETYPE +SERVICE +ADDRESS$/m)
    expect(r.stdout).toMatch(/^decky-01 +127\.77\.0\.2 +linux-server +ssh +127\.77\.0\.2:\d+$/m)
  })

  it("an unknown subcommand exits 1 with one usage message and no stack trace", async () => {
    const r = await run(["no-such-command"])
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).toContain("Invalid subcommand")
    expect(r.stdout + r.stderr).not.toContain("at ")
  })

  it("a bad config value exits 1 naming the variable", async () => {
    const r = await run(["up", "--once"], { DECNET_MODE: "neither" })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("DECNET_MODE")
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
  })

  it("any bad setting fails start-up with DecnetConfig's one line, whichever module consumes it", async () => {
    const [port, flag] = await Promise.all([
      run(["up", "--once"], { DECNET_DB_PORT: "99999" }),
      run(["--version"], { DECNET_BUS_ENABLED: "maybe" })
    ])
    expect(port.status).toBe(1)
    expect(port.stdout).toBe("")
    expect(port.stderr).toBe(
      "decnet: configuration error: DECNET_DB_PORT: expected an integer 1-65535, got '99999'\n"
    )
    expect(flag.status).toBe(1)
    expect(flag.stderr).toBe(
      "decnet: configuration error: DECNET_BUS_ENABLED: expected a boolean (true|1|yes|on or false|0|no|off), got 'maybe'\n"
    )
  })
})

describe("mode gating", () => {
  it("blocks master-only only for agent with disallow", () => {
    expect(masterBlocked({ mode: "agent", disallowMaster: true })).toBe(true)
    expect(masterBlocked({ mode: "agent", disallowMaster: false })).toBe(false)
    expect(masterBlocked({ mode: "master", disallowMaster: true })).toBe(false)
    expect(roleOf("services")).toBe("master-only")
    expect(roleOf("bus")).toBe("both")
    expect(allowed({ mode: "agent", disallowMaster: true }, "honeypot")).toBe(true)
    expect(allowed({ mode: "agent", disallowMaster: true }, "archetypes")).toBe(false)
    expect(refusalMessage("api")).toBe(
      "`decnet api` is a master-only command; this host is configured as an agent (DECNET_MODE=agent). " +
        "Set DECNET_DISALLOW_MASTER=false for a dual-role host."
    )
  })

  it("--help on an agent hides master-only commands that a master lists", async () => {
    // Concurrently: three CLI start-ups are the slow part of this test.
    const [master, agent, dual] = (
      await Promise.all([
        run(["--help"]),
        run(["--help"], { DECNET_MODE: "agent" }),
        run(["--help"], { DECNET_MODE: "agent", DECNET_DISALLOW_MASTER: "false" })
      ])
    ).map((r) => listed(r.stdout))
    expect(master).toEqual(
      expect.arrayContaining(["up", "services", "distros", "archetypes", "bus", "honeypot"])
    )
    expect(agent).toEqual(expect.arrayContaining(["up", "bus", "honeypot"]))
    for (const name of ["services", "distros", "archetypes"]) expect(agent).not.toContain(name)
    expect(dual).toEqual(master)
  })

  it("DECNET_MODE and DECNET_DISALLOW_MASTER mean the same to the gate as to DecnetConfig", async () => {
    const [upAgent, refused, dual, dualHelp] = await Promise.all([
      run(["up", "--once"], { DECNET_MODE: "Agent" }),
      run(["services"], { DECNET_MODE: " AGENT " }),
      run(["services", "--json"], { DECNET_MODE: "Agent", DECNET_DISALLOW_MASTER: "no" }),
      run(["--help"], { DECNET_MODE: "agent", DECNET_DISALLOW_MASTER: "0" })
    ])
    expect(upAgent.status).toBe(0)
    expect(upAgent.stdout).toContain("(mode agent,")
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain(refusalMessage("services"))
    expect(dual.status).toBe(0)
    expect(listed(dualHelp.stdout)).toContain("services")
  })

  it("the host INI's [decnet] mode gates like the environment, and the environment wins", async () => {
    const ini = join(mkdtempSync(join(tmpdir(), "decnet-ini-")), "decnet.ini")
    writeFileSync(ini, "[decnet]\nmode = agent\n")
    const refused = await spawnAsync(process.execPath, [...DECNET, "services"], {
      env: { ...withoutMode(), DECNET_CONFIG: ini },
      timeout: 60_000
    })
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain(refusalMessage("services"))
    const envWins = await run(["services", "--json"], { DECNET_CONFIG: ini, DECNET_MODE: "master" })
    expect(envWins.status).toBe(0)
  })

  it("INI warnings are RFC 5424 lines on stderr, never on stdout", async () => {
    const ini = join(mkdtempSync(join(tmpdir(), "decnet-ini-")), "decnet.ini")
    writeFileSync(ini, "[bus]\nnope = 1\n")
    const r = await run(["up", "--once"], { DECNET_CONFIG: ini })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^DECNET embedded default \(mode master, new fleet\)\n/)
    expect(r.stdout).not.toContain("<13")
    expect(r.stderr).toMatch(/^<132>1 \S+ \S+ decnet \d+ decnet\.decnet - .*\[bus\] nope: unknown key/m)
  })
})

describe("master-only command bodies", () => {
  it("refuse on an agent even when reached without the root command", async () => {
    const { Effect } = await import("effect")
    const { DecnetConfig } = await import("../../src/config/DecnetConfig.js")
    const { services, distros, archetypes } = await import("../../src/cli/catalog.js")
    const agent = DecnetConfig.fromMap({ DECNET_MODE: "Agent" })
    for (const [name, command] of [
      ["services", services],
      ["distros", distros],
      ["archetypes", archetypes]
    ] as const) {
      const error = await Effect.runPromise(
        Effect.flip(command.handler({ json: true })).pipe(Effect.provide(agent))
      )
      expect(error).toMatchObject({ _tag: "ModeRefused", message: refusalMessage(name) })
    }
  })
})
