/**
 * The dashboard's one API client: openapi-fetch typed by `paths`, which scripts/build-web.mjs generates
 * from the server's contract (src/api/Contract.ts). Every call goes through `call`, which turns a non-2xx
 * answer into an `ApiError` carrying the server's `detail`.
 *
 * - The JWT lives in localStorage["token"] (spec api §8) and is sent as `Authorization: Bearer`.
 * - Any 401 (other than a failed login or a wrong old password) drops the token: the app logs out.
 * - A 403 "Insufficient permissions" reads "admin role required".
 */
import createClient, { type Middleware } from "openapi-fetch"
import type { components, paths } from "./schema.gen"

export type { components, paths }

export const TOKEN_KEY = "token"

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never
/** The 200/201/202 JSON body of `method` on `path`. */
export type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R
}
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 201: infer A }
      ? Json<A>
      : R extends { 202: infer A }
        ? Json<A>
        : never
  : never

export type Stats = Ok<"/api/v1/stats", "get">
export type LogPage = Ok<"/api/v1/logs", "get">
export type LogRow = LogPage["data"][number]
export type Histogram = Ok<"/api/v1/logs/histogram", "get">
export type Decky = Ok<"/api/v1/deckies", "get">[number]
export type Config = Ok<"/api/v1/config", "get">
export type Workers = Ok<"/api/v1/workers", "get">
export type Worker = Workers["workers"][number]
export type CredentialRow = Ok<"/api/v1/credentials", "get">["data"][number]
export type BountyRow = Ok<"/api/v1/bounty", "get">["data"][number]
export type LifecycleRow = Ok<"/api/v1/deckies/lifecycle", "get">["rows"][number]

export class ApiError extends Error {
  readonly status: number
  readonly detail: string
  constructor(status: number, detail: string) {
    super(detail)
    this.name = "ApiError"
    this.status = status
    this.detail = detail
  }
}

const ADMIN_REQUIRED = "admin role required"

/** The text a person should read for an error body. */
export const detailOf = (status: number, body: unknown): string => {
  const raw = typeof body === "object" && body !== null && "detail" in body ? body.detail : undefined
  const text =
    typeof raw === "string"
      ? raw
      : Array.isArray(raw)
        ? raw
            .map((e) => (typeof e === "object" && e !== null && "msg" in e ? String(e.msg) : String(e)))
            .join("; ")
        : `HTTP ${status}`
  return status === 403 && text === "Insufficient permissions" ? ADMIN_REQUIRED : text
}

type Listener = () => void
const logoutListeners = new Set<Listener>()
/** Called when a 401 dropped the token. */
export const onForcedLogout = (l: Listener) => {
  logoutListeners.add(l)
  return () => {
    logoutListeners.delete(l)
  }
}

export const readToken = (): string | null => localStorage.getItem(TOKEN_KEY)
export const writeToken = (token: string | null) => {
  if (token === null) localStorage.removeItem(TOKEN_KEY)
  else localStorage.setItem(TOKEN_KEY, token)
}

/** 401s that mean "these credentials are wrong", not "your session is over". */
const OWN_401 = new Set(["/api/v1/auth/login", "/api/v1/auth/change-password"])

const auth: Middleware = {
  onRequest({ request }) {
    const token = readToken()
    if (token !== null && !request.headers.has("authorization"))
      request.headers.set("authorization", `Bearer ${token}`)
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !OWN_401.has(new URL(request.url).pathname) && readToken() !== null) {
      writeToken(null)
      for (const l of logoutListeners) l()
    }
    return response
  }
}

export const api = createClient<paths>({ baseUrl: window.location.origin })
api.use(auth)

/** Await an openapi-fetch call: its data, or an ApiError with the server's detail. */
export const call = async <T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> => {
  const r = await p
  if (!r.response.ok) throw new ApiError(r.response.status, detailOf(r.response.status, r.error))
  // A 2xx without a body (204) has no data: the caller's type says so (void routes).
  return r.data as T
}

/** A binary download (artifacts): fetch with the bearer token, then save through a blob URL. */
export const download = async (path: string, filename: string) => {
  const token = readToken()
  const res = await fetch(path, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  if (!res.ok) {
    const body: unknown = await res.json().catch(() => undefined)
    if (res.status === 401) {
      writeToken(null)
      for (const l of logoutListeners) l()
    }
    throw new ApiError(res.status, detailOf(res.status, body))
  }
  saveBlob(await res.blob(), filename)
}

/** Save `blob` as `filename` through a temporary blob URL. */
export const saveBlob = (blob: Blob, filename: string) => {
  const url = URL.createObjectURL(blob)
  const a = document.createElement("a")
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
