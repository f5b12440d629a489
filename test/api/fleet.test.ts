// The fleet routes against a real server whose fleet is a real in-process runtime (as inside `decnet up`):
// deploy by INI through the typed client, poll the lifecycle, and see the decky answer on its own
// loopback address; the INI and conflict errors of spec §3/§7.12; mutate, the interval, and removal.
import { execFile } from "node:child_process"
import { connect } from "node:net"
import { promisify } from "node:util"
import { expect, it } from "vitest"
import { onBothBackends } from "../db/backends.js"
import { CLIENT_OPTIONS } from "../honeypots/sshClient.js"
import { adminToken, call, callFlip, raw, useApi } from "./harness.js"

const json = { "content-type": "application/json" }
const run = promisify(execFile)

/** The greeting a TCP service sends first (redis sends none: PING it). */
const ping = (host: string, port: number) =>
  new Promise<string>((resolve, reject) => {
    const s = connect({ host, port })
    let got = ""
    s.setTimeout(5000, () => {
      s.destroy()
      reject(new Error(`no answer from ${host}:${port}`))
    })
    s.on("connect", () => s.write("PING\r\n"))
    s.on("data", (d) => {
      got += d.toString("latin1")
      if (got.includes("\n")) {
        s.destroy()
        resolve(got)
      }
    })
    s.on("error", reject)
  })

const waitLifecycle = async (baseUrl: string, token: string, ids: ReadonlyArray<string>) => {
  for (let i = 0; i < 200; i++) {
    const { rows } = await call(baseUrl, token, (c) => c.fleet.lifecycle({ urlParams: { ids } }))
    if (rows.length === ids.length && rows.every((r) => r.status === "succeeded" || r.status === "failed"))
      return rows
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`lifecycle ${ids.join(",")} did not finish`)
}

onBothBackends("API fleet routes", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false" })

  it("deploys by INI on the in-process runtime: 202, the lifecycle ends succeeded, the decky answers", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const ini = "[api-redis-1]\nservices=redis\n\n[api-redis-2]\nservices=redis\n"
    const accepted = await call(baseUrl, token, (c) =>
      c.fleet.deploy({ payload: { ini_content: ini, replace_fleet: false } })
    )
    expect(accepted.mode).toBe("unihost")
    expect(accepted.message).toBe(
      "Deploy accepted (2 decky/ies, mode=unihost). Poll /deckies/lifecycle?ids=... for completion."
    )
    expect(accepted.lifecycle_ids).toHaveLength(2)
    const rows = await waitLifecycle(baseUrl, token, accepted.lifecycle_ids)
    expect(rows.map((r) => [r.decky_name, r.operation, r.status, r.error]).sort()).toEqual([
      ["api-redis-1", "deploy", "succeeded", null],
      ["api-redis-2", "deploy", "succeeded", null]
    ])
    expect(rows.every((r) => r.completed_at !== null)).toBe(true)
    const deckies = await call(baseUrl, token, (c) => c.fleet.deckies())
    const d1 = deckies.find((d) => d.name === "api-redis-1")
    expect(d1?.services).toEqual(["redis"])
    expect(d1?.ip).toMatch(/^127\.77\.0\.\d+$/)
    // the decky answers on its own loopback address (not root: redis on 6379 + 10000 or the next offset)
    const ports = [16379, 26379, 36379]
    let answer: string | undefined
    for (const port of ports) {
      answer = await ping(d1?.ip ?? "", port).catch(() => undefined)
      if (answer !== undefined) break
    }
    expect(answer).toContain("PONG")

    // additive deploys refuse a taken name or address
    const dupName = await callFlip(baseUrl, token, (c) =>
      c.fleet.deploy({ payload: { ini_content: "[api-redis-1]\nservices=redis\n", replace_fleet: false } })
    )
    expect(dupName).toMatchObject({
      _tag: "Conflict",
      detail: "decky 'api-redis-1' already exists; submit with replace_fleet=true to overwrite the fleet"
    })
    const dupIp = await callFlip(baseUrl, token, (c) =>
      c.fleet.deploy({
        payload: { ini_content: `[other]\nip=${d1?.ip}\nservices=redis\n`, replace_fleet: false }
      })
    )
    expect(dupIp).toMatchObject({
      _tag: "Conflict",
      detail: `IP ${d1?.ip} is already in use by an existing decky`
    })
  })

  it("adds, configures, applies and removes a service of a running decky; no tarpit in-process", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const added = await call(baseUrl, token, (c) =>
      c.deckies.addService({ path: { decky_name: "api-redis-1" }, payload: { name: "pop3", config: {} } })
    )
    expect(added).toEqual({ decky_name: "api-redis-1", topology_id: null, services: ["redis", "pop3"] })
    const decky = (await call(baseUrl, token, (c) => c.fleet.deckies())).find((d) => d.name === "api-redis-1")
    let greeting: string | undefined
    for (const port of [10110, 20110, 30110]) {
      greeting = await ping(decky?.ip ?? "", port).catch(() => undefined)
      if (greeting !== undefined) break
    }
    expect(greeting).toMatch(/^\+OK/)
    const again = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({ name: "pop3" })
    })
    expect(again.status).toBe(409)
    expect(again.json()).toEqual({ detail: "Service 'pop3' is already on decky 'api-redis-1'" })
    for (const [name, status] of [
      ["gopher", 422],
      ["sniffer", 422],
      ["", 400]
    ] as const) {
      const r = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services", {
        method: "POST",
        token,
        headers: json,
        body: JSON.stringify({ name })
      })
      expect(r.status, name).toBe(status)
    }
    const badConfig = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services/redis/config", {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ config: { password: 12 } })
    })
    expect(badConfig.status).toBe(400)
    const unknownKey = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services/redis/config", {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ config: { no_such_knob: "x" } })
    })
    expect(unknownKey.status).toBe(400)
    const configured = await call(baseUrl, token, (c) =>
      c.deckies.serviceConfig({
        path: { decky_name: "api-redis-1", service_name: "redis" },
        payload: { config: { password: "s3cret-pass" } }
      })
    )
    expect(configured).toMatchObject({
      service_name: "redis",
      recreated: false,
      config: { password: "s3cret-pass" }
    })
    const applied = await call(baseUrl, token, (c) =>
      c.deckies.applyService({ path: { decky_name: "api-redis-1", service_name: "redis" }, payload: {} })
    )
    expect(applied.recreated).toBe(true)
    const stored = (await call(baseUrl, token, (c) => c.fleet.deckies())).find(
      (d) => d.name === "api-redis-1"
    )
    expect(stored?.service_config.redis).toEqual({ password: "s3cret-pass" })
    const notThere = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services/ssh/config", {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ config: {} })
    })
    expect(notThere.status).toBe(409)
    const removed = await call(baseUrl, token, (c) =>
      c.deckies.removeService({ path: { decky_name: "api-redis-1", service_name: "pop3" } })
    )
    expect(removed.services).toEqual(["redis"])
    const last = await raw(baseUrl, "/api/v1/deckies/api-redis-1/services/redis", { method: "DELETE", token })
    expect(last.status).toBe(409)
    const ghost = await raw(baseUrl, "/api/v1/deckies/ghost/services/redis", { method: "DELETE", token })
    expect(ghost.status).toBe(404)
    // The tarpit shapes traffic inside a decky's own namespace: an in-process decky has none (test/api/tarpit.test.ts).
    const tarpit = await raw(baseUrl, "/api/v1/deckies/api-redis-1/tarpit", { token })
    expect(tarpit.status).toBe(404)
    expect(tarpit.json()).toEqual({ detail: "No active tarpit rule for this decky" })
  })

  it("plants a file that OpenSSH then reads from the decky's shell, and removes it", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const accepted = await call(baseUrl, token, (c) =>
      c.fleet.deploy({ payload: { ini_content: "[api-ssh-1]\nservices=ssh\n", replace_fleet: false } })
    )
    const [row] = await waitLifecycle(baseUrl, token, accepted.lifecycle_ids)
    expect(row?.status).toBe("succeeded")
    const decky = (await call(baseUrl, token, (c) => c.fleet.deckies())).find((d) => d.name === "api-ssh-1")
    const ip = decky?.ip ?? ""
    const canary = `canary-${Date.now().toString(36)}\n`
    const planted = await raw(baseUrl, "/api/v1/deckies/files", {
      method: "POST",
      token,
      headers: json,
      body: JSON.stringify({
        decky_name: "api-ssh-1",
        path: "/root/.aws/credentials",
        content_b64: Buffer.from(canary).toString("base64"),
        mode: 0o600,
        mtime_offset: -86_400
      })
    })
    expect(planted.status).toBe(201)
    expect(planted.json()).toEqual({ message: "ok" })
    const ssh = async (command: string) => {
      for (const port of [10022, 20022, 30022]) {
        const r = await run(
          "sshpass",
          [
            "-p",
            "admin",
            "ssh",
            ...CLIENT_OPTIONS,
            "-o",
            "ConnectTimeout=10",
            "-p",
            String(port),
            `root@${ip}`,
            command
          ],
          { timeout: 20_000 }
        ).catch((e: { stdout?: string; code?: number }) => e)
        if (typeof r.stdout === "string" && r.stdout !== "") return r.stdout
      }
      return ""
    }
    expect(await ssh("cat /root/.aws/credentials")).toBe(canary)
    expect(await ssh("ls -l /root/.aws")).toMatch(/-rw------- .* credentials/)
    const removed = await raw(baseUrl, "/api/v1/deckies/files", {
      method: "DELETE",
      token,
      headers: json,
      body: JSON.stringify({ decky_name: "api-ssh-1", path: "/root/.aws/credentials" })
    })
    expect(removed.status).toBe(200)
    expect(await ssh("cat /root/.aws/credentials; echo end")).not.toContain("canary")
    // already absent is success; the errors the spec names
    const again = await raw(baseUrl, "/api/v1/deckies/files", {
      method: "DELETE",
      token,
      headers: json,
      body: JSON.stringify({ decky_name: "api-ssh-1", path: "/root/.aws/credentials" })
    })
    expect(again.status).toBe(200)
    for (const [body, status, detail] of [
      [
        { decky_name: "api-ssh-1", path: "/x", content_b64: "not base64!" },
        400,
        "content_b64 is not valid base64"
      ],
      [{ decky_name: "ghost", path: "/x", content_b64: "eA==" }, 422, "decky 'ghost' not found"],
      [{ decky_name: "api-ssh-1", path: "relative/x", content_b64: "eA==" }, 422, undefined],
      [{ decky_name: "api-ssh-1", path: "/a/../etc/passwd", content_b64: "eA==" }, 422, undefined],
      [
        { decky_name: "api-ssh-1", topology_id: "t-1", path: "/x", content_b64: "eA==" },
        404,
        "Topology not found"
      ]
    ] as const) {
      const r = await raw(baseUrl, "/api/v1/deckies/files", {
        method: "POST",
        token,
        headers: json,
        body: JSON.stringify(body)
      })
      expect(r.status, JSON.stringify(body)).toBe(status)
      if (detail !== undefined) expect(r.json()).toEqual({ detail })
    }
  })

  it("answers bad INI with the spec's 409 texts, and a too-large fleet with the limit's", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const deploy = (body: unknown) =>
      raw(baseUrl, "/api/v1/deckies/deploy", {
        method: "POST",
        token,
        headers: json,
        body: JSON.stringify(body)
      })
    for (const [ini, detail] of [
      ["   \n", "Configuration conflict: INI content is empty."],
      ["; only a comment\n", "Invalid INI config structure: No decky sections found."],
      ["services=ssh\n", "Configuration conflict: INI syntax or characters are invalid."],
      ["[a]\nservices=nosuchservice\n", undefined]
    ] as const) {
      const r = await deploy({ ini_content: ini })
      expect(r.status, ini).toBe(409)
      if (detail !== undefined) expect(r.json()).toEqual({ detail })
      else expect((r.json() as { detail: string }).detail).toContain("nosuchservice")
    }
    const extra = await deploy({ ini_content: "[a]\nservices=ssh\n", surprise: true })
    expect(extra.status).toBe(400)
    const wrongType = await deploy({ ini_content: 42 })
    expect(wrongType.status).toBe(400)
    const big = Array.from({ length: 12 }, (_, i) => `[big-${i}]\nservices=redis\n`).join("\n")
    const limited = await deploy({ ini_content: big, replace_fleet: true })
    expect(limited.status).toBe(409)
    expect(limited.json()).toEqual({
      detail: "Deployment would result in 12 deckies, exceeding the configured limit of 10"
    })
  })

  it("lifecycle needs ids; mutate, the interval and removal answer as the spec says", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    expect((await raw(baseUrl, "/api/v1/deckies/lifecycle", { token })).status).toBe(400)
    const unknown = await call(baseUrl, token, (c) => c.fleet.lifecycle({ urlParams: { ids: ["nope"] } }))
    expect(unknown.rows).toEqual([])

    const badName = await raw(baseUrl, "/api/v1/deckies/Not_Valid/mutate", { method: "POST", token })
    expect(badName.status).toBe(422)
    expect(
      await callFlip(baseUrl, token, (c) => c.fleet.mutate({ path: { decky_name: "ghost" } }))
    ).toMatchObject({ _tag: "NotFound", detail: "Decky ghost not found" })
    const mutated = await call(baseUrl, token, (c) => c.fleet.mutate({ path: { decky_name: "api-redis-2" } }))
    expect(mutated.lifecycle_ids).toHaveLength(1)
    const [row] = await waitLifecycle(baseUrl, token, mutated.lifecycle_ids)
    expect(row?.operation).toBe("mutate")
    expect(row?.status).toBe("succeeded")

    expect(
      await call(baseUrl, token, (c) =>
        c.fleet.mutateInterval({ path: { decky_name: "api-redis-2" }, payload: { mutate_interval: "2d" } })
      )
    ).toEqual({ message: "Mutation interval updated" })
    const after = (await call(baseUrl, token, (c) => c.fleet.deckies())).find((d) => d.name === "api-redis-2")
    expect(after?.mutate_interval).toBe(2880)
    const hours = await raw(baseUrl, "/api/v1/deckies/api-redis-2/mutate-interval", {
      method: "PUT",
      token,
      headers: json,
      body: JSON.stringify({ mutate_interval: "5h" })
    })
    expect(hours.status).toBe(422)

    const removed = await raw(baseUrl, "/api/v1/deckies/api-redis-2", { method: "DELETE", token })
    expect(removed.status).toBe(204)
    expect(
      await callFlip(baseUrl, token, (c) => c.fleet.remove({ path: { decky_name: "api-redis-2" } }))
    ).toMatchObject({ _tag: "NotFound", detail: "Decky api-redis-2 not found" })
    const names = (await call(baseUrl, token, (c) => c.fleet.deckies())).map((d) => d.name)
    expect(names).not.toContain("api-redis-2")
  })
})
