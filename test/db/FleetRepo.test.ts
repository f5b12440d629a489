import { Effect, Option } from "effect"
import { expect, it } from "vitest"
import { FleetRepo } from "../../src/db/index.js"
import { onBothBackends } from "./backends.js"
import { useRuntime } from "./harness.js"

onBothBackends("FleetRepo", (backend) => {
  const rt = useRuntime(backend)
  const run = <A, E>(f: (repo: FleetRepo) => Effect.Effect<A, E>) =>
    rt().runPromise(Effect.flatMap(FleetRepo, f))

  it("upserts on (host_uuid, name): a second upsert replaces, not duplicates", async () => {
    await run((r) =>
      r.upsert({ name: "decky-01", services: ["ssh"], decky_config: { name: "decky-01", ip: "10.0.0.5" } })
    )
    await run((r) =>
      r.upsert({ name: "decky-01", services: ["ssh", "http"], state: "running", decky_ip: "10.0.0.5" })
    )
    const rows = await run((r) => r.list("local"))
    expect(rows.filter((d) => d.name === "decky-01")).toHaveLength(1)
    const d = Option.getOrThrow(await run((r) => r.get("decky-01")))
    expect(d).toMatchObject({
      host_uuid: "local",
      services: ["ssh", "http"],
      state: "running",
      decky_ip: "10.0.0.5"
    })
    expect(d.decky_config).toBeNull()
    expect(d.updated_at).toBeInstanceOf(Date)
  })

  it("keeps the same name apart on different hosts and filters by host", async () => {
    await run((r) => r.upsert({ host_uuid: "host-a", name: "web", decky_config: { os: "linux" } }))
    await run((r) =>
      r.upsert({ host_uuid: "host-b", name: "web", last_seen: new Date("2026-01-02T03:04:05.678Z") })
    )
    const a = await run((r) => r.list("host-a"))
    const b = await run((r) => r.list("host-b"))
    expect(a.map((d) => d.name)).toEqual(["web"])
    expect(a[0]?.decky_config).toEqual({ os: "linux" })
    expect(b[0]?.last_seen?.toISOString()).toBe("2026-01-02T03:04:05.678Z")
    const all = await run((r) => r.list())
    expect(all.filter((d) => d.name === "web").map((d) => d.host_uuid)).toEqual(["host-a", "host-b"])
  })

  it("setState and delete report whether the decky existed", async () => {
    await run((r) => r.upsert({ name: "decky-02" }))
    expect(await run((r) => r.setState("decky-02", "failed", { lastError: "boom" }))).toBe(true)
    expect(Option.getOrThrow(await run((r) => r.get("decky-02")))).toMatchObject({
      state: "failed",
      last_error: "boom"
    })
    expect(await run((r) => r.setState("ghost", "running"))).toBe(false)
    expect(await run((r) => r.delete("decky-02"))).toBe(true)
    expect(await run((r) => r.delete("decky-02"))).toBe(false)
    expect(Option.isNone(await run((r) => r.get("decky-02")))).toBe(true)
  })
})
