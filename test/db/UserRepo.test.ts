import { Effect, Option, Redacted } from "effect"
import { expect, it } from "vitest"
import { UserRepo } from "../../src/db/index.js"
import { onBothBackends } from "./backends.js"
import { useRuntime } from "./harness.js"

onBothBackends("UserRepo", (backend) => {
  const rt = useRuntime(backend)
  const run = <A, E>(f: (repo: UserRepo) => Effect.Effect<A, E>) =>
    rt().runPromise(Effect.flatMap(UserRepo, f))

  it("creates, reads by username and uuid, lists", async () => {
    const uuid = await run((r) => r.create({ username: "alice", passwordHash: "$2a$04$x", role: "editor" }))
    const byName = await run((r) => r.getByUsername("alice"))
    const byUuid = await run((r) => r.getByUuid(uuid))
    expect(Option.getOrThrow(byName)).toMatchObject({
      uuid,
      username: "alice",
      role: "editor",
      must_change_password: false
    })
    expect(Option.getOrThrow(byUuid).username).toBe("alice")
    expect(Option.isNone(await run((r) => r.getByUsername("nobody")))).toBe(true)
    expect((await run((r) => r.list())).map((u) => u.username)).toContain("alice")
  })

  it("rejects a duplicate username with a typed DbConstraintError", async () => {
    await run((r) => r.create({ username: "bob", passwordHash: "h" }))
    const err = await run((r) => Effect.flip(r.create({ username: "bob", passwordHash: "h2" })))
    expect(err._tag).toBe("DbConstraintError")
    expect(err.table).toBe("users")
  })

  it("updates password, role and deletes", async () => {
    const uuid = await run((r) =>
      r.create({ username: "carol", passwordHash: "old", mustChangePassword: true })
    )
    await run((r) => r.updatePassword(uuid, "new", false))
    await run((r) => r.updateRole(uuid, "admin"))
    const u = Option.getOrThrow(await run((r) => r.getByUuid(uuid)))
    expect(u).toMatchObject({ password_hash: "new", must_change_password: false, role: "admin" })
    expect(await run((r) => r.delete(uuid))).toBe(true)
    expect(await run((r) => r.delete(uuid))).toBe(false)
    expect(Option.isNone(await run((r) => r.getByUuid(uuid)))).toBe(true)
  })

  it("ensureAdmin creates the admin, re-syncs while must_change_password, then leaves it alone", async () => {
    const first = await run((r) => r.ensureAdmin("admin", Redacted.make("first-pw")))
    expect(first).toMatchObject({ username: "admin", role: "admin", must_change_password: true })
    expect(first.password_hash).toMatch(/^\$2[aby]\$/)
    expect(await run((r) => r.verifyPassword(Redacted.make("first-pw"), first.password_hash))).toBe(true)

    const resynced = await run((r) => r.ensureAdmin("admin", Redacted.make("second-pw")))
    expect(resynced.uuid).toBe(first.uuid)
    expect(await run((r) => r.verifyPassword(Redacted.make("second-pw"), resynced.password_hash))).toBe(true)

    const chosen = await run((r) => r.hashPassword(Redacted.make("chosen-by-admin")))
    await run((r) => r.updatePassword(first.uuid, chosen, false))
    const kept = await run((r) => r.ensureAdmin("admin", Redacted.make("third-pw")))
    expect(kept.password_hash).toBe(chosen)
    expect(kept.must_change_password).toBe(false)
  })
})
