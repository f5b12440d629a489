// The `/topologies` routes against a real server on both backends (spec/topology.md §10, §8 SSE, §11 cases
// 65–74), on an in-process bus and a recording topology runtime: creates (generate and blank, with the
// mode/host matrix), the literal segments beside `{id}`, listing and detail, pending-only child edits with
// optimistic concurrency, deploy and teardown in the background, the mutation queue and its bus hint, the
// per-topology SSE stream, personas, the reaper, and a tarpit GET (the rest: test/api/tarpit.test.ts).
import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { Bus } from "../../src/bus/Bus.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { onBothBackends } from "../db/backends.js"
import { adminToken, login, raw, useApi } from "./harness.js"
import { makeFakeTopologyRuntime } from "./topologyFake.js"

interface Summary {
  readonly id: string
  readonly name: string
  readonly status: string
  readonly version: number
  readonly mode: string
  readonly target_host_uuid: string | null
  readonly needs_resync: boolean
}
interface Lan {
  readonly id: string
  readonly name: string
  readonly subnet: string
  readonly is_dmz: boolean
  readonly x: number | null
}
interface Decky {
  readonly uuid: string
  readonly name: string
  readonly services: ReadonlyArray<string>
  readonly decky_config: { readonly ips_by_lan?: Record<string, string> } | null
}
interface Edge {
  readonly id: string
  readonly decky_uuid: string
  readonly lan_id: string
}
interface Detail {
  readonly topology: Summary
  readonly lans: ReadonlyArray<Lan>
  readonly deckies: ReadonlyArray<Decky>
  readonly edges: ReadonlyArray<Edge>
}
interface Frame {
  readonly event: string
  readonly data: unknown
}

const json = { "content-type": "application/json" }
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`

const waitFor = async <T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> => {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** An SSE stream read with fetch: frames as they arrive (comments as event ":"). */
const openSse = async (url: string, init: { token?: string } = {}) => {
  const controller = new AbortController()
  const headers = new Headers()
  if (init.token !== undefined) headers.set("authorization", `Bearer ${init.token}`)
  const res = await fetch(url, { headers, signal: controller.signal })
  const frames: Array<Frame> = []
  let buffer = ""
  const reader = res.status === 200 ? res.body?.getReader() : undefined
  const decoder = new TextDecoder()
  const pump = (async () => {
    if (reader === undefined) return
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let end = buffer.indexOf("\n\n")
        while (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (block.startsWith(":")) frames.push({ event: ":", data: block.slice(1).trim() })
          else {
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
            const data = /^data: (.*)$/m.exec(block)?.[1] ?? "null"
            frames.push({ event, data: JSON.parse(data) })
          }
          end = buffer.indexOf("\n\n")
        }
      }
    } catch {
      // aborted
    }
  })()
  return {
    res,
    frames,
    next: (pred: (f: Frame) => boolean, ms = 5000) =>
      waitFor(async () => frames.find(pred), ms).catch(() => undefined),
    body: async () => (res.status === 200 ? "" : await res.text()),
    close: async () => {
      controller.abort()
      await pump
    }
  }
}

onBothBackends("API /topologies", (backend) => {
  const fake = makeFakeTopologyRuntime()
  const api = useApi(
    backend,
    // Keepalives every 0.2 s of silence, so the SSE test sees them keep coming (the default is 15 s).
    { DECNET_LIMITER_ENABLED: "false", DECNET_SSE_MAX_PER_USER: "2", DECNET_SSE_KEEPALIVE_SECONDS: "0.2" },
    { bus: "fake", topologyRuntime: fake.layer }
  )

  let admin: string | undefined
  let viewer: string | undefined
  const tokens = async () => {
    const { baseUrl } = api()
    admin ??= await adminToken(baseUrl)
    if (viewer === undefined) {
      const username = unique("viewer")
      const created = await raw(baseUrl, "/api/v1/config/users", {
        method: "POST",
        token: admin,
        headers: json,
        body: JSON.stringify({ username, password: "viewer-password-1", role: "viewer" })
      })
      expect(created.status).toBe(200)
      const first = await login(baseUrl, username, "viewer-password-1")
      await raw(baseUrl, "/api/v1/auth/change-password", {
        method: "POST",
        token: first,
        headers: json,
        body: JSON.stringify({ old_password: "viewer-password-1", new_password: "viewer-password-2" })
      })
      viewer = await login(baseUrl, username, "viewer-password-2")
    }
    return { admin, viewer }
  }

  const req = (method: string, path: string, token: string | undefined, body?: unknown) =>
    raw(api().baseUrl, `/api/v1/topologies${path}`, {
      method,
      ...(token === undefined ? {} : { token }),
      ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) })
    })

  const generated = async (token: string, extra: Record<string, unknown> = {}) => {
    const r = await req("POST", "", token, {
      name: unique("gen"),
      depth: 1,
      branching_factor: 2,
      seed: 42,
      ...extra
    })
    expect(r.status, r.body).toBe(201)
    return r.json() as Summary
  }
  const blank = async (token: string) => {
    const r = await req("POST", "/blank", token, { name: unique("blank") })
    expect(r.status, r.body).toBe(201)
    return r.json() as Summary
  }
  const detail = async (token: string, id: string) => {
    const r = await req("GET", `/${id}`, token)
    expect(r.status, r.body).toBe(200)
    return r.json() as Detail
  }
  const run = <A, E>(effect: Effect.Effect<A, E, TopologyRepo | SqlClient.SqlClient | Bus>) =>
    api().runtime.runPromise(effect)
  const setStatus = (id: string, status: "active" | "degraded" | "failed" | "deploying" | "torn_down") =>
    run(Effect.flatMap(TopologyRepo, (r) => r.updateStatus(id, status, "test")))
  const swarmHost = (status: string) =>
    run(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const uuid = randomUUID()
        yield* sql`INSERT INTO swarm_hosts ${sql.insert({
          uuid,
          name: unique("host"),
          address: "192.0.2.10",
          agent_port: 8765,
          status,
          client_cert_fingerprint: "ab",
          cert_bundle_path: "/tmp/none",
          enrolled_at: "2026-01-01 00:00:00",
          use_ipvlan: 0
        })}`
        return uuid
      })
    )

  it("§65 generate: 201 pending with its LANs; 401, 403, 409 with the name, 400 for missing fields and config rules", async () => {
    const { admin, viewer } = await tokens()
    const created = await generated(admin)
    expect(created.status).toBe("pending")
    expect(created.version).toBe(1)
    expect(created.mode).toBe("unihost")
    const d = await detail(admin, created.id)
    expect(d.lans.length).toBeGreaterThanOrEqual(2)
    expect(d.lans.filter((l) => l.is_dmz).map((l) => l.name)).toEqual(["LAN-00"])

    const body = { name: unique("gen"), depth: 1, branching_factor: 1 }
    expect((await req("POST", "", undefined, body)).status).toBe(401)
    const forbidden = await req("POST", "", viewer, body)
    expect(forbidden.status).toBe(403)
    expect(forbidden.json()).toEqual({ detail: "Insufficient permissions" })
    const dup = await req("POST", "", admin, { ...body, name: created.name })
    expect(dup.status).toBe(409)
    expect(dup.json()).toEqual({ detail: `A topology named '${created.name}' already exists.` })
    expect((await req("POST", "", admin, { name: unique("x"), depth: 1 })).status).toBe(400)
    expect((await req("POST", "", admin, { ...body, surprise: 1 })).status).toBe(400)
    expect((await req("POST", "", admin, { ...body, name: "" })).status).toBe(400)
    const rule = await req("POST", "", admin, { ...body, deckies_per_lan_min: 3, deckies_per_lan_max: 1 })
    expect(rule.status).toBe(400)
    expect((rule.json() as { detail: string }).detail).toContain(
      "deckies_per_lan_min must be <= deckies_per_lan_max"
    )
    const services = await req("POST", "", admin, { ...body, randomize_services: false })
    expect(services.status).toBe(400)
    expect((services.json() as { detail: string }).detail).toContain(
      "either randomize_services=True or services_explicit must be set"
    )
    expect((await req("POST", "", admin, { ...body, depth: 17 })).status).toBe(422)
    expect((await req("POST", "", admin, { ...body, mode: "cluster" })).status).toBe(422)
  })

  it("§10/§11 the same seed plans the same topology, on subnets no live topology holds", async () => {
    const { admin } = await tokens()
    const a = await detail(admin, (await generated(admin, { depth: 2, seed: 7 })).id)
    const b = await detail(admin, (await generated(admin, { depth: 2, seed: 7 })).id)
    const shape = (d: Detail) => ({
      lans: d.lans.map((l) => l.name),
      deckies: d.deckies.map((x) => [x.name, x.services]),
      edges: d.edges.length
    })
    expect(shape(b)).toEqual(shape(a))
    const held = new Set(a.lans.map((l) => l.subnet))
    expect(b.lans.some((l) => held.has(l.subnet))).toBe(false)
  })

  it("§66 delete: pending 204 and gone; active 409; missing 404; viewer 403", async () => {
    const { admin, viewer } = await tokens()
    const t = await blank(admin)
    expect((await req("DELETE", `/${t.id}`, viewer)).status).toBe(403)
    expect((await req("DELETE", `/${t.id}`, admin)).status).toBe(204)
    expect((await req("GET", `/${t.id}`, admin)).status).toBe(404)
    expect((await req("DELETE", `/${t.id}`, admin)).status).toBe(404)
    const live = await blank(admin)
    await setStatus(live.id, "active")
    const refused = await req("DELETE", `/${live.id}`, admin)
    expect(refused.status).toBe(409)
    expect(refused.json()).toEqual({
      detail: "Topology is 'active'; teardown to 'torn_down' before delete."
    })
  })

  it("§67 deploy: 202 with the pending summary, one background deploy to active; 409, 404, 403, 400 invalid, 501 agent", async () => {
    const { admin, viewer } = await tokens()
    const t = await generated(admin)
    expect((await req("POST", `/${t.id}/deploy`, viewer)).status).toBe(403)
    const accepted = await req("POST", `/${t.id}/deploy`, admin)
    expect(accepted.status).toBe(202)
    expect(accepted.json()).toMatchObject({ id: t.id, status: "pending" })
    const active = await waitFor(async () => {
      const s = (await detail(admin, t.id)).topology.status
      return s === "active" ? s : undefined
    })
    expect(active).toBe("active")
    expect(fake.calls.filter((c) => c.op === "deploy" && c.topologyId === t.id)).toHaveLength(1)
    const again = await req("POST", `/${t.id}/deploy`, admin)
    expect(again.status).toBe(409)
    expect(again.json()).toEqual({ detail: "Topology is 'active'; only a pending topology can be deployed." })
    expect((await req("POST", `/${randomUUID()}/deploy`, admin)).status).toBe(404)

    // an orphan decky fails validation before the answer, and nothing runs
    const invalid = await blank(admin)
    expect((await req("POST", `/${invalid.id}/deckies`, admin, { name: "loner" })).status).toBe(201)
    const refused = await req("POST", `/${invalid.id}/deploy`, admin)
    expect(refused.status).toBe(400)
    expect((refused.json() as { detail: string }).detail).toContain("[DECKY_ORPHAN]")
    expect(fake.calls.some((c) => c.topologyId === invalid.id)).toBe(false)

    const host = await swarmHost("active")
    const pinned = await req("POST", "/blank", admin, {
      name: unique("agent"),
      mode: "agent",
      target_host_uuid: host
    })
    expect(pinned.status, pinned.body).toBe(201)
    const agent = await req("POST", `/${(pinned.json() as Summary).id}/deploy`, admin)
    expect(agent.status).toBe(501)
    expect((agent.json() as { detail: string }).detail).toContain("swarm host")

    // teardown: 409 from pending, 202 from active, then torn_down
    expect((await req("POST", `/${invalid.id}/teardown`, admin)).status).toBe(409)
    const down = await req("POST", `/${t.id}/teardown`, admin)
    expect(down.status).toBe(202)
    await waitFor(async () =>
      (await detail(admin, t.id)).topology.status === "torn_down" ? true : undefined
    )
    expect(fake.calls.filter((c) => c.op === "teardown" && c.topologyId === t.id)).toHaveLength(1)
  })

  it("§68 the mode/host matrix of the create routes", async () => {
    const { admin } = await tokens()
    const ok = await blank(admin)
    const d = await detail(admin, ok.id)
    expect(d.lans).toMatchObject([{ name: "dmz", is_dmz: true }])
    expect(d.lans[0]?.subnet).toMatch(/^10\.0\.\d+\.0\/24$/)
    expect(d.deckies.map((x) => [x.name, x.services])).toEqual([["dmz-gateway", ["ssh"]]])

    const missing = await req("POST", "/blank", admin, { name: unique("a"), mode: "agent" })
    expect(missing.status).toBe(400)
    expect(missing.json()).toEqual({ detail: "mode='agent' requires target_host_uuid" })
    const unknown = await req("POST", "/blank", admin, {
      name: unique("a"),
      mode: "agent",
      target_host_uuid: "nope"
    })
    expect(unknown.status).toBe(400)
    expect(unknown.json()).toEqual({ detail: "unknown swarm host 'nope'" })
    const host = await swarmHost("enrolled")
    const mixed = await req("POST", "/blank", admin, { name: unique("a"), target_host_uuid: host })
    expect(mixed.status).toBe(400)
    const gone = await swarmHost("unreachable")
    const unreachable = await req("POST", "", admin, {
      name: unique("a"),
      mode: "agent",
      target_host_uuid: gone,
      depth: 1,
      branching_factor: 1
    })
    expect(unreachable.status).toBe(400)
    expect((unreachable.json() as { detail: string }).detail).toContain("unreachable")
    const pinned = await req("POST", "", admin, {
      name: unique("a"),
      mode: "agent",
      target_host_uuid: host,
      depth: 1,
      branching_factor: 1
    })
    expect(pinned.status, pinned.body).toBe(201)
    expect(pinned.json()).toMatchObject({ mode: "agent", target_host_uuid: host })
  })

  it("§69 list pages newest first with the status filter; detail at version 1; status events newest first; 404s", async () => {
    const { admin, viewer } = await tokens()
    const none = await req("GET", "?status=tearing_down", viewer)
    expect(none.status).toBe(200)
    expect(none.json()).toEqual({ total: 0, limit: 50, offset: 0, data: [] })
    const a = await blank(admin)
    const b = await blank(admin)
    const page = await req("GET", "/?limit=1", viewer)
    const listed = page.json() as { total: number; limit: number; data: Array<Summary> }
    expect(listed.limit).toBe(1)
    expect(listed.total).toBeGreaterThanOrEqual(2)
    expect(listed.data.map((t) => t.id)).toEqual([b.id])
    const second = (await req("GET", "?limit=1&offset=1", viewer)).json() as { data: Array<Summary> }
    expect(second.data.map((t) => t.id)).toEqual([a.id])
    expect((await req("GET", "?limit=501", viewer)).status).toBe(422)
    expect((await req("GET", "?status=bogus", viewer)).status).toBe(422)

    const d = await detail(viewer, a.id)
    expect(d.topology.version).toBe(1)
    expect(d.lans).toHaveLength(1)
    expect(d.deckies).toHaveLength(1)
    // the gateway's address is filled in on read
    expect(d.deckies[0]?.decky_config?.ips_by_lan?.dmz).toMatch(/\.2$/)

    await setStatus(a.id, "deploying")
    await setStatus(a.id, "failed")
    const events = await req("GET", `/${a.id}/status-events`, viewer)
    expect((events.json() as Array<{ to_status: string }>).map((e) => e.to_status)).toEqual([
      "failed",
      "deploying"
    ])
    expect((await req("GET", `/${randomUUID()}`, viewer)).status).toBe(404)
    expect((await req("GET", `/${randomUUID()}/status-events`, viewer)).status).toBe(404)
  })

  it("§70 literal segments beat {id}; next-subnet and next-ip", async () => {
    const { admin, viewer } = await tokens()
    const services = await req("GET", "/services", viewer)
    expect(services.status).toBe(200)
    expect((services.json() as { services: Array<string> }).services).toContain("ssh")
    expect((await req("GET", "/archetypes", viewer)).status).toBe(200)
    expect((await req("GET", "/services/ssh/schema", viewer)).status).toBe(200)
    const sub = await req("GET", "/next-subnet?base=172.20", viewer)
    expect(sub.status).toBe(200)
    expect((sub.json() as { subnet: string }).subnet).toMatch(/^172\.20\./)
    expect((await req("GET", "/next-subnet", viewer)).json()).toMatchObject({
      subnet: expect.stringMatching(/^172\./)
    })
    expect((await req("GET", "/next-subnet?base=nonsense", viewer)).status).toBe(422)
    expect((await req("GET", "/next-subnet?base=10.0.0.0/25", viewer)).status).toBe(400)
    expect((await req("POST", "/reap-orphans", viewer)).status).toBe(403)
    expect((await req("POST", "/blank", viewer, { name: "x" })).status).toBe(403)

    const t = await blank(admin)
    const d = await detail(admin, t.id)
    const lan = d.lans[0]
    if (lan === undefined) throw new Error("no LAN")
    const next = await req("GET", `/${t.id}/lans/${lan.id}/next-ip`, viewer)
    expect(next.status).toBe(200)
    const { ip, subnet } = next.json() as { ip: string; subnet: string }
    expect(subnet).toBe(lan.subnet)
    expect(ip).not.toMatch(/\.1$/)
    expect(ip).not.toBe(d.deckies[0]?.decky_config?.ips_by_lan?.dmz)
    expect(ip).toMatch(/\.3$/)
    expect((await req("GET", `/${t.id}/lans/${randomUUID()}/next-ip`, viewer)).status).toBe(404)
  })

  it("§71 child edits: pending only, versioned, 404 for what is not in the topology, 400 for bad edge refs", async () => {
    const { admin, viewer } = await tokens()
    const t = await blank(admin)
    const lanRes = await req("POST", `/${t.id}/lans`, admin, { name: "inner", expected_version: 1 })
    expect(lanRes.status, lanRes.body).toBe(201)
    const lan = lanRes.json() as Lan
    expect(lan.subnet).toMatch(/^10\.0\.\d+\.0\/24$/)
    expect((await detail(admin, t.id)).topology.version).toBe(2)
    const stale = await req("POST", `/${t.id}/lans`, admin, { name: "other", expected_version: 1 })
    expect(stale.status).toBe(409)
    expect(stale.json()).toEqual({ detail: "Version conflict: expected 1, current 2" })
    expect((await req("POST", `/${t.id}/lans`, viewer, { name: "v" })).status).toBe(403)

    const moved = await req("PATCH", `/${t.id}/lans/${lan.id}`, admin, { x: 12.5, y: 3 })
    expect(moved.status).toBe(200)
    expect(moved.json()).toMatchObject({ id: lan.id, x: 12.5, y: 3, name: "inner" })
    expect((await req("PATCH", `/${t.id}/lans/${randomUUID()}`, admin, { x: 1 })).status).toBe(404)

    const deckyRes = await req("POST", `/${t.id}/deckies`, admin, { name: "web", services: ["http"] })
    expect(deckyRes.status).toBe(201)
    const decky = deckyRes.json() as Decky & { state: string }
    expect(decky.state).toBe("pending")
    expect(decky.services).toEqual(["http"])
    const patched = await req("PATCH", `/${t.id}/deckies/${decky.uuid}`, admin, { services: ["http", "ssh"] })
    expect((patched.json() as Decky).services).toEqual(["http", "ssh"])

    const edgeRes = await req("POST", `/${t.id}/edges`, admin, { decky_uuid: decky.uuid, lan_id: lan.id })
    expect(edgeRes.status).toBe(201)
    const edge = edgeRes.json() as Edge
    expect((await req("POST", `/${t.id}/edges`, admin, { decky_uuid: "nope", lan_id: lan.id })).status).toBe(
      400
    )
    expect(
      (await req("POST", `/${t.id}/edges`, admin, { decky_uuid: decky.uuid, lan_id: "nope" })).status
    ).toBe(400)
    // the LAN is this decky's only one: deleting it would orphan the decky
    const orphaning = await req("DELETE", `/${t.id}/lans/${lan.id}`, admin)
    expect(orphaning.status).toBe(400)
    expect((orphaning.json() as { detail: string }).detail).toContain("orphaned")
    expect((await req("DELETE", `/${t.id}/edges/${edge.id}`, admin)).status).toBe(204)
    expect((await req("DELETE", `/${t.id}/edges/${edge.id}`, admin)).status).toBe(404)
    expect((await req("DELETE", `/${t.id}/lans/${lan.id}`, admin)).status).toBe(204)
    expect((await req("DELETE", `/${t.id}/deckies/${decky.uuid}`, admin)).status).toBe(204)
    expect((await req("DELETE", `/${t.id}/deckies/${decky.uuid}`, admin)).status).toBe(404)

    await setStatus(t.id, "deploying")
    await setStatus(t.id, "active")
    const blocked = await req("POST", `/${t.id}/lans`, admin, { name: "late" })
    expect(blocked.status).toBe(409)
    expect(blocked.json()).toEqual({
      detail:
        "Topology is 'active'; free-form child edits are pending-only.  Use the mutation queue for active topologies."
    })
    const gw = (await detail(admin, t.id)).deckies[0]
    expect((await req("PATCH", `/${t.id}/deckies/${gw?.uuid}`, admin, { x: 1 })).status).toBe(409)
    expect((await req("POST", `/${randomUUID()}/lans`, admin, { name: "x" })).status).toBe(404)
  })

  it("§72 §74 mutations: 202 pending and the enqueued hint; 409 unless live or on a stale version; 422 unknown op; listing", async () => {
    const { admin, viewer } = await tokens()
    const t = await blank(admin)
    const op = { op: "add_lan", payload: { name: "lan-x" } }
    const early = await req("POST", `/${t.id}/mutations`, admin, op)
    expect(early.status).toBe(409)
    expect((early.json() as { detail: string }).detail).toContain("'pending'")
    await setStatus(t.id, "deploying")
    await setStatus(t.id, "active")
    expect((await req("GET", `/${t.id}/mutations`, viewer)).json()).toEqual([])

    const stream = await openSse(`${api().baseUrl}/api/v1/topologies/${t.id}/events`, { token: admin })
    try {
      expect(await stream.next((f) => f.event === "snapshot")).toBeDefined()
      const accepted = await req("POST", `/${t.id}/mutations`, admin, op)
      expect(accepted.status).toBe(202)
      const { mutation_id, state } = accepted.json() as { mutation_id: string; state: string }
      expect(state).toBe("pending")
      const hint = await stream.next((f) => f.event === "mutation.enqueued")
      expect(hint?.data).toMatchObject({
        topic: `topology.${t.id}.mutation.enqueued`,
        type: "enqueued",
        payload: { mutation_id, op: "add_lan", payload: { name: "lan-x" } }
      })
      const rows = (await req("GET", `/${t.id}/mutations`, viewer)).json() as Array<{
        id: string
        payload: unknown
        state: string
      }>
      expect(rows.map((r) => [r.id, r.state])).toEqual([[mutation_id, "pending"]])
      expect(rows[0]?.payload).toEqual({ name: "lan-x" })
      expect((await req("GET", `/${t.id}/mutations?state=applied`, viewer)).json()).toEqual([])
      expect((await req("GET", `/${t.id}/mutations?state=pending`, viewer)).json()).toHaveLength(1)
    } finally {
      await stream.close()
    }
    const versioned = await req("POST", `/${t.id}/mutations`, admin, { ...op, expected_version: 1 })
    expect(versioned.status).toBe(202)
    const stale = await req("POST", `/${t.id}/mutations`, admin, { ...op, expected_version: 1 })
    expect(stale.status).toBe(409)
    expect(stale.json()).toEqual({ detail: "Version conflict: expected 1, current 2" })
    expect((await req("POST", `/${t.id}/mutations`, admin, { op: "noop" })).status).toBe(422)
    expect((await req("POST", `/${t.id}/mutations`, viewer, op)).status).toBe(403)
    expect((await req("POST", `/${randomUUID()}/mutations`, admin, op)).status).toBe(404)
    expect((await req("GET", `/${randomUUID()}/mutations`, viewer)).status).toBe(404)

    // §74: needs_resync is surfaced
    await run(Effect.flatMap(TopologyRepo, (r) => r.setNeedsResync(t.id, true)))
    expect((await detail(viewer, t.id)).topology.needs_resync).toBe(true)
  })

  it("§73 SSE: 401 before 404; keepalive, snapshot, then this topology's events, keepalives while quiet; 429 over the cap", async () => {
    const { admin, viewer } = await tokens()
    const { baseUrl } = api()
    const missing = `${baseUrl}/api/v1/topologies/${randomUUID()}/events`
    const anonymous = await openSse(missing)
    expect(anonymous.res.status).toBe(401)
    await anonymous.close()
    const ticket = async () => {
      const minted = await raw(baseUrl, "/api/v1/auth/sse-ticket", { method: "POST", token: viewer })
      return (minted.json() as { ticket: string }).ticket
    }
    const notFound = await openSse(`${missing}?ticket=${await ticket()}`)
    expect(notFound.res.status).toBe(404)
    await notFound.close()

    const t = await blank(admin)
    const other = await blank(admin)
    const stream = await openSse(`${baseUrl}/api/v1/topologies/${t.id}/events?ticket=${await ticket()}`)
    try {
      expect(stream.res.status).toBe(200)
      expect(stream.res.headers.get("content-type")).toContain("text/event-stream")
      expect(stream.res.headers.get("cache-control")).toBe("no-cache")
      expect(stream.res.headers.get("x-accel-buffering")).toBe("no")
      const snapshot = await stream.next((f) => f.event === "snapshot")
      expect(stream.frames[0]).toEqual({ event: ":", data: "keepalive" })
      expect(snapshot?.data).toEqual({ topology_id: t.id, status: "pending", in_flight: [] })

      await run(
        Effect.flatMap(Bus, (bus) =>
          Effect.all([
            bus.publish(`topology.${other.id}.mutation.applied`, { mutation_id: "elsewhere" }, "applied"),
            bus.publish("decky.web.state", { topology_id: other.id, state: "running" }, "state"),
            bus.publish("decky.gw.state", { topology_id: t.id, state: "running" }, "state"),
            bus.publish(`topology.${t.id}.mutation.applied`, { mutation_id: "m-1", op: "add_lan" }, "applied")
          ])
        )
      )
      const applied = await stream.next((f) => f.event === "mutation.applied")
      expect(applied?.data).toMatchObject({
        topic: `topology.${t.id}.mutation.applied`,
        type: "applied",
        payload: { mutation_id: "m-1", op: "add_lan" },
        ts: expect.any(Number)
      })
      expect(stream.frames.filter((f) => f.event !== ":").map((f) => f.event)).toEqual([
        "snapshot",
        "decky.state",
        "mutation.applied"
      ])

      // Quiet from here on: a keepalive after each silence, not only the first frame's.
      const quietFrom = stream.frames.length
      const quiet = await waitFor(async () => {
        const later = stream.frames.slice(quietFrom)
        return later.filter((f) => f.event === ":").length >= 3 ? later : undefined
      })
      expect(quiet.every((f) => f.event === ":" && f.data === "keepalive")).toBe(true)

      // the cap is per user (2 here): a second stream opens, a third is 429 before any body
      const second = await openSse(`${baseUrl}/api/v1/topologies/${t.id}/events`, { token: viewer })
      expect(second.res.status).toBe(200)
      const third = await openSse(`${baseUrl}/api/v1/topologies/${t.id}/events`, { token: viewer })
      expect(third.res.status).toBe(429)
      await third.close()
      await second.close()
    } finally {
      await stream.close()
    }
  })

  it("personas: read, replace keeping the valid ones, refuse a non-list or all-invalid, clear", async () => {
    const { admin, viewer } = await tokens()
    const t = await blank(admin)
    expect((await req("GET", `/${t.id}/personas`, viewer)).json()).toEqual({
      topology_id: t.id,
      topology_name: t.name,
      language_default: "en",
      personas: []
    })
    const alice = {
      name: "Alice",
      email: "alice@corp.example",
      role: "CFO",
      tone: "terse",
      mannerisms: ["signs with -A"],
      signature: "A."
    }
    const put = (personas: unknown, token = admin) => req("PUT", `/${t.id}/personas`, token, { personas })
    const kept = await put([alice, { name: "Bob" }])
    expect(kept.status).toBe(200)
    expect((kept.json() as { personas: unknown }).personas).toEqual([alice])
    expect(
      ((await req("GET", `/${t.id}/personas`, viewer)).json() as { personas: unknown }).personas
    ).toEqual([alice])
    const notList = await put({ name: "x" })
    expect(notList.status).toBe(400)
    expect(notList.json()).toEqual({ detail: "body.personas must be a list" })
    expect((await put([{ name: "Bob" }])).status).toBe(400)
    expect((await put([], viewer)).status).toBe(403)
    expect(((await put([])).json() as { personas: unknown }).personas).toEqual([])
    expect((await req("GET", `/${randomUUID()}/personas`, viewer)).status).toBe(404)
  })

  it("reap-orphans hands the runtime every topology id; a decky without a tarpit rule is 404", async () => {
    const { admin } = await tokens()
    const t = await blank(admin)
    await setStatus(t.id, "torn_down")
    const r = await req("POST", "/reap-orphans", admin)
    expect(r.status).toBe(200)
    expect((r.json() as { live_prefixes: Array<string> }).live_prefixes).toContain(t.id.slice(0, 8))
    const call = fake.calls.filter((c) => c.op === "reapOrphans").at(-1)
    expect(call?.ids).toContain(t.id)
    const tarpit = await req("GET", `/${t.id}/deckies/dmz-gateway/tarpit`, admin)
    expect(tarpit.status).toBe(404)
    expect(tarpit.json()).toEqual({ detail: "No active tarpit rule for this decky" })
  })
})
