// The OpenAPI document drives two checks against a real server: every operation but login answers 401
// without a token, and a fast-check fuzz of requests built from the document (random path values,
// query values and JSON bodies, with and without a valid admin token) never gets a 500, and every error
// body is `{detail}` (the 415 of the content-type rule is text/plain by spec, and an unhealthy /health is
// its report with 503).
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { API_ROUTES } from "../../src/api/Server.js"
import { sqliteBackend } from "../db/backends.js"
import { adminToken, raw, useApi } from "./harness.js"

interface Operation {
  readonly method: string
  readonly path: string
  readonly query: ReadonlyArray<string>
  readonly bodyKeys: ReadonlyArray<string>
  readonly hasBody: boolean
}

type Json = Record<string, unknown>
const isJson = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** The operations of the document, with their query names and body property names. */
const operations = (doc: unknown): Array<Operation> => {
  if (!isJson(doc) || !isJson(doc.paths)) throw new Error("no paths in /openapi.json")
  const components = isJson(doc.components) && isJson(doc.components.schemas) ? doc.components.schemas : {}
  const resolve = (s: unknown): unknown => {
    if (isJson(s) && typeof s.$ref === "string") return components[s.$ref.split("/").pop() ?? ""]
    return s
  }
  const out: Array<Operation> = []
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!isJson(item)) continue
    for (const [method, op] of Object.entries(item)) {
      if (!isJson(op)) continue
      const params = Array.isArray(op.parameters) ? op.parameters.filter(isJson) : []
      const query = params.filter((p) => p.in === "query").map((p) => String(p.name))
      let bodyKeys: Array<string> = []
      let hasBody = false
      if (isJson(op.requestBody) && isJson(op.requestBody.content)) {
        hasBody = true
        const media = op.requestBody.content["application/json"]
        const schema = isJson(media) ? resolve(media.schema) : undefined
        if (isJson(schema) && isJson(schema.properties)) bodyKeys = Object.keys(schema.properties)
      }
      out.push({ method: method.toUpperCase(), path, query, bodyKeys, hasBody })
    }
  }
  return out
}

const fill = (path: string, value: string) => path.replace(/\{[^}]+\}/g, encodeURIComponent(value))

describe("[sqlite] API from its OpenAPI document", () => {
  const api = useApi(sqliteBackend().backend, { DECNET_LIMITER_ENABLED: "false" })

  const loadOps = async () => {
    const doc = await raw(api().baseUrl, "/openapi.json")
    expect(doc.status).toBe(200)
    return operations(doc.json())
  }

  it("lists the contract's operations, and every one but login answers 401 without a token", async () => {
    const { baseUrl } = api()
    const ops = await loadOps()
    const paths = new Set(ops.map((o) => `${o.method} ${o.path}`))
    // The document lists exactly the contract's routes.
    expect(paths).toEqual(
      new Set(API_ROUTES.map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`))
    )
    for (const expected of ["POST /api/v1/auth/login", "GET /api/v1/stream", "GET /api/v1/health"])
      expect(paths.has(expected), expected).toBe(true)
    for (const op of ops) {
      const r = await raw(baseUrl, fill(op.path, "x"), {
        method: op.method,
        ...(op.hasBody ? { headers: { "content-type": "application/json" }, body: "{}" } : {})
      })
      if (op.path === "/api/v1/auth/login") {
        expect(r.status, `${op.method} ${op.path}`).toBe(400)
        continue
      }
      expect(r.status, `${op.method} ${op.path}`).toBe(401)
      expect(r.json()).toEqual({ detail: "Could not validate credentials" })
      expect(r.headers.get("www-authenticate")).toBe("Bearer")
    }
  })

  it("never answers 500 to requests fuzzed from the document; every error body is {detail}", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    // Logout would revoke the fuzzer's own token, and the SSE streams never end: they are left out.
    const skip = new Set(["/api/v1/auth/logout", "/api/v1/stream", "/api/v1/events"])
    const ops = (await loadOps()).filter((o) => !skip.has(o.path))
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom(
        "",
        "null",
        "0",
        "-1",
        "99999999999",
        "1e309",
        "2026-01-01 00:00:00",
        "../..",
        "%00",
        "'--"
      )
    )
    const value = fc.oneof(
      text,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(text),
      fc.object()
    )
    const request = fc.record({
      op: fc.constantFrom(...ops),
      pathValue: text.filter((s) => s !== ""),
      query: fc.dictionary(fc.string({ maxLength: 12 }), text, { maxKeys: 4 }),
      useDeclared: fc.boolean(),
      declared: fc.array(text, { maxLength: 4 }),
      body: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string({ maxLength: 12 }), value)),
      knownKeys: fc.array(value, { maxLength: 6 }),
      rawBody: fc.oneof(fc.constant(undefined), fc.string()),
      withToken: fc.boolean()
    })
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const params = new URLSearchParams()
        if (r.useDeclared) for (const [i, name] of r.op.query.entries()) params.set(name, r.declared[i] ?? "")
        for (const [k, v] of Object.entries(r.query)) params.append(k, v)
        let body: string | undefined
        if (r.op.hasBody) {
          const keyed = Object.fromEntries(r.op.bodyKeys.map((k, i) => [k, r.knownKeys[i]]))
          body = r.rawBody ?? JSON.stringify(r.useDeclared ? keyed : r.body)
        }
        const res = await raw(baseUrl, `${fill(r.op.path, r.pathValue)}?${params}`, {
          method: r.op.method,
          ...(r.withToken ? { token } : {}),
          ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body })
        })
        expect(res.status, `${r.op.method} ${r.op.path} → ${res.body}`).not.toBe(500)
        if (r.op.path === "/api/v1/health" && res.status === 503) {
          // spec §7.7: an unhealthy report is the health body itself, with 503
          expect(res.json()).toMatchObject({ status: "unhealthy" })
        } else if (res.status >= 400 && res.status !== 415) {
          const parsed: unknown = res.json()
          expect(isJson(parsed) && typeof parsed.detail === "string", res.body).toBe(true)
        }
      }),
      { numRuns: 400 }
    )
  })
})
