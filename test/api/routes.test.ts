// Every implemented route through the typed client derived from the contract, against a real server on
// both backends: the success shapes, the spec's error texts and statuses, and the envelope (spec api
// §2, §3, §7). Rows are seeded through the server's own repositories.
import { Effect } from "effect"
import { expect, it } from "vitest"
import { LogRepo } from "../../src/db/LogRepo.js"
import { onBothBackends } from "../db/backends.js"
import { record } from "../ingester/records.js"
import { adminToken, call, callFlip, raw, useApi } from "./harness.js"

const json = { "content-type": "application/json" }
const at = (iso: string) => new Date(iso)

onBothBackends("API routes", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false", DECNET_DEVELOPER: "true" })

  const seed = async () => {
    const { runtime } = api()
    await runtime.runPromise(
      Effect.flatMap(LogRepo, (logs) =>
        logs.addLogs([
          record({
            timestamp: at("2026-01-01T12:00:00Z"),
            attacker_ip: "203.0.113.7",
            fields: { user: "root" }
          }),
          record({ timestamp: at("2026-01-01T12:05:00Z"), attacker_ip: "203.0.113.8", service: "ssh" }),
          record({ timestamp: at("2026-01-01T12:20:00Z"), attacker_ip: "203.0.113.7", decky: "decky-02" })
        ])
      )
    )
  }

  it("GET /logs pages newest first with the list envelope; filters bypass the cache", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    await seed()
    const page = await call(baseUrl, token, (c) => c.logs.logs({ urlParams: { limit: 2, offset: 0 } }))
    expect(page.limit).toBe(2)
    expect(page.offset).toBe(0)
    expect(page.data.map((r) => r.timestamp.toISOString())).toEqual([
      "2026-01-01T12:20:00.000Z",
      "2026-01-01T12:05:00.000Z"
    ])
    const filtered = await call(baseUrl, token, (c) =>
      c.logs.logs({ urlParams: { limit: 50, offset: 0, search: "attacker:203.0.113.7" } })
    )
    expect(filtered.total).toBe(2)
    expect(new Set(filtered.data.map((r) => r.attacker_ip))).toEqual(new Set(["203.0.113.7"]))
    // `fields` travels as JSON text, as the dashboard expects
    const rawPage = await raw(baseUrl, "/api/v1/logs?limit=50&search=user:root", { token })
    const rows = (rawPage.json() as { data: Array<{ fields: unknown }> }).data
    expect(rows).toHaveLength(1)
    expect(rows[0]?.fields).toBe('{"user":"root"}')
    // "null" and "" count as absent
    const absent = await raw(baseUrl, "/api/v1/logs?search=null&start_time=", { token })
    expect((absent.json() as { total: number }).total).toBe(page.total)
    const bad = await raw(baseUrl, "/api/v1/logs?start_time=yesterday", { token })
    expect(bad.status).toBe(422)
    expect(bad.json()).toEqual({ detail: "Invalid request parameters" })
  })

  it("GET /logs/histogram buckets non-empty intervals; GET /stats counts", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const buckets = await call(baseUrl, token, (c) =>
      c.logs.histogram({ urlParams: { interval_minutes: 15, start_time: "2026-01-01 11:00:00" } })
    )
    expect(buckets).toEqual([
      { time: "2026-01-01 12:00:00", count: 2 },
      { time: "2026-01-01 12:15:00", count: 1 }
    ])
    const wide = await call(baseUrl, token, (c) =>
      c.logs.histogram({ urlParams: { interval_minutes: 60, end_time: "2026-01-02 00:00:00" } })
    )
    expect(wide).toEqual([{ time: "2026-01-01 12:00:00", count: 3 }])
    const stats = await call(baseUrl, token, (c) => c.logs.stats())
    expect(stats).toEqual({ total_logs: 3, unique_attackers: 2, active_deckies: 0, deployed_deckies: 0 })
  })

  it("GET /bounty and /credentials answer empty pages with the envelope", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const bounty = await call(baseUrl, token, (c) =>
      c.evidence.bounty({ urlParams: { limit: 50, offset: 0 } })
    )
    expect(bounty).toEqual({ total: 0, limit: 50, offset: 0, data: [] })
    const creds = await call(baseUrl, token, (c) =>
      c.evidence.credentials({ urlParams: { limit: 10, offset: 5, service: "ssh" } })
    )
    expect(creds).toEqual({ total: 0, limit: 10, offset: 5, data: [] })
  })

  it("GET /health reports components; the database and the workers", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const r = await raw(baseUrl, "/api/v1/health", { token })
    const body = r.json() as {
      status: string
      components: Record<string, { status: string; detail: string | null }>
    }
    expect(body.components.database).toEqual({ status: "ok", detail: null })
    // no ingester runs next to this server: critical, so 503 with the same body
    expect(body.components.ingestion_worker).toEqual({ status: "failing", detail: "not started" })
    expect(body.status).toBe("unhealthy")
    expect(r.status).toBe(503)
  })

  it("config: limits, the mutation interval and users, with the spec's texts", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    expect(
      await call(baseUrl, token, (c) => c.config.deploymentLimit({ payload: { deployment_limit: 25 } }))
    ).toEqual({ message: "Deployment limit updated" })
    expect(
      await call(baseUrl, token, (c) =>
        c.config.globalMutationInterval({ payload: { global_mutation_interval: "2d" } })
      )
    ).toEqual({ message: "Global mutation interval updated" })
    const cfg = await call(baseUrl, token, (c) => c.config.config())
    expect(cfg.deployment_limit).toBe(25)
    expect(cfg.global_mutation_interval).toBe("2d")
    expect(cfg.developer_mode).toBe(true)
    for (const [body, status] of [
      [{ deployment_limit: 0 }, 422],
      [{ deployment_limit: 501 }, 422],
      [{ deployment_limit: "ten" }, 422],
      [{}, 400],
      [{ deployment_limit: 5, extra: 1 }, 400]
    ] as const) {
      const r = await raw(baseUrl, "/api/v1/config/deployment-limit", {
        method: "PUT",
        token,
        headers: json,
        body: JSON.stringify(body)
      })
      expect(r.status, JSON.stringify(body)).toBe(status)
    }
    const badInterval = await raw(baseUrl, "/api/v1/config/global-mutation-interval", {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ global_mutation_interval: "5h" })
    })
    expect(badInterval.status).toBe(422)

    const created = await call(baseUrl, token, (c) =>
      c.config.createUser({ payload: { username: "carol", password: "carol-password-1", role: "admin" } })
    )
    expect(created).toMatchObject({ username: "carol", role: "admin", must_change_password: true })
    const dup = await callFlip(baseUrl, token, (c) =>
      c.config.createUser({ payload: { username: "carol", password: "carol-password-1", role: "viewer" } })
    )
    expect(dup).toMatchObject({ _tag: "Conflict", detail: "Username already exists" })
    expect(
      await call(baseUrl, token, (c) =>
        c.config.updateRole({ path: { user_uuid: created.uuid }, payload: { role: "viewer" } })
      )
    ).toEqual({ message: "User role updated" })
    const missing = await callFlip(baseUrl, token, (c) =>
      c.config.updateRole({ path: { user_uuid: "no-such-user" }, payload: { role: "viewer" } })
    )
    expect(missing).toMatchObject({ _tag: "NotFound", detail: "User not found" })
    const me = (await call(baseUrl, token, (c) => c.config.config())).users?.find(
      (u) => u.username === "admin"
    )
    if (me === undefined) throw new Error("admin missing from /config")
    expect(
      await callFlip(baseUrl, token, (c) => c.config.deleteUser({ path: { user_uuid: me.uuid } }))
    ).toMatchObject({ _tag: "Forbidden", detail: "Cannot delete your own account" })
    expect(
      await callFlip(baseUrl, token, (c) =>
        c.config.updateRole({ path: { user_uuid: me.uuid }, payload: { role: "viewer" } })
      )
    ).toMatchObject({ _tag: "Forbidden", detail: "Cannot change your own role" })
    expect(
      await call(baseUrl, token, (c) => c.config.deleteUser({ path: { user_uuid: created.uuid } }))
    ).toEqual({
      message: "User deleted"
    })
    expect(
      await callFlip(baseUrl, token, (c) => c.config.deleteUser({ path: { user_uuid: created.uuid } }))
    ).toMatchObject({ _tag: "NotFound", detail: "User not found" })
  })

  it("workers and the deployment mode", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const workers = await call(baseUrl, token, (c) => c.workers.workers())
    expect(workers.bus_connected).toBe(false)
    expect(workers.workers.map((w) => w.name)).toContain("ingester")
    expect(workers.workers.every((w) => w.status === "unknown")).toBe(true)
    expect(await callFlip(baseUrl, token, (c) => c.workers.stop({ path: { name: "nope" } }))).toMatchObject({
      _tag: "NotFound",
      detail: "Unknown worker: 'nope'"
    })
    expect(
      await callFlip(baseUrl, token, (c) => c.workers.stop({ path: { name: "ingester" } }))
    ).toMatchObject({ _tag: "ServiceUnavailable", detail: "bus unavailable" })
    expect(await call(baseUrl, token, (c) => c.workers.deploymentMode())).toEqual({
      mode: "unihost",
      role: "master",
      swarm_host_count: 0
    })
  })

  it("the catalog: services, a service's config schema, archetypes", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const services = await call(baseUrl, token, (c) => c.catalog.services())
    expect(services.services).toContain("ssh")
    expect(services.services).toEqual([...services.services].sort())
    expect(services.fleet_singletons).toEqual(["sniffer"])
    expect(services.services).not.toContain("sniffer")
    const ssh = await call(baseUrl, token, (c) => c.catalog.serviceSchema({ path: { service_name: "ssh" } }))
    expect(ssh.name).toBe("ssh")
    expect(ssh.ports.tcp).toContain(22)
    expect(ssh.fleet_singleton).toBe(false)
    expect(ssh.fields.length).toBeGreaterThan(0)
    const rawSchema = await raw(baseUrl, "/api/v1/topologies/services/ssh/schema", { token })
    const field = (rawSchema.json() as { fields: Array<Record<string, unknown>> }).fields[0]
    expect(Object.keys(field ?? {})).toEqual(
      expect.arrayContaining(["key", "label", "type", "default", "secret", "help", "placeholder"])
    )
    expect(
      await callFlip(baseUrl, token, (c) => c.catalog.serviceSchema({ path: { service_name: "gopher" } }))
    ).toMatchObject({ _tag: "NotFound", detail: "Unknown service 'gopher'" })
    const { archetypes } = await call(baseUrl, token, (c) => c.catalog.archetypes())
    expect(archetypes.map((a) => a.slug)).toContain("linux-server")
    expect(Object.keys(archetypes[0] ?? {}).sort()).toEqual(
      ["description", "display_name", "nmap_os", "preferred_distros", "services", "slug"].sort()
    )
  })

  it("DELETE /config/reinit purges in developer mode", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const r = await call(baseUrl, token, (c) => c.config.reinit())
    expect(r.message).toBe("Data purged")
    expect(r.deleted.logs).toBe(3)
    const after = await call(baseUrl, token, (c) =>
      c.logs.logs({ urlParams: { limit: 50, offset: 0, search: "decky-01" } })
    )
    expect(after.total).toBe(0)
  })

  it("keeps the envelope: 404, 405, 415, malformed JSON 422, CORS", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const notFound = await raw(baseUrl, "/api/v1/nothing-here", { token })
    expect(notFound.status).toBe(404)
    expect(notFound.json()).toEqual({ detail: "Not Found" })
    const wrongMethod = await raw(baseUrl, "/api/v1/stats", { method: "DELETE", token })
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.json()).toEqual({ detail: "Method Not Allowed" })
    const form = await raw(baseUrl, "/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "username=a&password=b"
    })
    expect(form.status).toBe(415)
    expect(form.body).toBe("Unsupported Media Type — Content-Type must be application/json")
    const malformed = await raw(baseUrl, "/api/v1/auth/login", {
      method: "POST",
      headers: json,
      body: "{bad"
    })
    expect(malformed.status).toBe(422)
    expect(malformed.json()).toEqual({ detail: "Invalid request parameters" })
    const preflight = await raw(baseUrl, "/api/v1/stats", {
      method: "OPTIONS",
      headers: { origin: "http://dashboard.test", "access-control-request-method": "GET" }
    })
    expect(preflight.status).toBe(200)
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://dashboard.test")
    const foreign = await raw(baseUrl, "/api/v1/stats", {
      method: "OPTIONS",
      headers: { origin: "http://evil.test", "access-control-request-method": "GET" }
    })
    expect(foreign.status).toBe(400)
    const cors = await raw(baseUrl, "/api/v1/stats", { token, headers: { origin: "http://dashboard.test" } })
    expect(cors.headers.get("access-control-allow-origin")).toBe("http://dashboard.test")
  })
})
