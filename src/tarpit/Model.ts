// The tarpit's wire shapes (spec api §7.13): `GET …/tarpit` is the rule and the peers its ports hold now.
import { Schema } from "effect"
import { TarpitRule } from "../db/TarpitRepo.js"

/** A peer held on a tarpitted port: its address and the decky's port. */
export const ActiveConnection = Schema.Struct({ ip: Schema.String, port: Schema.Int })

export const TarpitStatus = Schema.Struct({
  rule: TarpitRule,
  active_connections: Schema.Array(ActiveConnection)
}).annotations({ identifier: "TarpitStatus" })
export type TarpitStatus = typeof TarpitStatus.Type
