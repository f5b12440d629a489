import { Effect } from "effect"
import { expect, it } from "vitest"
import { StateRepo } from "../../src/db/index.js"
import { onBothBackends } from "./backends.js"
import { useRuntime } from "./harness.js"

onBothBackends("StateRepo", (backend) => {
  const rt = useRuntime(backend)

  it("returns null for a key never set", async () => {
    expect(await rt().runPromise(Effect.flatMap(StateRepo, (r) => r.get("nope")))).toBeNull()
  })

  it("round-trips a JSON value and upserts on the second set", async () => {
    const value = { config: { deckies: [{ name: "decky-01", ip: "10.0.0.5" }] }, compose_path: "/tmp/ü.yml" }
    const got = await rt().runPromise(
      Effect.gen(function* () {
        const repo = yield* StateRepo
        yield* repo.set("deployment", value)
        const first = yield* repo.get("deployment")
        yield* repo.set("deployment", { position: 42 })
        return [first, yield* repo.get("deployment")] as const
      })
    )
    expect(got[0]).toEqual(value)
    expect(got[1]).toEqual({ position: 42 })
  })

  it("stores a large value (beyond 64 KiB, needs MEDIUMTEXT on MySQL)", async () => {
    const big = { blob: "x".repeat(200_000) }
    const got = await rt().runPromise(
      Effect.gen(function* () {
        const repo = yield* StateRepo
        yield* repo.set("big", big)
        return yield* repo.get("big")
      })
    )
    expect(got).toEqual(big)
  })
})
