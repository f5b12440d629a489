/**
 * The web dashboard's files (web/, built into dist/web by scripts/build-web.mjs), served by the API's node
 * server at `/`:
 * - `/assets/*` are content-hashed by the build: `cache-control: public, max-age=31536000, immutable`;
 * - any other GET/HEAD path outside `/api/`, `/docs` and `/openapi.json` that names no file is a deep link
 *   of the single-page app and gets `index.html` (`no-cache`, so a new build is picked up at once);
 * - gzip when the client accepts it (compressed once, at start), a strong ETag and 304 on a match,
 *   `x-content-type-options: nosniff`, and a CSP that allows this origin only.
 *
 * The files are read into memory once when the server starts (a few hundred KB). The folder is
 * DECNET_WEB_DIR, else dist/web of the decnet package this module belongs to. With no built dashboard
 * the API still serves, and `/` says how to build it.
 *
 * Answering from node's `request` event is a boundary adapter to node:http (edgeServer in Server.ts).
 */
import { createHash } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"

interface Asset {
  readonly body: Uint8Array
  readonly gzip: Uint8Array | undefined
  readonly type: string
  readonly etag: string
  readonly immutable: boolean
}

export interface WebAssets {
  /** The folder served, or none when no dashboard is built. */
  readonly dir: Option.Option<string>
  readonly files: ReadonlyMap<string, Asset>
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8"
}
const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"

const NOT_BUILT = Buffer.from(
  "<!doctype html><meta charset=utf-8><title>DECNET</title><h1>The DECNET dashboard is not built</h1>" +
    "<p>Run <code>npm run build</code> (or <code>npm install</code>) in the decnet checkout, or point " +
    "<code>DECNET_WEB_DIR</code> at a built dashboard. The API is under <a href=/docs>/api/v1</a>.</p>"
)

/** The decnet package's root: the nearest folder above this module with decnet's package.json. */
const packageRoot = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const pkg = path.join(dir, "package.json")
    const text = yield* fs.readFileString(pkg).pipe(Effect.orElseSucceed(() => ""))
    if (text.includes('"name": "decnet"')) return Option.some(dir)
    const up = path.dirname(dir)
    if (up === dir) break
    dir = up
  }
  return Option.none<string>()
})

/** Read the dashboard's files once. */
export const loadWebAssets = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const config = yield* DecnetConfig
  const dir = yield* Option.match(config.web.dir, {
    onSome: (d) => Effect.succeed(Option.some(path.resolve(d))),
    onNone: () =>
      Effect.map(
        packageRoot,
        Option.map((root) => path.join(root, "dist", "web"))
      )
  })
  const files = new Map<string, Asset>()
  const found = yield* Option.match(dir, {
    onNone: () => Effect.succeed(false),
    onSome: (d) => fs.exists(path.join(d, "index.html")).pipe(Effect.orElseSucceed(() => false))
  })
  if (!found || Option.isNone(dir)) {
    if (Option.isSome(config.web.dir))
      yield* Effect.logWarning(
        `DECNET_WEB_DIR=${config.web.dir.value}: no index.html there; the dashboard is off`
      )
    return { dir: Option.none(), files } satisfies WebAssets
  }
  const root = dir.value
  const names = yield* fs.readDirectory(root, { recursive: true })
  for (const name of names) {
    const full = path.join(root, name)
    const info = yield* fs.stat(full)
    if (info.type !== "File") continue
    const body = yield* fs.readFile(full)
    const type = TYPES[path.extname(name).toLowerCase()] ?? "application/octet-stream"
    const urlPath = `/${name.split(path.sep).join("/")}`
    files.set(urlPath, {
      body,
      gzip: COMPRESSIBLE.test(type) && body.byteLength > 512 ? gzipSync(body, { level: 9 }) : undefined,
      type,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      immutable: urlPath.startsWith("/assets/")
    })
  }
  return { dir: Option.some(root), files } satisfies WebAssets
})

/** Paths that belong to the API, never to the dashboard. */
const isApiPath = (p: string) =>
  p === "/api" || p.startsWith("/api/") || p === "/docs" || p.startsWith("/docs/") || p === "/openapi.json"

/** Answer `req` with a dashboard file when it is one of its GET/HEADs; true when answered. */
export const serveWeb = (web: WebAssets, req: IncomingMessage, res: ServerResponse): boolean => {
  if ((req.method !== "GET" && req.method !== "HEAD") || req.url === undefined) return false
  const q = req.url.indexOf("?")
  const pathname = q === -1 ? req.url : req.url.slice(0, q)
  if (isApiPath(pathname)) return false
  const common = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" }
  if (Option.isNone(web.dir)) {
    if (pathname !== "/") return false
    res.writeHead(503, { ...common, "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
    res.end(req.method === "HEAD" ? undefined : NOT_BUILT)
    return true
  }
  let asset = web.files.get(pathname)
  if (asset === undefined) {
    // A missing hashed asset is a 404 (a stale page asking for an old build), not the app's HTML.
    if (pathname.startsWith("/assets/") || /\.[a-z0-9]{1,8}$/i.test(pathname)) return false
    asset = web.files.get("/index.html")
    if (asset === undefined) return false
  }
  const headers: Record<string, string> = {
    ...common,
    "content-type": asset.type,
    etag: asset.etag,
    "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    vary: "accept-encoding"
  }
  if (asset.type.startsWith("text/html")) headers["content-security-policy"] = CSP
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers)
    res.end()
    return true
  }
  const gzip = asset.gzip !== undefined && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))
  const body = gzip && asset.gzip !== undefined ? asset.gzip : asset.body
  if (gzip) headers["content-encoding"] = "gzip"
  headers["content-length"] = String(body.byteLength)
  res.writeHead(200, headers)
  res.end(req.method === "HEAD" ? undefined : body)
  return true
}
