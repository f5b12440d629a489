// `decnet up` also serves the API (issue 12): the ready line names its URL and the bootstrap admin with a
// generated password shown once; that password must be changed first; a redis touch on a decky arrives
// on `/stream` as a `logs` frame within 2 s; the next `up` keeps the admin and the signing key.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cleanEnv, stopAll } from "../support/proc.js"
import { freePort } from "../support/ports.js"
import { endpoint, redisAuth, startUp } from "./upSupport.js"

afterAll(stopAll)

interface ApiInfo {
  readonly url: string
  readonly admin: string
  readonly password?: string
  readonly error?: string
}

const apiOf = (ready: unknown): ApiInfo => {
  if (typeof ready !== "object" || ready === null || !("api" in ready))
    throw new Error("no api in the ready line")
  return ready.api as ApiInfo
}

const post = async (url: string, body: unknown, token?: string) => {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: JSON.stringify(body)
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe("decnet up serves the API", () => {
  const home = mkdtempSync(join(tmpdir(), "decnet-upapi-"))

  it("prints the URL and a one-time admin password; a decky touch reaches /stream as a logs frame", async () => {
    const port = await freePort()
    const env = cleanEnv({
      HOME: home,
      DECNET_CONFIG: join(home, "absent.ini"),
      DECNET_API_PORT: String(port)
    })
    const { proc, ready } = await startUp(env)
    const api = apiOf(ready)
    expect(api.error).toBeUndefined()
    expect(api.url).toBe(`http://127.0.0.1:${port}`)
    expect(api.admin).toBe("admin")
    expect(api.password).toMatch(/^[A-Za-z0-9_-]{24}$/)
    const base = `${api.url}/api/v1`
    const first = await post(`${base}/auth/login`, { username: "admin", password: api.password })
    expect(first.status).toBe(200)
    expect(first.body.must_change_password).toBe(true)
    const changed = await post(
      `${base}/auth/change-password`,
      { old_password: api.password, new_password: "up-admin-password-1" },
      String(first.body.access_token)
    )
    expect(changed.status).toBe(200)
    const login = await post(`${base}/auth/login`, { username: "admin", password: "up-admin-password-1" })
    const token = String(login.body.access_token)

    const controller = new AbortController()
    const res = await fetch(`${base}/stream`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal
    })
    expect(res.status).toBe(200)
    const reader = res.body?.getReader()
    if (reader === undefined) throw new Error("no stream body")
    let text = ""
    const decoder = new TextDecoder()
    // wait for the snapshot (stats, histogram) before touching, so the touch is live, not history
    while (!text.includes('"histogram"'))
      text += decoder.decode((await reader.read()).value, { stream: true })
    await redisAuth(endpoint(ready, "decky-02", "redis"), "api-user", "api-pass")
    const touched = Date.now()
    const deadline = touched + 2000
    let frame: string | undefined
    const reading = (async () => {
      while (frame === undefined) {
        const { value, done } = await reader.read()
        if (done) return
        text += decoder.decode(value, { stream: true })
        frame = text.split("\n\n").find((b) => b.includes('"type":"logs"') && b.includes("api-user"))
      }
    })()
    await Promise.race([reading, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))])
    controller.abort()
    await reading.catch(() => undefined)
    expect(frame, "a logs frame with the redis AUTH within 2 s of the touch").toBeDefined()
    expect(frame).toContain('"service":"redis"')

    const creds = await fetch(`${base}/credentials?service=redis`, {
      headers: { authorization: `Bearer ${token}` }
    })
    const page = (await creds.json()) as { total: number; data: Array<{ principal: string }> }
    expect(page.data.map((c) => c.principal)).toContain("api-user")

    proc.child.kill("SIGINT")
    await new Promise((r) => proc.child.once("exit", r))

    // The next up: the admin exists (no password shown), and the key is the same (the old token works).
    const again = await startUp(env)
    const api2 = apiOf(again.ready)
    expect(api2.password).toBeUndefined()
    const stats = await fetch(`${api2.url}/api/v1/stats`, { headers: { authorization: `Bearer ${token}` } })
    expect(stats.status).toBe(200)
    again.proc.child.kill("SIGINT")
    await new Promise((r) => again.proc.child.once("exit", r))
  })
})
