// The API serves the web dashboard at `/` (src/api/WebAssets.ts): deep links get index.html (no-cache, a
// CSP), hashed assets a year-long immutable cache, gzip when asked, 304 on a matching ETag; a missing
// asset is a 404, and `/api/…`, `/docs`, `/openapi.json` are never shadowed by the app.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { sqliteBackend } from "../db/backends.js"
import { adminToken, raw, useApi } from "./harness.js"

const dir = mkdtempSync(join(tmpdir(), "decnet-web-"))
mkdirSync(join(dir, "assets"))
const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/app-Ab12Cd34.js"></script></head></html>'
const SCRIPT = `console.log(${JSON.stringify("x".repeat(4000))})`
writeFileSync(join(dir, "index.html"), INDEX)
writeFileSync(join(dir, "assets", "app-Ab12Cd34.js"), SCRIPT)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("API serves the dashboard", () => {
  const api = useApi(sqliteBackend().backend, { DECNET_LIMITER_ENABLED: "false", DECNET_WEB_DIR: dir })

  it("answers / and every deep link with index.html, not cached, with a CSP", async () => {
    const { baseUrl } = api()
    for (const path of ["/", "/login", "/fleet", "/logs?q=service:ssh&id=4", "/config/users/x"]) {
      const r = await raw(baseUrl, path)
      expect(r.status, path).toBe(200)
      expect(r.body).toBe(INDEX)
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8")
      expect(r.headers.get("cache-control")).toBe("no-cache")
      expect(r.headers.get("content-security-policy")).toContain("default-src 'self'")
      expect(r.headers.get("x-content-type-options")).toBe("nosniff")
    }
  })

  it("serves hashed assets immutable and gzipped, with a 304 for a matching ETag", async () => {
    const { baseUrl } = api()
    const r = await raw(baseUrl, "/assets/app-Ab12Cd34.js", { headers: { "accept-encoding": "gzip" } })
    expect(r.status).toBe(200)
    expect(r.body).toBe(SCRIPT) // fetch decodes the gzip
    expect(r.headers.get("content-encoding")).toBe("gzip")
    expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
    expect(r.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    const etag = r.headers.get("etag")
    expect(etag).toMatch(/^"[\w-]+"$/)
    const again = await raw(baseUrl, "/assets/app-Ab12Cd34.js", { headers: { "if-none-match": etag ?? "" } })
    expect(again.status).toBe(304)
    expect(again.body).toBe("")
    const plain = await raw(baseUrl, "/assets/app-Ab12Cd34.js", {
      headers: { "accept-encoding": "identity" }
    })
    expect(plain.headers.get("content-encoding")).toBeNull()
    expect(Number(plain.headers.get("content-length"))).toBe(Buffer.byteLength(SCRIPT))
  })

  it("answers a missing asset with 404, not the app; leaves the API, /docs and /openapi.json alone", async () => {
    const { baseUrl } = api()
    const missing = await raw(baseUrl, "/assets/app-old.js")
    expect(missing.status).toBe(404)
    expect(missing.body).not.toContain("<html")
    expect((await raw(baseUrl, "/favicon.ico")).status).toBe(404)
    const unknownApi = await raw(baseUrl, "/api/v1/nope")
    expect(unknownApi.status).toBe(404)
    expect(unknownApi.json()).toEqual({ detail: "Not Found" })
    const stats = await raw(baseUrl, "/api/v1/stats", { token: await adminToken(baseUrl) })
    expect(stats.status).toBe(200)
    expect(stats.json()).toHaveProperty("total_logs")
    const openapi = await raw(baseUrl, "/openapi.json")
    expect(openapi.status).toBe(200)
    expect(openapi.json()).toHaveProperty("openapi")
    expect((await raw(baseUrl, "/docs")).body).not.toBe(INDEX)
    // only GET and HEAD reach the dashboard
    expect((await raw(baseUrl, "/fleet", { method: "POST" })).status).toBe(404)
    const head = await raw(baseUrl, "/fleet", { method: "HEAD" })
    expect(head.status).toBe(200)
    expect(head.body).toBe("")
  })
})
