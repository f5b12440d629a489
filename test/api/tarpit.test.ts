// The tarpit routes of both groups against a real server on both backends, on what runs without Docker or
// root: the body's bounds (422; a missing or extra field 400), unknown deckies and topologies (404), the in-process runtime's 409 (no
// namespace of its own to shape, and what to do instead) with nothing stored or logged, GET/DELETE without a
// rule (404), the roles; and a rule going with its decky's rows (a fleet decky leaving the record, a topology
// decky removed, a topology torn down or deleted). The tc path itself: test/tarpit/netns.test.ts ([netns])
// and test/tarpit/docker.test.ts ([docker]).
import { randomUUID } from "node:crypto"
import { Effect, Option } from "effect"
import { expect, it } from "vitest"
import { LogRepo } from "../../src/db/LogRepo.js"
import { TarpitRepo, TarpitRule } from "../../src/db/TarpitRepo.js"
import type { FleetStore } from "../../src/fleet/Store.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { adminToken, call, login, raw, useApi } from "./harness.js"

const json = { "content-type": "application/json" }

interface Detail {
  readonly topology: { readonly id: string }
  readonly deckies: ReadonlyArray<{ readonly uuid: string; readonly name: string }>
}

onBothBackends("API tarpit routes", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false" })
  let admin = ""
  let viewer = ""

  const req = (method: string, path: string, token: string, body?: unknown) =>
    raw(api().baseUrl, `/api/v1${path}`, {
      method,
      token,
      ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) })
    })
  const run = <A, E>(effect: Effect.Effect<A, E, TarpitRepo | LogRepo | FleetStore | TopologyRepo>) =>
    api().runtime.runPromise(effect)
  const rule = (key: string) =>
    new TarpitRule({
      id: randomUUID(),
      decky_name: key,
      ports: [22, 80],
      delay_ms: 1000,
      created_at: new Date(),
      created_by: "test"
    })
  const ruleOf = (key: string) => run(Effect.flatMap(TarpitRepo, (r) => r.get(key)))
  const setRule = (key: string) => run(Effect.flatMap(TarpitRepo, (r) => r.set(rule(key))))
  const generated = async () => {
    const r = await req("POST", "/topologies", admin, {
      name: `tp-${randomUUID().slice(0, 8)}`,
      depth: 1,
      branching_factor: 2,
      seed: 7
    })
    expect(r.status, r.body).toBe(201)
    const id = (r.json() as { id: string }).id
    const d = await req("GET", `/topologies/${id}`, admin)
    return d.json() as Detail
  }

  it("sets up an admin, a viewer and an in-process decky", async () => {
    const { baseUrl } = api()
    admin = await adminToken(baseUrl)
    const created = await req("POST", "/config/users", admin, {
      username: "tarpit-viewer",
      password: "viewer-password-1",
      role: "viewer"
    })
    expect(created.status, created.body).toBe(200)
    const first = await login(baseUrl, "tarpit-viewer", "viewer-password-1")
    await raw(baseUrl, "/api/v1/auth/change-password", {
      method: "POST",
      token: first,
      headers: json,
      body: JSON.stringify({ old_password: "viewer-password-1", new_password: "viewer-password-2" })
    })
    viewer = await login(baseUrl, "tarpit-viewer", "viewer-password-2")
    const accepted = await call(baseUrl, admin, (c) =>
      c.fleet.deploy({ payload: { ini_content: "[tp-redis-1]\nservices=redis\n", replace_fleet: false } })
    )
    for (let i = 0; i < 200; i++) {
      const { rows } = await call(baseUrl, admin, (c) =>
        c.fleet.lifecycle({ urlParams: { ids: accepted.lifecycle_ids } })
      )
      if (rows.every((r) => r.status === "succeeded")) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error("the in-process decky did not deploy")
  })

  it("the API runs the tarpit watcher: /health reports tarpit_watcher ok", async () => {
    const r = await req("GET", "/health", admin)
    expect((r.json() as { components: Record<string, unknown> }).components.tarpit_watcher).toEqual({
      status: "ok",
      detail: null
    })
  })

  it("checks the body on both route groups: ports (≥ 1, each 1-65535), delay_ms 100-300000 → 422", async () => {
    const t = await generated()
    for (const path of ["/deckies/tp-redis-1/tarpit", `/topologies/${t.topology.id}/deckies/x/tarpit`])
      for (const body of [
        { ports: [], delay_ms: 1000 },
        { ports: [0], delay_ms: 1000 },
        { ports: [65536], delay_ms: 1000 },
        { ports: [22], delay_ms: 99 },
        { ports: [22], delay_ms: 300_001 },
        { ports: [22], delay_ms: 1500.5 },
        { ports: ["22"], delay_ms: 1000 }
      ]) {
        const r = await req("POST", path, admin, body)
        expect(r.status, `${path} ${JSON.stringify(body)}: ${r.body}`).toBe(422)
      }
    // A missing or an extra field is structural (spec §3): 400.
    for (const body of [{ ports: [22] }, { ports: [22], delay_ms: 1000, rate: 1 }])
      expect((await req("POST", "/deckies/tp-redis-1/tarpit", admin, body)).status).toBe(400)
    // The bounds themselves are accepted (and then refused for the in-process runtime).
    for (const delay_ms of [100, 300_000])
      expect(
        (await req("POST", "/deckies/tp-redis-1/tarpit", admin, { ports: [6379], delay_ms })).status
      ).toBe(409)
  })

  it("a fleet decky: unknown 404; in-process 409 with what to do, nothing stored or logged; no rule 404", async () => {
    const ghost = await req("POST", "/deckies/ghost/tarpit", admin, { ports: [22], delay_ms: 1000 })
    expect(ghost.status).toBe(404)
    expect(ghost.json()).toEqual({ detail: "Decky ghost not found" })
    const r = await req("POST", "/deckies/tp-redis-1/tarpit", admin, { ports: [6379], delay_ms: 1500 })
    expect(r.status).toBe(409)
    const detail = (r.json() as { detail: string }).detail
    expect(detail).toContain("the tarpit needs the Docker runtime")
    expect(detail).toContain("decnet deploy --runtime docker")
    expect(Option.isNone(await ruleOf("tp-redis-1"))).toBe(true)
    const logged = await run(Effect.flatMap(LogRepo, (l) => l.getLogs({ service: "tarpit" })))
    expect(logged).toEqual([])
    for (const token of [admin, viewer]) {
      const get = await req("GET", "/deckies/tp-redis-1/tarpit", token)
      expect(get.status).toBe(404)
      expect(get.json()).toEqual({ detail: "No active tarpit rule for this decky" })
    }
    expect((await req("DELETE", "/deckies/tp-redis-1/tarpit", admin)).status).toBe(404)
    // Admin only for the changes.
    expect(
      (await req("POST", "/deckies/tp-redis-1/tarpit", viewer, { ports: [1], delay_ms: 100 })).status
    ).toBe(403)
    expect((await req("DELETE", "/deckies/tp-redis-1/tarpit", viewer)).status).toBe(403)
  })

  it("a topology decky: unknown topology or decky 404, in-process 409, malformed path names refused", async () => {
    const t = await generated()
    const name = t.deckies[0]?.name ?? ""
    const missing = randomUUID()
    const body = { ports: [22], delay_ms: 1000 }
    const noTopology = await req("POST", `/topologies/${missing}/deckies/${name}/tarpit`, admin, body)
    expect(noTopology.status).toBe(404)
    expect(noTopology.json()).toEqual({ detail: `topology '${missing}' not found` })
    const noDecky = await req("POST", `/topologies/${t.topology.id}/deckies/not-there/tarpit`, admin, body)
    expect(noDecky.status).toBe(404)
    expect((noDecky.json() as { detail: string }).detail).toContain("decky 'not-there' not found in topology")
    const inProcess = await req("POST", `/topologies/${t.topology.id}/deckies/${name}/tarpit`, admin, body)
    expect(inProcess.status).toBe(409)
    expect((inProcess.json() as { detail: string }).detail).toContain("decnet topology deploy")
    expect(Option.isNone(await ruleOf(`t:${t.topology.id}:${name}`))).toBe(true)
    expect((await req("GET", `/topologies/${t.topology.id}/deckies/${name}/tarpit`, viewer)).status).toBe(404)
    expect((await req("DELETE", `/topologies/${t.topology.id}/deckies/${name}/tarpit`, admin)).status).toBe(
      404
    )
    // §10's patterns: topology id [a-zA-Z0-9-], decky [a-z0-9-].
    for (const path of [
      `/topologies/bad_id/deckies/${name}/tarpit`,
      `/topologies/${t.topology.id}/deckies/UP/tarpit`
    ])
      expect((await req("GET", path, admin)).status).toBeGreaterThanOrEqual(400)
  })

  it("a stored rule goes with its decky: fleet record, topology decky, teardown, delete", async () => {
    // A fleet decky leaving the record (teardown, or a deploy without it).
    await setRule("tp-redis-1")
    const removed = await req("DELETE", "/deckies/tp-redis-1", admin)
    expect(removed.status, removed.body).toBe(204)
    expect(Option.isNone(await ruleOf("tp-redis-1"))).toBe(true)
    // A topology decky removed, then the topology torn down, then deleted: each takes its rules.
    const t = await generated()
    const [first, second] = t.deckies
    if (first === undefined || second === undefined) throw new Error("the generated topology has < 2 deckies")
    const id = t.topology.id
    const other = await generated()
    await setRule(`t:${id}:${first.name}`)
    await setRule(`t:${id}:${second.name}`)
    await setRule(`t:${other.topology.id}:${first.name}`)
    await run(Effect.flatMap(TopologyRepo, (r) => r.deleteDecky(first.uuid, { enforcePending: false })))
    expect(Option.isNone(await ruleOf(`t:${id}:${first.name}`))).toBe(true)
    expect(Option.isSome(await ruleOf(`t:${id}:${second.name}`))).toBe(true)
    await run(Effect.flatMap(TopologyRepo, (r) => r.updateStatus(id, "torn_down", "test")))
    expect(Option.isNone(await ruleOf(`t:${id}:${second.name}`))).toBe(true)
    // Another topology's rule (same decky name) is untouched until its own topology goes.
    expect(Option.isSome(await ruleOf(`t:${other.topology.id}:${first.name}`))).toBe(true)
    expect((await req("DELETE", `/topologies/${other.topology.id}`, admin)).status).toBe(204)
    expect(Option.isNone(await ruleOf(`t:${other.topology.id}:${first.name}`))).toBe(true)
  })
})
