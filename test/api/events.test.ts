// `/events` against a real server on an in-process bus (FakeBus) and a real in-process fleet: the
// snapshot first, then a worker heartbeat and the lifecycle of a deploy made through the API, as bus
// frames `{topic, type, ts, payload}` in the order they happened.
import { Effect } from "effect"
import { expect, it } from "vitest"
import { Bus } from "../../src/bus/Bus.js"
import { onBothBackends } from "../db/backends.js"
import { adminToken, raw, useApi } from "./harness.js"

interface Frame {
  readonly event: string
  readonly data: unknown
}

const parse = (block: string): Frame | undefined => {
  if (block.startsWith(":")) return { event: ":", data: block.slice(1).trim() }
  const event = /^event: (.*)$/m.exec(block)?.[1]
  const data = /^data: (.*)$/m.exec(block)?.[1]
  return event === undefined || data === undefined ? undefined : { event, data: JSON.parse(data) }
}

onBothBackends("API /events", (backend) => {
  const api = useApi(backend, { DECNET_LIMITER_ENABLED: "false" }, { bus: "fake" })

  it("relays a snapshot, worker heartbeats and a deploy's lifecycle from the bus", async () => {
    const { baseUrl, runtime } = api()
    const token = await adminToken(baseUrl)
    const controller = new AbortController()
    const res = await fetch(`${baseUrl}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const reader = res.body?.getReader()
    if (reader === undefined) throw new Error("no body")
    const frames: Array<Frame> = []
    let buffer = ""
    const decoder = new TextDecoder()
    const until = async (pred: () => boolean, ms: number) => {
      const deadline = Date.now() + ms
      while (!pred() && Date.now() < deadline) {
        const next = await Promise.race([
          reader.read(),
          new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(1, deadline - Date.now())))
        ])
        if (next === undefined || next.done) break
        buffer += decoder.decode(next.value, { stream: true })
        const end = buffer.lastIndexOf("\n\n")
        if (end < 0) continue
        for (const block of buffer.slice(0, end).split("\n\n")) {
          const f = parse(block)
          if (f !== undefined) frames.push(f)
        }
        buffer = buffer.slice(end + 2)
      }
      return pred()
    }
    try {
      expect(await until(() => frames.some((f) => f.event === "snapshot"), 5000)).toBe(true)
      expect(frames[0]).toEqual({ event: ":", data: "keepalive" })
      const snapshot = frames[1]?.data as { workers: Array<{ name: string }>; deckies: Array<unknown> }
      expect(snapshot.workers.map((w) => w.name)).toContain("ingester")
      expect(snapshot.deckies).toEqual([])

      await runtime.runPromise(
        Effect.flatMap(Bus, (bus) =>
          bus.publish("system.collector.health", { worker: "collector", ts: Date.now() / 1000 }, "health")
        )
      )
      expect(await until(() => frames.some((f) => f.event === "system.collector.health"), 5000)).toBe(true)
      const beat = frames.find((f) => f.event === "system.collector.health")?.data
      expect(beat).toMatchObject({
        topic: "system.collector.health",
        type: "health",
        payload: { worker: "collector" }
      })

      const deploy = await raw(baseUrl, "/api/v1/deckies/deploy", {
        method: "POST",
        token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ini_content: "[events-1]\nservices=redis\n" })
      })
      expect(deploy.status).toBe(202)
      const lifecycle = () =>
        frames
          .filter((f) => f.event === "decky.events-1.lifecycle")
          .map((f) => (f.data as { payload: { status: string } }).payload.status)
      expect(await until(() => lifecycle().includes("succeeded"), 10_000)).toBe(true)
      expect(lifecycle()).toEqual(["running", "succeeded"])
      // the deploy's own `decky_mutated` (trigger creation) went out on the bus too
      expect(frames.some((f) => f.event === "decky.events-1.mutation")).toBe(true)
    } finally {
      controller.abort()
    }
  })
})
