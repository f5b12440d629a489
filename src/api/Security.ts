/**
 * Who may call what (spec api §4.3–§4.4, §5.2). Each endpoint carries exactly one of these middlewares:
 * `AnyUser` (a valid token; must-change allowed: change-password and logout), `Viewer` (admin or viewer,
 * password changed), `Admin`, and `StreamViewer` (the SSE routes: a bearer header or a single-use
 * `?ticket=`). Each provides the caller as `CurrentUser`. The checks live in Auth.ts; the tags are part of
 * the contract, so the OpenAPI document lists the schemes and the typed client knows the failures.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Schema } from "effect"
import { ForbiddenWire, UnauthorizedWire } from "./Errors.js"

export const Role = Schema.Literal("admin", "viewer")
export type Role = typeof Role.Type

/** The authenticated caller of a request. */
export interface Principal {
  readonly uuid: string
  readonly username: string
  readonly role: Role
  readonly mustChangePassword: boolean
}

export class CurrentUser extends Context.Tag("decnet/api/CurrentUser")<CurrentUser, Principal>() {}

const AuthFailure = Schema.Union(UnauthorizedWire, ForbiddenWire)

/** Any valid access token, even one whose user must still change the password. */
export class AnyUser extends HttpApiMiddleware.Tag<AnyUser>()("decnet/api/AnyUser", {
  failure: AuthFailure,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Admin or viewer, password already changed. */
export class Viewer extends HttpApiMiddleware.Tag<Viewer>()("decnet/api/Viewer", {
  failure: AuthFailure,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Admin, password already changed. */
export class Admin extends HttpApiMiddleware.Tag<Admin>()("decnet/api/Admin", {
  failure: AuthFailure,
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** A viewer on an SSE route: `Authorization: Bearer <jwt>` or `?ticket=` (never a raw JWT in the query). */
export class StreamViewer extends HttpApiMiddleware.Tag<StreamViewer>()("decnet/api/StreamViewer", {
  failure: AuthFailure,
  provides: CurrentUser,
  security: {
    bearer: HttpApiSecurity.bearer,
    ticket: HttpApiSecurity.apiKey({ key: "ticket", in: "query" })
  }
}) {}
