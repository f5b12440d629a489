import { mkdtempSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { resolveSocketPath } from "../../src/bus/SocketPath.js"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"

const run = (env: Record<string, string>, explicit?: string, runDir?: string) =>
  Effect.runPromise(resolveSocketPath(explicit, runDir).pipe(Effect.provide(DecnetConfig.fromMap(env))))

describe("SocketPath", () => {
  it("explicit wins, then env, then writable run dir, then home", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decnet-run-"))
    expect(await run({ DECNET_BUS_SOCKET: "/x/env.sock" }, "/x/explicit.sock", dir)).toBe("/x/explicit.sock")
    expect(await run({ DECNET_BUS_SOCKET: "/x/env.sock" }, undefined, dir)).toBe("/x/env.sock")
    expect(await run({}, undefined, dir)).toBe(join(dir, "bus.sock"))
    expect(await run({}, undefined, join(dir, "missing"))).toBe(join(homedir(), ".decnet", "bus.sock"))
    // HOME as DecnetConfig has it, the same one the SQLite default path uses.
    expect(await run({ HOME: "/home/u" }, undefined, join(dir, "missing"))).toBe("/home/u/.decnet/bus.sock")
    expect(await run({ DECNET_BUS_SOCKET: "" }, undefined, dir)).toBe(join(dir, "bus.sock"))
  })
})
