// Authentication against a real API server on both backends (spec api §4, §5): login, the forced password
// change, logout and the denylist, bulk revocation, role gates, SSE tickets, and forged tokens.
import { randomUUID } from "node:crypto"
import { SignJWT } from "jose"
import { describe, expect, it } from "vitest"
import { onBothBackends, sqliteBackend } from "../db/backends.js"
import { ADMIN, adminToken, JWT_SECRET, login, raw, useApi } from "./harness.js"

const key = new TextEncoder().encode(JWT_SECRET)
const json = { "content-type": "application/json" }

/** A token signed with the server's key, with these claims (and header) instead of the server's own. */
const forge = async (
  claims: Record<string, unknown>,
  options: { alg?: string; key?: Uint8Array; iat?: number; exp?: number } = {}
) => {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT({ typ: "access", jti: randomUUID().replaceAll("-", ""), ...claims })
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(options.exp ?? now + 600)
    .setIssuer("decnet")
    .setAudience("decnet-dashboard")
  return jwt.sign(options.key ?? key)
}

/** The admin's uuid, read through the API. */
const adminUuid = async (baseUrl: string, token: string) => {
  const r = await raw(baseUrl, "/api/v1/config", { token })
  const users = (r.json() as { users: Array<{ uuid: string; username: string }> }).users
  const me = users.find((u) => u.username === ADMIN.username)
  if (me === undefined) throw new Error("no admin in /config")
  return me.uuid
}

onBothBackends("API auth", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false" })

  it("answers a wrong password or unknown user with 401 and WWW-Authenticate", async () => {
    for (const [username, password] of [
      [ADMIN.username, "wrong-password-1"],
      ["nobody", "whatever-password"]
    ]) {
      const r = await raw(api().baseUrl, "/api/v1/auth/login", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ username, password })
      })
      expect(r.status).toBe(401)
      expect(r.json()).toEqual({ detail: "Incorrect username or password" })
      expect(r.headers.get("www-authenticate")).toBe("Bearer")
    }
  })

  it("gates a must-change admin to change-password and logout, then lets the new password in", async () => {
    const { baseUrl } = api()
    const first = await raw(baseUrl, "/api/v1/auth/login", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password })
    })
    expect(first.status).toBe(200)
    const body = first.json() as { access_token: string; token_type: string; must_change_password: boolean }
    expect(body.token_type).toBe("bearer")
    expect(body.must_change_password).toBe(true)
    const token = body.access_token
    for (const path of ["/api/v1/stats", "/api/v1/config", "/api/v1/logs"]) {
      const r = await raw(baseUrl, path, { token })
      expect(r.status).toBe(403)
      expect(r.json()).toEqual({ detail: "Password change required before accessing this resource" })
    }
    const ticket = await raw(baseUrl, "/api/v1/auth/sse-ticket", { method: "POST", token })
    expect(ticket.status).toBe(403)
    const wrongOld = await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ old_password: "not-the-password", new_password: "admin-password-2" })
    })
    expect(wrongOld.status).toBe(401)
    expect(wrongOld.json()).toEqual({ detail: "Incorrect old password" })
    const tooShort = await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ old_password: ADMIN.password, new_password: "elevenchars" })
    })
    expect(tooShort.status).toBe(400)
    const tooLong = await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ old_password: ADMIN.password, new_password: "é".repeat(40) })
    })
    expect(tooLong.status).toBe(422)
    expect(tooLong.json()).toEqual({ detail: "Invalid request parameters" })
    const fresh = await adminToken(baseUrl)
    expect((await raw(baseUrl, "/api/v1/stats", { token: fresh })).status).toBe(200)
  })

  it("revokes a token on logout: reusing it is 401", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const out = await raw(baseUrl, "/api/v1/auth/logout", { method: "POST", token })
    expect(out.status).toBe(200)
    expect(out.json()).toEqual({ message: "Logged out" })
    const again = await raw(baseUrl, "/api/v1/stats", { token })
    expect(again.status).toBe(401)
    expect(again.json()).toEqual({ detail: "Could not validate credentials" })
  })

  it("refuses forged and foreign tokens with 401", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const uuid = await adminUuid(baseUrl, token)
    const now = Math.floor(Date.now() / 1000)
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")
    const payload = Buffer.from(
      JSON.stringify({
        uuid,
        jti: "x",
        typ: "access",
        iat: now,
        exp: now + 600,
        iss: "decnet",
        aud: "decnet-dashboard"
      })
    ).toString("base64url")
    const cases: Record<string, string> = {
      "alg none": `${header}.${payload}.`,
      "wrong aud": await new SignJWT({ uuid, typ: "access", jti: "a1" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .setIssuer("decnet")
        .setAudience("someone-else")
        .sign(key),
      "wrong iss": await new SignJWT({ uuid, typ: "access", jti: "a2" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .setIssuer("evil")
        .setAudience("decnet-dashboard")
        .sign(key),
      "wrong typ": await forge({ uuid, typ: "refresh" }),
      expired: await forge({ uuid }, { iat: now - 7200, exp: now - 3600 }),
      "other key": await forge(
        { uuid },
        { key: new TextEncoder().encode("another-secret-of-32-characters!!") }
      ),
      "no jti": await new SignJWT({ uuid, typ: "access" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .setIssuer("decnet")
        .setAudience("decnet-dashboard")
        .sign(key),
      "unknown user": await forge({ uuid: randomUUID() }),
      "HS512 with the right key": await forge({ uuid }, { alg: "HS512" }),
      garbage: "not.a.jwt"
    }
    for (const [name, bad] of Object.entries(cases)) {
      const r = await raw(baseUrl, "/api/v1/stats", { token: bad })
      expect(r.status, name).toBe(401)
      expect(r.json(), name).toEqual({ detail: "Could not validate credentials" })
    }
    // The same forge with the server's key and claims is accepted: the cases above fail for their reason.
    expect((await raw(baseUrl, "/api/v1/stats", { token: await forge({ uuid }) })).status).toBe(200)
  })

  it("revokes tokens issued before tokens_valid_from (password reset) but not a later one", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const created = await raw(baseUrl, "/api/v1/config/users", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ username: `v-${randomUUID().slice(0, 8)}`, password: "viewer-password-1" })
    })
    expect(created.status).toBe(200)
    const viewer = created.json() as {
      uuid: string
      username: string
      must_change_password: boolean
      role: string
    }
    expect(viewer.role).toBe("viewer")
    expect(viewer.must_change_password).toBe(true)
    const old = await forge({ uuid: viewer.uuid }, { iat: Math.floor(Date.now() / 1000) - 30 })
    // must-change: the forged viewer token reaches only the must-change routes
    expect((await raw(baseUrl, "/api/v1/stats", { token: old })).status).toBe(403)
    const reset = await raw(baseUrl, `/api/v1/config/users/${viewer.uuid}/reset-password`, {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ new_password: "viewer-password-2" })
    })
    expect(reset.status).toBe(200)
    expect(reset.json()).toEqual({ message: "Password reset successfully" })
    const after = await raw(baseUrl, "/api/v1/auth/logout", { method: "POST", token: old })
    expect(after.status).toBe(401)
    const later = await forge({ uuid: viewer.uuid }, { iat: Math.floor(Date.now() / 1000) + 2 })
    expect((await raw(baseUrl, "/api/v1/auth/logout", { method: "POST", token: later })).status).toBe(200)
  })

  it("keeps admin routes from viewers (403 Insufficient permissions)", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const username = `v-${randomUUID().slice(0, 8)}`
    await raw(baseUrl, "/api/v1/config/users", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ username, password: "viewer-password-1", role: "viewer" })
    })
    const first = await login(baseUrl, username, "viewer-password-1")
    await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token: first,
      headers: json,
      body: JSON.stringify({ old_password: "viewer-password-1", new_password: "viewer-password-9" })
    })
    const viewer = await login(baseUrl, username, "viewer-password-9")
    expect((await raw(baseUrl, "/api/v1/stats", { token: viewer })).status).toBe(200)
    const cfg = await raw(baseUrl, "/api/v1/config", { token: viewer })
    expect(cfg.json()).toEqual({ role: "viewer", deployment_limit: 10, global_mutation_interval: "30m" })
    const denied = await raw(baseUrl, "/api/v1/config/deployment-limit", {
      method: "PUT",
      token: viewer,
      headers: json,
      body: JSON.stringify({ deployment_limit: 20 })
    })
    expect(denied.status).toBe(403)
    expect(denied.json()).toEqual({ detail: "Insufficient permissions" })
  })

  it("trades a token for a single-use SSE ticket; a raw JWT in ?ticket= is refused", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const minted = await raw(baseUrl, "/api/v1/auth/sse-ticket", { method: "POST", token })
    expect(minted.status).toBe(200)
    const { ticket, expires_in } = minted.json() as { ticket: string; expires_in: number }
    expect(expires_in).toBe(60)
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const controller = new AbortController()
    const first = await fetch(`${baseUrl}/api/v1/stream?ticket=${ticket}`, { signal: controller.signal })
    expect(first.status).toBe(200)
    expect(first.headers.get("content-type")).toContain("text/event-stream")
    controller.abort()
    const reused = await raw(baseUrl, `/api/v1/stream?ticket=${ticket}`)
    expect(reused.status).toBe(401)
    expect(reused.json()).toEqual({ detail: "Could not validate credentials" })
    const jwtInQuery = await raw(baseUrl, `/api/v1/stream?ticket=${token}`)
    expect(jwtInQuery.status).toBe(401)
    const none = await raw(baseUrl, "/api/v1/stream")
    expect(none.status).toBe(401)
  })
})

describe("[sqlite] API login rate limit", () => {
  const api = useApi(sqliteBackend().backend, { DECNET_LIMITER_ENABLED: "true" })

  it("answers the 11th login of an address within 5 minutes with 429", async () => {
    const { baseUrl } = api()
    const statuses: Array<number> = []
    for (let i = 0; i < 11; i++) {
      const r = await raw(baseUrl, "/api/v1/auth/login", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ username: `user${i}`, password: "wrong-password" })
      })
      statuses.push(r.status)
      if (r.status === 429) expect(r.json()).toEqual({ detail: "Rate limit exceeded: 10 per 5 minute" })
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true)
    expect(statuses[10]).toBe(429)
  })
})
