/**
 * The tarpit routes of both groups (spec api §7.13: `/deckies/{decky_name}/tarpit`; topology §10:
 * `/topologies/{topology_id}/deckies/{decky_name}/tarpit`): one Tarpit service behind them, and the one
 * place its failures become statuses — no such decky, or not running, 404; a decky the tarpit cannot reach
 * here, 409; `tc` refused, 409 `tarpit command failed`.
 */
import { Effect } from "effect"
import type { TarpitTarget } from "../../tarpit/Namespaces.js"
import { Tarpit, type TarpitNotFound, type TarpitUnavailable } from "../../tarpit/Tarpit.js"
import type { TarpitCommandFailed } from "../../tarpit/TrafficControl.js"
import { Conflict, NotFound } from "../Errors.js"
import { CurrentUser } from "../Security.js"

export const tarpitToHttp = (
  e: TarpitNotFound | TarpitUnavailable | TarpitCommandFailed
): NotFound | Conflict => {
  switch (e._tag) {
    case "TarpitNotFound":
      return new NotFound({ detail: e.message })
    case "TarpitUnavailable":
      return new Conflict({ detail: e.message })
    case "TarpitCommandFailed":
      return new Conflict({ detail: `tarpit command failed: ${e.message}` })
  }
}

/** The three handlers over a target the route's path names. */
export const TarpitRoutes = Effect.map(Tarpit, (tarpit) => ({
  on: (target: TarpitTarget, payload: { readonly ports: ReadonlyArray<number>; readonly delay_ms: number }) =>
    Effect.flatMap(CurrentUser, (user) =>
      tarpit.enable(target, payload.ports, payload.delay_ms, user.username)
    ).pipe(Effect.as({ message: "tarpit active" }), Effect.mapError(tarpitToHttp)),
  status: (target: TarpitTarget) =>
    tarpit.status(target).pipe(Effect.mapError((e) => new NotFound({ detail: e.message }))),
  off: (target: TarpitTarget) =>
    Effect.flatMap(CurrentUser, (user) => tarpit.disable(target, user.username)).pipe(
      Effect.as({ message: "tarpit removed" }),
      Effect.mapError(tarpitToHttp)
    )
}))
