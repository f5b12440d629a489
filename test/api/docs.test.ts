// docs/api.md's route → role table is the contract's: every route with its role and success status, in
// order, and nothing else (so a new route cannot land undocumented).
import { readFileSync } from "node:fs"
import { HttpApi } from "@effect/platform"
import { describe, expect, it } from "vitest"
import { DecnetApi } from "../../src/api/Contract.js"

const roleOf = (keys: ReadonlyArray<string>) =>
  keys.some((k) => k.endsWith("/Admin"))
    ? "admin"
    : keys.some((k) => k.endsWith("/StreamViewer"))
      ? "viewer (header or ticket)"
      : keys.some((k) => k.endsWith("/AnyUser"))
        ? "any valid token (must-change allowed)"
        : keys.some((k) => k.endsWith("/Viewer"))
          ? "viewer"
          : "public"

describe("docs/api.md", () => {
  it("lists exactly the contract's routes with their roles and success statuses", () => {
    const fromContract: Array<string> = []
    HttpApi.reflect(DecnetApi, {
      onGroup: () => {},
      onEndpoint: ({ endpoint, middleware, successes }) => {
        const path = endpoint.path.replace("/api/v1", "").replace(/:([a-z_]+)/g, "{$1}")
        const role = roleOf([...middleware].map((m) => m.key))
        fromContract.push(`${endpoint.method} ${path} ${role} ${[...successes.keys()].join("/")}`)
      }
    })
    const doc = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8")
    const table = doc.slice(doc.indexOf("| method | path (under `/api/v1`) | role | success |"))
    const fromDoc = [
      ...table.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+) \| (\d+) \|$/gm)
    ].map((m) => `${m[1]} ${m[2]} ${m[3]?.trim()} ${m[4]}`)
    expect(fromDoc).toEqual(fromContract)
  })
})
