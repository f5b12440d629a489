// The `/stream` SSE feed against a real server (spec api §5, §7.6): frames in order for curl -N and for
// node's fetch reader, a stored row arriving as a `logs` frame, the per-user cap answered with a real 429
// before any body, and a disconnect freeing its slot.
import { spawn } from "node:child_process"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { LogRepo } from "../../src/db/LogRepo.js"
import { onBothBackends } from "../db/backends.js"
import { record } from "../ingester/records.js"
import { adminToken, raw, useApi } from "./harness.js"

interface Frame {
  readonly event: string
  readonly data: unknown
}

/** Parse SSE text into frames (comments kept as event ":"). */
const parseFrames = (text: string): Array<Frame> =>
  text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      if (block.startsWith(":")) return { event: ":", data: block.slice(1).trim() }
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "null"
      return { event, data: JSON.parse(data) }
    })

/** An open stream read with fetch: frames as they arrive, until `close`. */
const openStream = async (url: string, token: string) => {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
  const frames: Array<Frame> = []
  let buffer = ""
  const reader = res.body?.getReader()
  const decoder = new TextDecoder()
  const pump = (async () => {
    if (reader === undefined) return
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        const end = buffer.lastIndexOf("\n\n")
        if (end >= 0) {
          frames.push(...parseFrames(buffer.slice(0, end + 2)))
          buffer = buffer.slice(end + 2)
        }
      }
    } catch {
      // aborted
    }
  })()
  const waitFor = async (pred: (f: Frame) => boolean, ms: number) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const found = frames.find(pred)
      if (found !== undefined) return found
      await new Promise((r) => setTimeout(r, 20))
    }
    return undefined
  }
  return {
    status: res.status,
    headers: res.headers,
    frames,
    waitFor,
    close: async () => {
      controller.abort()
      await pump
    }
  }
}

const typeOf = (f: Frame) =>
  typeof f.data === "object" && f.data !== null && "type" in f.data ? String(f.data.type) : undefined

onBothBackends("API /stream", (backend) => {
  const api = useApi(backend, {
    DECNET_LIMITER_ENABLED: "false",
    DECNET_SSE_MAX_PER_USER: "5"
  })

  it("sends keepalive, stats, histogram in order to curl -N", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const out = await new Promise<string>((resolve, reject) => {
      const curl = spawn("curl", [
        "-sN",
        "--max-time",
        "2",
        "-H",
        `Authorization: Bearer ${token}`,
        `${baseUrl}/api/v1/stream`
      ])
      let text = ""
      curl.stdout.on("data", (d: Buffer) => {
        text += d.toString("utf8")
      })
      curl.on("error", reject)
      curl.on("close", () => resolve(text))
    })
    const frames = parseFrames(out)
    expect(frames[0]).toEqual({ event: ":", data: "keepalive" })
    expect(frames[1]?.event).toBe("message")
    expect(typeOf(frames[1] ?? { event: "", data: null })).toBe("stats")
    expect(frames[1]?.data).toMatchObject({ data: { total_logs: expect.any(Number) } })
    expect(typeOf(frames[2] ?? { event: "", data: null })).toBe("histogram")
  })

  it("delivers a stored row as a logs frame within 2 s, without replaying history", async () => {
    const { baseUrl, runtime } = api()
    const token = await adminToken(baseUrl)
    const addLog = (ip: string) =>
      runtime.runPromise(Effect.flatMap(LogRepo, (logs) => logs.addLogs([record({ attacker_ip: ip })])))
    await addLog("198.51.100.1") // history: not replayed
    const stream = await openStream(`${baseUrl}/api/v1/stream`, token)
    try {
      expect(stream.status).toBe(200)
      expect(stream.headers.get("content-type")).toContain("text/event-stream")
      expect(stream.headers.get("cache-control")).toBe("no-cache")
      expect(stream.headers.get("x-accel-buffering")).toBe("no")
      expect(await stream.waitFor((f) => typeOf(f) === "histogram", 2000)).toBeDefined()
      await addLog("198.51.100.2")
      const logs = await stream.waitFor((f) => typeOf(f) === "logs", 2000)
      if (logs === undefined) throw new Error("no logs frame within 2 s")
      const rows = (logs.data as { data: Array<{ attacker_ip: string; fields: unknown }> }).data
      expect(rows.map((r) => r.attacker_ip)).toEqual(["198.51.100.2"])
      expect(typeof rows[0]?.fields).toBe("string")
      // the row's frame is followed by fresh stats in the same iteration
      const after = stream.frames.slice(stream.frames.indexOf(logs))
      expect(after.some((f) => typeOf(f) === "stats")).toBe(true)
    } finally {
      await stream.close()
    }
  })

  it("catches up with a burst of 120 rows in one tick: frames of at most 50 rows, in id order", async () => {
    const { baseUrl, runtime } = api()
    const token = await adminToken(baseUrl)
    const stream = await openStream(`${baseUrl}/api/v1/stream`, token)
    try {
      expect(await stream.waitFor((f) => typeOf(f) === "histogram", 2000)).toBeDefined()
      const burst = Array.from({ length: 120 }, (_, i) => record({ attacker_ip: `198.51.100.${i + 1}` }))
      await runtime.runPromise(Effect.flatMap(LogRepo, (logs) => logs.addLogs(burst)))
      const rowsOf = () =>
        stream.frames
          .filter((f) => typeOf(f) === "logs")
          .map((f) => (f.data as { data: Array<{ id: number; attacker_ip: string }> }).data)
      const deadline = Date.now() + 2500
      while (rowsOf().flat().length < 120 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20))
      const frames = rowsOf()
      // the original's one batch a second would have sent 50 here and needed 3 s for the rest
      expect(frames.flat().map((r) => r.attacker_ip)).toEqual(burst.map((r) => r.attacker_ip))
      expect(frames.map((f) => f.length)).toEqual([50, 50, 20])
      const ids = frames.flat().map((r) => r.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    } finally {
      await stream.close()
    }
  })

  it("answers the 6th concurrent stream of a user with 429 before any body; a disconnect frees a slot", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const open = await Promise.all(
      Array.from({ length: 5 }, () => openStream(`${baseUrl}/api/v1/stream`, token))
    )
    try {
      expect(open.map((s) => s.status)).toEqual([200, 200, 200, 200, 200])
      const sixth = await raw(baseUrl, "/api/v1/stream", { token })
      expect(sixth.status).toBe(429)
      expect(sixth.json()).toEqual({ detail: "SSE connection limit (5) reached" })
      // a ticket-authenticated stream counts against the same user
      const minted = await raw(baseUrl, "/api/v1/auth/sse-ticket", { method: "POST", token })
      const { ticket } = minted.json() as { ticket: string }
      expect((await raw(baseUrl, `/api/v1/stream?ticket=${ticket}`)).status).toBe(429)
      await open[0]?.close()
      let reopened: Awaited<ReturnType<typeof openStream>> | undefined
      for (let i = 0; i < 50 && reopened === undefined; i++) {
        const attempt = await openStream(`${baseUrl}/api/v1/stream`, token)
        if (attempt.status === 200) reopened = attempt
        else {
          await attempt.close()
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      expect(reopened?.status).toBe(200)
      await reopened?.close()
    } finally {
      await Promise.all(open.map((s) => s.close()))
    }
  })
})
