/**
 * MazeNET's typed failures (spec/topology.md §3–§8). Each carries what a caller needs to tell the operator
 * what to do; the API maps each tag to one status in one place (409, 404, 400), the CLI prints the message.
 */
import { Data } from "effect"
import type { TopologyStatus } from "./Model.js"

/** Optimistic concurrency: the edit was made against an older version of the topology. */
export class VersionConflict extends Data.TaggedError("VersionConflict")<{
  readonly topologyId: string
  readonly current: number
  readonly expected: number
}> {
  override get message() {
    return `topology version conflict: expected ${this.expected}, current is ${this.current}`
  }
}

/** Free-form edits of an already deployed topology: those go through the mutation queue. */
export class TopologyNotEditable extends Data.TaggedError("TopologyNotEditable")<{
  readonly topologyId: string
  readonly status: TopologyStatus
}> {
  override get message() {
    return `topology not editable (status='${this.status}'): free-form edits are pending-only; use the mutator (topology_mutations) after deploy`
  }
}

/** A topology, LAN, decky, edge or mutation that does not exist. */
export class TopologyNotFound extends Data.TaggedError("TopologyNotFound")<{
  readonly what: "topology" | "lan" | "decky" | "edge" | "mutation" | "swarm host"
  readonly id: string
}> {
  override get message() {
    return `${this.what} '${this.id}' not found`
  }
}

/** A request the topology cannot take as it is (an orphaning delete, a bad reference, a duplicate name…). */
export class TopologyRejected extends Data.TaggedError("TopologyRejected")<{
  readonly message: string
}> {}

/** The status machine (§3) forbids this move. */
export class TopologyStatusError extends Data.TaggedError("TopologyStatusError")<{
  readonly message: string
}> {}

/** No free address or /24 left. */
export class AllocatorExhausted extends Data.TaggedError("AllocatorExhausted")<{
  readonly message: string
}> {}

export interface ValidationIssue {
  readonly severity: "error" | "warning"
  readonly code: string
  readonly message: string
  readonly target: Readonly<Record<string, unknown>>
}

/** The validator (§4) found errors; warnings never fail. */
export class TopologyValidationError extends Data.TaggedError("TopologyValidationError")<{
  readonly issues: ReadonlyArray<ValidationIssue>
}> {
  override get message() {
    const errors = this.issues.filter((i) => i.severity === "error")
    return `${errors.length} topology validation error(s): ${errors.map((i) => `[${i.code}] ${i.message}`).join("; ")}`
  }
}

/** A live mutation that cannot be applied (§8): the row is marked failed with this reason. */
export class MutationError extends Data.TaggedError("MutationError")<{
  readonly message: string
}> {}
