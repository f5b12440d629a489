import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { masterBlocked, refusalMessage } from "../../src/cli/mode.js"

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", "src/cli/bin.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000
  })

describe("decnet cli", () => {
  it("--version prints the package version", () => {
    const r = run(["--version"])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("0.2.0")
  })
  it("up --once prints status and exits 0", () => {
    const r = run(["up", "--once"], { DECNET_MODE: "agent" })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("mode: agent")
  })
})

describe("mode gating", () => {
  it("blocks master-only only for agent with disallow", () => {
    expect(masterBlocked({ mode: "agent", disallowMaster: true })).toBe(true)
    expect(masterBlocked({ mode: "agent", disallowMaster: false })).toBe(false)
    expect(masterBlocked({ mode: "master", disallowMaster: true })).toBe(false)
    expect(refusalMessage("api")).toContain("DECNET_DISALLOW_MASTER=false")
  })
})
