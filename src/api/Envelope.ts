/**
 * The API-wide HTTP rules of spec api §2–§3, as one `HttpApiBuilder.middleware` around the router:
 * - the content-type check (415 `text/plain`) before any body is read;
 * - CORS for the configured origins only (a preflight from another origin is 400);
 * - validation failures mapped to the envelope: structural → 400, the rest → 422 (`Invalid INI config`
 *   under `/deckies/deploy`), a malformed JSON body → 422;
 * - 401 with `WWW-Authenticate: Bearer`, unknown path 404, known path with another method 405;
 * - an unexpected failure → 500 `{"detail":"Internal Server Error","error_id":…}`, the same id logged
 *   with the cause. No defect ever closes the connection without an answer.
 */
import { randomBytes } from "node:crypto"
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiError,
  type HttpApiGroup,
  type HttpApp,
  type HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Cause, Clock, Effect, Option, Predicate } from "effect"
import { ApiAuth } from "./Auth.js"
import { bearerOf, EdgeCache } from "./EdgeCache.js"
import { Texts, TOO_SHORT, Unauthorized } from "./Errors.js"

export interface EnvelopeOptions {
  /** DECNET_CORS_ORIGINS (explicit origins; a wildcard is refused at startup). */
  readonly corsOrigins: ReadonlyArray<string>
  /** DECNET_DEVELOPER: 500 bodies add the exception type. */
  readonly developer: boolean
}

const CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
const CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"
/** Exempt from the JSON content-type check (§2): file uploads. */
const JSON_EXEMPT = ["/api/v1/deckies/files", "/api/v1/canary/blobs"]

const detail = (status: number, text: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ detail: text }, { status, headers })

/** An ArrayFormatter issue as HttpApiDecodeError carries it. */
interface Issue {
  readonly _tag: string
  readonly message: string
}

/**
 * Structural (400) like pydantic's missing / extra_forbidden / string_too_short / string_type /
 * type_error: a missing or unexpected key, a too-short string, or a value of the wrong JSON type for a
 * string field. Everything else (ranges, patterns, too long, literals, integers) is 422.
 */
export const isStructural = (issues: ReadonlyArray<Issue>): boolean =>
  issues.some(
    (i) =>
      i._tag === "Missing" ||
      i._tag === "Unexpected" ||
      i.message.startsWith(TOO_SHORT) ||
      i.message.includes("must be a string") ||
      /^Expected string, actual (?!")/.test(i.message)
  )

export interface Route {
  readonly method: string
  /** The full path, `:param` segments included. */
  readonly path: string
}

/** Every endpoint of `api` as (method, full path), in declaration order. */
export const routesOf = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups, E, R>
): ReadonlyArray<Route> => {
  const out: Array<Route> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => out.push({ method: endpoint.method, path: endpoint.path })
  })
  return out
}

const routePattern = (path: string) =>
  new RegExp(
    `^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\:[A-Za-z0-9_]+|:[A-Za-z0-9_]+/g, "[^/]+")}$`
  )

const hasBody = (request: HttpServerRequest.HttpServerRequest) => {
  const length = request.headers["content-length"]
  if (length !== undefined) return length.trim() !== "" && length.trim() !== "0"
  return (request.headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")
}

export const envelope = (routes: ReadonlyArray<Route>, options: EnvelopeOptions) =>
  HttpApiBuilder.middleware(
    Effect.map(Effect.all([EdgeCache, ApiAuth]), ([edge, auth]) => envelopeWith(routes, options, edge, auth))
  )

const envelopeWith = (
  routes: ReadonlyArray<Route>,
  options: EnvelopeOptions,
  edge: EdgeCache,
  auth: ApiAuth
) => {
  const patterns = routes.map((r) => routePattern(r.path))
  const origins = new Set(options.corsOrigins)

  const corsHeaders = (origin: string): Record<string, string> => ({
    "access-control-allow-origin": origin,
    vary: "Origin"
  })

  return (app: HttpApp.Default): HttpApp.Default<never, HttpRouter.HttpRouter.Provided> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://localhost")
      const path = url.pathname
      const origin = request.headers.origin
      const allowed = origin !== undefined && origins.has(origin)

      // CORS preflight: answered here, for listed origins only.
      if (
        request.method === "OPTIONS" &&
        origin !== undefined &&
        request.headers["access-control-request-method"]
      ) {
        if (!allowed) return HttpServerResponse.text("Disallowed CORS origin", { status: 400 })
        return HttpServerResponse.empty({
          status: 200,
          headers: {
            ...corsHeaders(origin),
            "access-control-allow-methods": CORS_METHODS,
            "access-control-allow-headers": CORS_HEADERS,
            "access-control-max-age": "600"
          }
        })
      }

      // The JSON content-type rule, before the body is read.
      if (
        (request.method === "POST" || request.method === "PUT" || request.method === "PATCH") &&
        path.startsWith("/api/") &&
        !JSON_EXEMPT.some((p) => path.startsWith(p)) &&
        hasBody(request) &&
        !(request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")
      )
        return HttpServerResponse.text(Texts.unsupportedMedia, { status: 415 })

      const response = yield* app.pipe(
        Effect.catchAllCause((cause) => {
          if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
          const failure = Cause.failureOption(cause)
          // A body that is not JSON: the platform raises its RequestError as a defect.
          const squashed: unknown = Cause.squash(cause)
          if (squashed instanceof HttpServerError.RequestError && squashed.reason === "Decode")
            return Effect.succeed(
              detail(422, path.includes("/deckies/deploy") ? Texts.invalidIni : Texts.invalid)
            )
          if (Option.isNone(failure)) {
            const errorId = randomBytes(16).toString("hex")
            return Effect.as(
              Effect.logError(`request ${request.method} ${path} failed (error_id ${errorId})`, cause),
              HttpServerResponse.unsafeJson(
                {
                  detail: Texts.internal,
                  error_id: errorId,
                  ...(options.developer ? { exception_type: String(Cause.squash(cause)) } : {})
                },
                { status: 500 }
              )
            )
          }
          const e: unknown = failure.value
          if (e instanceof HttpApiError.HttpApiDecodeError) {
            if (isStructural(e.issues)) return Effect.succeed(detail(400, Texts.structural))
            return Effect.succeed(
              detail(422, path.includes("/deckies/deploy") ? Texts.invalidIni : Texts.invalid)
            )
          }
          if (e instanceof Unauthorized)
            return Effect.succeed(detail(401, e.detail, { "www-authenticate": "Bearer" }))
          if (e instanceof HttpServerError.RouteNotFound) {
            const known = patterns.some((p) => p.test(path))
            return Effect.succeed(known ? detail(405, Texts.methodNotAllowed) : detail(404, Texts.notFound))
          }
          if (Predicate.isTagged(e, "ParseError")) return Effect.succeed(detail(422, Texts.invalid))
          return Effect.failCause(cause)
        })
      )
      // The edge cache: a write clears it; a cacheable 200 is kept for its caller's role.
      if (request.method !== "GET" && request.method !== "HEAD" && request.method !== "OPTIONS") edge.clear()
      else if (request.method === "GET" && response.status === 200 && response.body._tag === "Uint8Array") {
        const now = yield* Clock.currentTimeMillis
        const principal = auth.authenticateRecent(bearerOf(request.headers.authorization), "viewer", now)
        if (principal !== undefined)
          edge.store(principal.role, request.url, response.body.body, response.body.contentType, now)
      }
      return allowed ? HttpServerResponse.setHeaders(response, corsHeaders(origin)) : response
    })
}
