// The edge cache in front of the Effect app (src/api/EdgeCache.ts): a hit answers the same bytes as the
// Effect path, per role; a logout, a deleted user or a role change is refused at once, not after the
// cache window; a must-change token is never served from it; a write clears it.
import { expect, it } from "vitest"
import { onBothBackends } from "../db/backends.js"
import { adminToken, login, raw, useApi } from "./harness.js"

const json = { "content-type": "application/json" }

onBothBackends("API edge cache", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false" })

  const viewer = async (baseUrl: string, admin: string, username: string) => {
    const created = await raw(baseUrl, "/api/v1/config/users", {
      method: "POST",
      token: admin,
      headers: json,
      body: JSON.stringify({ username, password: "viewer-password-1" })
    })
    const uuid = (created.json() as { uuid: string }).uuid
    const first = await login(baseUrl, username, "viewer-password-1")
    await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token: first,
      headers: json,
      body: JSON.stringify({ old_password: "viewer-password-1", new_password: "viewer-password-2" })
    })
    return { uuid, token: await login(baseUrl, username, "viewer-password-2") }
  }

  it("answers a repeated GET with the same bytes, per role", async () => {
    const { baseUrl } = api()
    const admin = await adminToken(baseUrl)
    const v = await viewer(baseUrl, admin, "edge-viewer")
    const adminBodies = await Promise.all(
      [1, 2, 3].map(() => raw(baseUrl, "/api/v1/config", { token: admin }))
    )
    const viewerBodies = await Promise.all(
      [1, 2, 3].map(() => raw(baseUrl, "/api/v1/config", { token: v.token }))
    )
    expect(new Set(adminBodies.map((r) => r.body)).size).toBe(1)
    expect(new Set(viewerBodies.map((r) => r.body)).size).toBe(1)
    expect(adminBodies[0]?.json()).toHaveProperty("users")
    expect(viewerBodies[0]?.json()).not.toHaveProperty("users")
    for (const r of [...adminBodies, ...viewerBodies])
      expect(r.headers.get("content-type")).toBe("application/json")
    const stats = await Promise.all([1, 2].map(() => raw(baseUrl, "/api/v1/stats", { token: v.token })))
    expect(stats[0]?.body).toBe(stats[1]?.body)
  })

  it("refuses a logged-out token, a deleted user and a changed role at once", async () => {
    const { baseUrl } = api()
    const admin = await adminToken(baseUrl)
    const a = await viewer(baseUrl, admin, "edge-a")
    expect((await raw(baseUrl, "/api/v1/stats", { token: a.token })).status).toBe(200)
    expect((await raw(baseUrl, "/api/v1/stats", { token: a.token })).headers.get("x-cache")).toBe("edge")
    await raw(baseUrl, "/api/v1/auth/logout", { method: "POST", token: a.token })
    expect((await raw(baseUrl, "/api/v1/stats", { token: a.token })).status).toBe(401)

    const b = await viewer(baseUrl, admin, "edge-b")
    expect((await raw(baseUrl, "/api/v1/deckies", { token: b.token })).status).toBe(200)
    expect((await raw(baseUrl, "/api/v1/deckies", { token: b.token })).status).toBe(200)
    await raw(baseUrl, `/api/v1/config/users/${b.uuid}`, { method: "DELETE", token: admin })
    expect((await raw(baseUrl, "/api/v1/deckies", { token: b.token })).status).toBe(401)

    const c = await viewer(baseUrl, admin, "edge-c")
    expect((await raw(baseUrl, "/api/v1/config", { token: c.token })).status).toBe(200)
    await raw(baseUrl, `/api/v1/config/users/${c.uuid}/role`, {
      method: "PUT",
      token: admin,
      headers: json,
      body: JSON.stringify({ role: "admin" })
    })
    // tokens_valid_from moved (same second survives by spec): the cached principal is gone either way
    const after = await raw(baseUrl, "/api/v1/config", { token: c.token })
    if (after.status === 200) expect(after.json()).toHaveProperty("users")
    else expect(after.status).toBe(401)
  })

  it("never serves a must-change token from the cache; a write clears it", async () => {
    const { baseUrl } = api()
    const admin = await adminToken(baseUrl)
    await raw(baseUrl, "/api/v1/config/users", {
      method: "POST",
      token: admin,
      headers: json,
      body: JSON.stringify({ username: "edge-new", password: "viewer-password-1" })
    })
    const fresh = await login(baseUrl, "edge-new", "viewer-password-1")
    await raw(baseUrl, "/api/v1/stats", { token: admin })
    for (let i = 0; i < 3; i++) {
      const r = await raw(baseUrl, "/api/v1/stats", { token: fresh })
      expect(r.status).toBe(403)
    }
    const before = (await raw(baseUrl, "/api/v1/config", { token: admin })).json() as {
      deployment_limit: number
    }
    await raw(baseUrl, "/api/v1/config/deployment-limit", {
      method: "PUT",
      token: admin,
      headers: json,
      body: JSON.stringify({ deployment_limit: before.deployment_limit + 1 })
    })
    const after = (await raw(baseUrl, "/api/v1/config", { token: admin })).json() as {
      deployment_limit: number
    }
    expect(after.deployment_limit).toBe(before.deployment_limit + 1)
  })
})
