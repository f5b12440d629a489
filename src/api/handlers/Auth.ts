// The `auth` group (spec api §4, §5.1): login, change-password, logout, SSE tickets.
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { ApiAuth, peerOf } from "../Auth.js"
import { DecnetApi } from "../Contract.js"
import { CurrentUser } from "../Security.js"

/** The bearer token of this request (the middleware has already accepted it). */
const bearerToken = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
  const header = request.headers.authorization ?? ""
  return /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? ""
})

export const AuthHandlers = HttpApiBuilder.group(DecnetApi, "auth", (handlers) =>
  Effect.gen(function* () {
    const auth = yield* ApiAuth
    return handlers
      .handle("login", ({ payload, request }) =>
        auth.login(payload.username, payload.password, peerOf(request))
      )
      .handle("changePassword", ({ payload, request }) =>
        Effect.gen(function* () {
          const user = yield* CurrentUser
          yield* auth.changePassword(user, payload.old_password, payload.new_password, peerOf(request))
          return { message: "Password updated successfully" }
        })
      )
      .handle("logout", () =>
        Effect.gen(function* () {
          yield* auth.logout(yield* bearerToken)
          return { message: "Logged out" }
        })
      )
      .handle("sseTicket", () => Effect.flatMap(CurrentUser, auth.mintTicket))
  })
)
