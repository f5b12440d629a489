// A TopologyRuntime that runs nothing and records every call: the API and CLI tests see what the deployer
// asked for (deploy once, teardown once, the reaper's ids) without Docker. Every decky inspects `running`.
import { Effect, Layer } from "effect"
import { deckyNameOf } from "../../src/topology/Deploy.js"
import { TopologyRuntime, type TopologyRuntimeService } from "../../src/topology/Runtime.js"

export interface RuntimeCall {
  readonly op: string
  readonly topologyId: string | null
  readonly ids?: ReadonlyArray<string>
}

export const makeFakeTopologyRuntime = () => {
  const calls: Array<RuntimeCall> = []
  const record = (op: string, topologyId: string | null) =>
    Effect.sync(() => {
      calls.push({ op, topologyId })
    })
  const service: TopologyRuntimeService = {
    kind: "in-process",
    deploy: (t) => record("deploy", t.topology.id),
    inspect: (t) =>
      Effect.as(
        record("inspect", t.topology.id),
        t.deckies.map((d) => ({ decky: deckyNameOf(d), state: "running" as const, detail: "running" }))
      ),
    teardown: (t) => record("teardown", t.topology.id),
    addLan: (t) => record("addLan", t.topology.id),
    removeLan: (t) => record("removeLan", t.topology.id),
    addDecky: (t) => record("addDecky", t.topology.id),
    removeDecky: (t) => record("removeDecky", t.topology.id),
    attach: (t) => record("attach", t.topology.id),
    detach: (t) => record("detach", t.topology.id),
    updateServices: (t) => record("updateServices", t.topology.id),
    recreate: (t) => record("recreate", t.topology.id),
    reapOrphans: (ids) =>
      Effect.sync(() => {
        calls.push({ op: "reapOrphans", topologyId: null, ids })
        return {
          live_prefixes: ids.map((id) => id.slice(0, 8)).sort(),
          orphan_prefixes: [],
          containers_removed: [],
          networks_removed: [],
          errors: []
        }
      })
  }
  return { calls, layer: Layer.succeed(TopologyRuntime, service) }
}
