// recordDeployment + syncRuntime, the pair behind `deploy --runtime inprocess` and a running `decnet up`:
// the record keeps where each unchanged decky listens and forgets a changed or removed one's ports; the
// sync starts what is new or changed, leaves what runs as wanted alone (recording its ports again), and
// stops what the deployment no longer has.
import { expect, layer } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { recordDeployment, syncRuntime } from "../../src/fleet/Fleet.js"
import { onBothBackends } from "../db/backends.js"
import { makeWorld, stored } from "../mutator/support.js"
import { fleetLayer, makeDecky, makeDeployment, portsOf } from "./fakeRuntime.js"

onBothBackends("fleet sync (in-process record, then up's sync)", (backend) => {
  layer(fleetLayer(backend), { timeout: "60 seconds" })((it) => {
    it.scoped("ports follow what runs; unchanged deckies are not restarted; removed ones stop", () =>
      Effect.gen(function* () {
        const a = makeDecky("a01", { ip: "127.77.0.2", services: ["ssh"] })
        const b = makeDecky("b01", { ip: "127.77.0.3", services: ["redis"] })
        const w = yield* makeWorld(undefined)
        const run = <X, E, R>(self: Effect.Effect<X, E, R>) => w.provide(self)

        yield* run(recordDeployment(makeDeployment([a, b]).config))
        expect((yield* stored).ports).toEqual({})
        expect(yield* run(syncRuntime)).toEqual({ started: 2, stopped: 0 })
        expect((yield* stored).ports).toEqual({ a01: portsOf(a), b01: portsOf(b) })

        // a01 as it was, b01 with other services, c01 new: only a01's ports are kept in the record.
        const b2 = makeDecky("b01", { ip: "127.77.0.3", services: ["ftp", "http"] })
        const c = makeDecky("c01", { ip: "127.77.0.4", services: ["mysql"] })
        yield* run(recordDeployment(makeDeployment([a, b2, c]).config))
        expect((yield* stored).ports).toEqual({ a01: portsOf(a) })
        yield* Ref.set(w.runtime.ups, [])
        expect(yield* run(syncRuntime)).toEqual({ started: 2, stopped: 0 })
        expect((yield* Ref.get(w.runtime.ups)).map((u) => u.decky)).toEqual(["b01", "c01"])
        expect((yield* stored).ports).toEqual({ a01: portsOf(a), b01: portsOf(b2), c01: portsOf(c) })

        // a01 recorded again with a new hostname: it runs as wanted (not restarted), its ports recorded again.
        const a2 = makeDecky("a01", { ip: "127.77.0.2", services: ["ssh"], hostname: "renamed" })
        yield* run(recordDeployment(makeDeployment([a2]).config))
        expect((yield* stored).ports).toEqual({})
        yield* Ref.set(w.runtime.ups, [])
        expect(yield* run(syncRuntime)).toEqual({ started: 0, stopped: 2 })
        expect(yield* Ref.get(w.runtime.ups)).toEqual([])
        expect((yield* stored).ports).toEqual({ a01: portsOf(a) })
        expect((yield* w.runtime.service.status).map((s) => s.name)).toEqual(["a01"])
      })
    )
  })
})
