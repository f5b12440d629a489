/**
 * The topology status machine (spec/topology.md §3): seven states, thirteen legal moves, torn_down
 * terminal. Self-loops are illegal. Writers call `assertTransition` before they record a new status.
 */
import { Either } from "effect"
import { TopologyStatusError } from "./Errors.js"
import { TOPOLOGY_STATUSES, type TopologyStatus } from "./Model.js"

export const LEGAL_TRANSITIONS: Readonly<Record<TopologyStatus, ReadonlyArray<TopologyStatus>>> = {
  pending: ["deploying", "torn_down"],
  deploying: ["active", "failed", "degraded", "tearing_down"],
  active: ["degraded", "tearing_down"],
  degraded: ["active", "tearing_down"],
  failed: ["tearing_down"],
  tearing_down: ["torn_down", "degraded"],
  torn_down: []
}

const STATUSES: ReadonlySet<string> = new Set(TOPOLOGY_STATUSES)

export const isTopologyStatus = (s: string): s is TopologyStatus => STATUSES.has(s)

/** The statuses reachable in one move from `current`. */
export const legalNext = (
  current: string
): Either.Either<ReadonlyArray<TopologyStatus>, TopologyStatusError> =>
  isTopologyStatus(current)
    ? Either.right(LEGAL_TRANSITIONS[current])
    : Either.left(new TopologyStatusError({ message: `unknown status: '${current}'` }))

/** Succeeds with the new status when `current → next` is a legal move. */
export const assertTransition = (
  current: string,
  next: string
): Either.Either<TopologyStatus, TopologyStatusError> => {
  if (!isTopologyStatus(current)) {
    return Either.left(new TopologyStatusError({ message: `unknown current status: '${current}'` }))
  }
  if (!isTopologyStatus(next)) {
    return Either.left(new TopologyStatusError({ message: `unknown new status: '${next}'` }))
  }
  return LEGAL_TRANSITIONS[current].includes(next)
    ? Either.right(next)
    : Either.left(new TopologyStatusError({ message: `illegal transition: '${current}' → '${next}'` }))
}
