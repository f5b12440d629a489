/**
 * The edge cache: rendered bodies of the cached read routes (spec api §6: `/stats`, `/deckies`, `/config`,
 * and the first default page of `/logs`), served straight from node's `request` event for a caller
 * `ApiAuth` authenticated in the last 10 s, without entering the Effect HTTP stack (router, fibers,
 * Schema encode). That stack costs ~100 µs a request; a hit here costs a map lookup and a write.
 *
 * - A body is stored by the envelope after the Effect path answered 200, keyed by the caller's role and
 *   the exact URL, for EDGE_TTL_MS (1 s): at most 1 s on top of the route's own cache window.
 * - Any other request than GET/HEAD/OPTIONS clears it (a write through this API is seen at once).
 * - A miss, an unknown or stale caller, any other route: the request goes on to the Effect app, which
 *   decides (and answers 401/403) exactly as without the cache.
 *
 * Serving from the request event is a boundary adapter to node:http (EdgeServer in Server.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect } from "effect"
import type { Role } from "./Security.js"

export const EDGE_TTL_MS = 1_000

/** The paths whose 200 bodies may be kept (query included: only the default `/logs` page). */
export const EDGE_PATHS: ReadonlySet<string> = new Set([
  "/api/v1/stats",
  "/api/v1/deckies",
  "/api/v1/config",
  "/api/v1/logs",
  "/api/v1/logs?limit=50",
  "/api/v1/logs?limit=50&offset=0"
])

interface Entry {
  readonly body: Uint8Array
  readonly contentType: string
  readonly until: number
}

export class EdgeCache extends Effect.Service<EdgeCache>()("decnet/api/EdgeCache", {
  succeed: (() => {
    const entries = new Map<string, Entry>()
    const keyOf = (role: Role, url: string) => `${role} ${url}`
    return {
      /** Keep a rendered 200 body for `url` as `role` sees it. */
      store: (role: Role, url: string, body: Uint8Array, contentType: string, now: number) => {
        if (!EDGE_PATHS.has(url)) return
        entries.set(keyOf(role, url), { body, contentType, until: now + EDGE_TTL_MS })
      },
      /** A fresh body for `url` as `role` sees it. */
      lookup: (role: Role, url: string, now: number): Entry | undefined => {
        const e = entries.get(keyOf(role, url))
        if (e === undefined) return undefined
        if (e.until <= now) {
          entries.delete(keyOf(role, url))
          return undefined
        }
        return e
      },
      /** A write went through: forget every body. */
      clear: () => entries.clear(),
      size: () => entries.size
    }
  })()
}) {}

/** The bearer token of a raw request, or "". */
export const bearerOf = (header: string | undefined): string => {
  if (header === undefined) return ""
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1] ?? ""
}

/**
 * Answer `req` from the cache when it can; true when answered. Only plain GETs without an Origin (CORS
 * answers carry per-origin headers) and with a recently authenticated viewer-or-admin token.
 */
export const serveFromEdge = (
  cache: EdgeCache,
  authenticateRecent: (token: string, now: number) => { readonly role: Role } | undefined,
  req: IncomingMessage,
  res: ServerResponse
): boolean => {
  if (
    req.method !== "GET" ||
    req.url === undefined ||
    !EDGE_PATHS.has(req.url) ||
    req.headers.origin !== undefined
  )
    return false
  const token = bearerOf(req.headers.authorization)
  if (token === "") return false
  const now = Date.now()
  const principal = authenticateRecent(token, now)
  if (principal === undefined) return false
  const entry = cache.lookup(principal.role, req.url, now)
  if (entry === undefined) return false
  // `x-cache: edge` tells an operator (and the tests) the answer came from here.
  res.writeHead(200, {
    "content-type": entry.contentType,
    "content-length": entry.body.byteLength,
    "x-cache": "edge"
  })
  res.end(entry.body)
  return true
}
