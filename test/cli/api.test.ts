// `decnet api` as a process (spec api §1): the startup refusals, each one line naming the problem and
// exit 1, before anything listens; then a real start on a free loopback port that answers /openapi.json
// and stops cleanly on SIGTERM.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort } from "../support/ports.js"
import { cleanEnv, decnet, stopAll, waitUntil } from "../support/proc.js"
import { cli } from "./upSupport.js"

afterAll(stopAll)

const home = mkdtempSync(join(tmpdir(), "decnet-api-cli-"))
const base = {
  HOME: home,
  DECNET_CONFIG: join(home, "absent.ini"),
  DECNET_DB_PATH: join(home, "decnet.db"),
  DECNET_BUS_ENABLED: "false",
  DECNET_JWT_SECRET: "a-long-enough-secret-for-the-api-0123456789",
  DECNET_ADMIN_PASSWORD: "a-good-admin-password"
}

describe("decnet api", () => {
  it("refuses to start on a bad configuration, naming the variable and not its value", async () => {
    const cases: ReadonlyArray<[Record<string, string>, ReadonlyArray<string>, string]> = [
      [{ DECNET_JWT_SECRET: "" }, [], "DECNET_JWT_SECRET is not set"],
      [{ DECNET_JWT_SECRET: "changeme" }, [], "DECNET_JWT_SECRET is a well-known default"],
      [{ DECNET_JWT_SECRET: "short-secret" }, [], "DECNET_JWT_SECRET must be at least 32 characters"],
      [{ DECNET_ADMIN_PASSWORD: "admin" }, [], "DECNET_ADMIN_PASSWORD is a well-known default"],
      [{ DECNET_CORS_ORIGINS: "http://a.test,*" }, [], "DECNET_CORS_ORIGINS must not contain a wildcard '*'"],
      [
        { DECNET_CORS_ORIGINS: "http://localhost:3000" },
        ["--host", "0.0.0.0"],
        "DECNET_CORS_ORIGINS lists a loopback origin"
      ],
      [{ DECNET_MODE: "agent" }, [], "master-only"]
    ]
    for (const [env, args, message] of cases) {
      const r = await cli(["api", "--port", String(await freePort()), ...args], cleanEnv({ ...base, ...env }))
      expect(r.status, message).toBe(1)
      expect(r.stderr, message).toContain(message)
      expect(r.stderr).not.toContain("changeme")
      expect(r.stderr).not.toContain("short-secret")
    }
  })

  it("starts on loopback, serves /openapi.json and /docs, and stops on SIGTERM", async () => {
    const port = await freePort()
    const proc = decnet(["api", "--port", String(port)], cleanEnv(base))
    const up = await waitUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/openapi.json`).catch(() => undefined)
      return r?.status === 200 ? r : proc.child.exitCode !== null ? false : undefined
    }, 30_000)
    if (!up) throw new Error(`decnet api did not start:\n${proc.stderr()}`)
    const doc = (await up.json()) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toBe("3.1.0")
    expect(Object.keys(doc.paths)).toContain("/api/v1/auth/login")
    const docs = await fetch(`http://127.0.0.1:${port}/docs`)
    expect(docs.status).toBe(200)
    expect(await docs.text()).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/)
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: base.DECNET_ADMIN_PASSWORD })
    })
    expect(login.status).toBe(200)
    expect(((await login.json()) as { must_change_password: boolean }).must_change_password).toBe(true)
    proc.child.kill("SIGTERM")
    await proc.exited
    expect(proc.child.exitCode === 0 || proc.child.signalCode === "SIGTERM").toBe(true)
  })
})
