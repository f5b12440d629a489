/**
 * The API's error envelope (spec api §3): every error body is `{"detail": "<text>"}`. One tagged error per
 * HTTP status, each with a wire Schema that carries the status and encodes to `{detail}` alone (no `_tag`
 * on the wire); the typed client decodes the body back into the same error. Handlers map their domain
 * errors onto these in one place per group.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const Detail = Schema.Struct({ detail: Schema.String })

/** `schema` (a tagged `{detail}` error) on the wire as `{detail}` with `status`. */
const onWire = <A, T extends string>(
  schema: Schema.Schema<A, { readonly _tag: T; readonly detail: string }>,
  tag: T,
  status: number
) =>
  Schema.transform(Detail, schema, {
    strict: true,
    decode: (d) => ({ _tag: tag, detail: d.detail }),
    encode: (e) => ({ detail: e.detail })
  }).annotations(HttpApiSchema.annotations({ status }))

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { detail: Schema.String }) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  detail: Schema.String
}) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { detail: Schema.String }) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { detail: Schema.String }) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { detail: Schema.String }) {}
export class Unprocessable extends Schema.TaggedError<Unprocessable>()("Unprocessable", {
  detail: Schema.String
}) {}
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", {
  detail: Schema.String
}) {}
export class NotImplemented extends Schema.TaggedError<NotImplemented>()("NotImplemented", {
  detail: Schema.String
}) {}
export class BadGateway extends Schema.TaggedError<BadGateway>()("BadGateway", { detail: Schema.String }) {}
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  detail: Schema.String
}) {}

export const BadRequestWire = onWire(BadRequest, "BadRequest", 400)
export const UnauthorizedWire = onWire(Unauthorized, "Unauthorized", 401)
export const ForbiddenWire = onWire(Forbidden, "Forbidden", 403)
export const NotFoundWire = onWire(NotFound, "NotFound", 404)
export const ConflictWire = onWire(Conflict, "Conflict", 409)
export const UnprocessableWire = onWire(Unprocessable, "Unprocessable", 422)
export const TooManyRequestsWire = onWire(TooManyRequests, "TooManyRequests", 429)
export const NotImplementedWire = onWire(NotImplemented, "NotImplemented", 501)
export const BadGatewayWire = onWire(BadGateway, "BadGateway", 502)
export const ServiceUnavailableWire = onWire(ServiceUnavailable, "ServiceUnavailable", 503)

/** The texts the spec fixes (api §3, §4). */
export const Texts = {
  credentials: "Could not validate credentials",
  login: "Incorrect username or password",
  mustChange: "Password change required before accessing this resource",
  permissions: "Insufficient permissions",
  structural: "Bad Request: Schema structural violation (wrong type, extra fields, or invalid length).",
  invalid: "Invalid request parameters",
  invalidIni: "Invalid INI config",
  notFound: "Not Found",
  methodNotAllowed: "Method Not Allowed",
  internal: "Internal Server Error",
  unsupportedMedia: "Unsupported Media Type — Content-Type must be application/json"
} as const

/**
 * Messages that mark a validation failure as structural (→ 400, spec §3), like pydantic's
 * `string_too_short`: every length-minimum in a request Schema uses this prefix in its message.
 */
export const TOO_SHORT = "string_too_short"
