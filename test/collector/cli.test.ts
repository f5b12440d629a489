// `decnet collect` as an operator meets it without an engine: the shipped bundle, real exit codes.
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { DECNET } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-collect-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnAsync(process.execPath, [...DECNET, ...args], { env: { ...process.env, ...env }, timeout: 60_000 })

describe("decnet collect cli", () => {
  it("--help names the option and its default", async () => {
    const r = await run(["collect", "--help"])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("--log-file")
    expect(r.stdout).toContain("DECNET_INGEST_LOG_FILE")
  })

  it("is listed at the root, on an agent too", async () => {
    const r = await run(["--help"], { DECNET_MODE: "agent" })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("collect")
  })

  it("without an engine it says so and exits 1, writing nothing", async () => {
    const log = join(dir, "none", "decnet.log")
    const r = await run(["collect", "--log-file", log], {
      DOCKER_HOST: `unix://${join(dir, "no-docker.sock")}`,
      DECNET_BUS_ENABLED: "false"
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("Docker engine not reachable")
    expect(r.stderr).toContain(join(dir, "no-docker.sock"))
    expect(existsSync(join(dir, "none"))).toBe(false)
  })
})
