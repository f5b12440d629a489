// A TopologyRuntime that only records its calls (op and the decky/LAN names it was given) and answers
// from a script: deploy/teardown/live ops succeed unless `fail` says otherwise, inspect reports every decky
// running unless `inspect` says otherwise. The deployer's, the ops' and the reconciler's tests, and the
// benchmark's "DB-only" mutations, run on it.
import { Effect, Ref } from "effect"
import type { DeckyRow, LanRow, TopologyDetail } from "../../src/topology/Model.js"
import {
  type DeckyMaterialState,
  TopologyRuntimeError,
  type TopologyRuntimeService
} from "../../src/topology/Runtime.js"

export interface RuntimeCall {
  readonly op: string
  /** The decky, LAN or address names the call carried, in argument order. */
  readonly args: ReadonlyArray<string>
}

export interface RecorderScript {
  /** Fail this op (by name) with this message. */
  readonly fail?: Readonly<Record<string, string>>
  /** What inspect answers; default every decky running. */
  readonly inspect?: (topology: TopologyDetail) => ReadonlyArray<DeckyMaterialState>
}

const nameOf = (d: DeckyRow) => d.decky_config?.name ?? d.name

export const makeRecorderRuntime = (script: RecorderScript = {}) =>
  Effect.map(Ref.make<ReadonlyArray<RuntimeCall>>([]), (calls) => {
    const record = (op: string, args: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        yield* Ref.update(calls, (c) => [...c, { op, args }])
        const message = script.fail?.[op]
        if (message !== undefined) return yield* new TopologyRuntimeError({ target: null, message })
      })
    const service: TopologyRuntimeService = {
      kind: "in-process",
      deploy: (t) => record("deploy", [t.topology.id]),
      inspect: (t) =>
        Effect.as(
          record("inspect", [t.topology.id]),
          script.inspect?.(t) ??
            t.deckies.map(
              (d): DeckyMaterialState => ({ decky: nameOf(d), state: "running", detail: "running" })
            )
        ),
      teardown: (t) => record("teardown", [t.topology.id]),
      addLan: (_t, lan: LanRow) => record("addLan", [lan.name]),
      removeLan: (_t, lan: LanRow) => record("removeLan", [lan.name]),
      addDecky: (_t, d) => record("addDecky", [nameOf(d)]),
      removeDecky: (_t, d) => record("removeDecky", [nameOf(d)]),
      attach: (_t, d, lan, ip) => record("attach", [nameOf(d), lan.name, ip]),
      detach: (_t, d, lan) => record("detach", [nameOf(d), lan.name]),
      updateServices: (_t, d, added, removed) =>
        record("updateServices", [nameOf(d), `+${added.join(",")}`, `-${removed.join(",")}`]),
      recreate: (_t, d) => record("recreate", [nameOf(d)]),
      reapOrphans: (ids) =>
        Effect.succeed({
          live_prefixes: ids.map((id) => id.slice(0, 8)),
          orphan_prefixes: [],
          containers_removed: [],
          networks_removed: [],
          errors: []
        })
    }
    return { service, calls: Ref.get(calls), clear: Ref.set(calls, []) }
  })
