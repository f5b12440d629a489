// `decnet bus pub|sub` error paths as an operator meets them: real processes, real exit codes and messages.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { DECNET } from "../support/cli.js"
import { spawnAsync } from "../support/spawn.js"

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnAsync(process.execPath, [...DECNET, ...args], {
    env: { ...process.env, ...env },
    timeout: 60_000
  })

const nowhere = () => join(mkdtempSync(join(tmpdir(), "decnet-buscli-")), "absent.sock")

describe("decnet bus cli", () => {
  it("bus --help lists pub and sub", async () => {
    const r = await run(["bus", "--help"])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("pub")
    expect(r.stdout).toContain("sub")
    expect(r.stdout).toContain("--heartbeat")
  })

  it("pub with invalid JSON fails with a clear message before touching the bus", async () => {
    const r = await run(["bus", "--socket", nowhere(), "pub", "a.b", "{nope"])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("not valid JSON")
    expect(r.stderr).not.toContain("cannot reach")
  })

  it("pub with JSON that is not an object is refused", async () => {
    const r = await run(["bus", "--socket", nowhere(), "pub", "a.b", "[1,2]"])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("must be a JSON object")
  })

  it("pub and sub without a broker say so and exit 1", async () => {
    for (const args of [
      ["pub", "a.b", "{}"],
      ["sub", "a.>"]
    ]) {
      const r = await run(["bus", "--socket", nowhere(), ...args])
      expect(r.status).toBe(1)
      expect(r.stderr).toContain("cannot reach the bus broker")
    }
  })

  it("pub to an invalid topic is a bus error", async () => {
    const r = await run(["bus", "pub", "a.*", "{}"], { DECNET_BUS_TYPE: "fake" })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("wildcard")
  })

  it("with the bus disabled, pub warns and exits 0", async () => {
    const r = await run(["bus", "pub", "a.b", "{}"], { DECNET_BUS_ENABLED: "false" })
    expect(r.status).toBe(0)
    expect(r.stderr).toContain("disabled")
  })

  it("an unknown DECNET_BUS_TYPE is a configuration error naming the key", async () => {
    const r = await run(["bus", "pub", "a.b", "{}"], { DECNET_BUS_TYPE: "kafka" })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("DECNET_BUS_TYPE")
    expect(r.stderr).toContain("unix|nats|fake")
  })
})
