// Artifacts and transcripts (spec api §7.16) against a real server whose DECNET_ARTIFACTS_ROOT is a temp
// dir: the bytes and headers of a quarantined upload, the validation texts, traversal refused, and a
// recording paged from the path its `session_recorded` row names.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { LogRepo } from "../../src/db/LogRepo.js"
import { onBothBackends } from "../db/backends.js"
import { record } from "../ingester/records.js"
import { adminToken, raw, useApi } from "./harness.js"

const root = mkdtempSync(join(tmpdir(), "decnet-artifacts-"))
const STORED = "20260101T120000Z_0123456789ab_payload.sh"
const BYTES = Buffer.from([0, 1, 2, 255, 0x23, 0x21, 10])
mkdirSync(join(root, "decky-01", "ssh", "captured"), { recursive: true })
writeFileSync(join(root, "decky-01", "ssh", "captured", STORED), BYTES)
writeFileSync(join(root, "outside.txt"), "secret")
const SID = "0b9a7c1e-2f44-4d8e-9a51-3c2d1e0f9a88"
const cast = join(root, "decky-01", "ssh", "transcripts", `${SID}.cast`)
mkdirSync(join(root, "decky-01", "ssh", "transcripts"), { recursive: true })
writeFileSync(
  cast,
  [
    JSON.stringify({
      version: 2,
      width: 80,
      height: 24,
      timestamp: 1767268800,
      env: { TERM: "xterm" },
      title: "s"
    }),
    ...Array.from({ length: 7 }, (_, i) => JSON.stringify([i / 10, i % 2 === 0 ? "o" : "i", `line ${i}\r\n`]))
  ].join("\n")
)

onBothBackends("API artifacts and transcripts", (backend) => {
  const api = useApi(backend, {
    DECNET_LIMITER_ENABLED: "false",
    DECNET_ARTIFACTS_ROOT: root
  })

  it("serves a quarantined upload as bytes; checks names; refuses paths out of the root", async () => {
    const { baseUrl } = api()
    const token = await adminToken(baseUrl)
    const res = await fetch(`${baseUrl}/api/v1/artifacts/decky-01/${STORED}?service=ssh`, {
      headers: { authorization: `Bearer ${token}` }
    })
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer())).toEqual(BYTES)
    expect(res.headers.get("content-type")).toBe("application/octet-stream")
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${STORED}"`)
    expect(res.headers.get("x-content-type-options")).toBe("nosniff")
    for (const [path, status, detail] of [
      [`/artifacts/decky-01/${STORED}?service=http`, 400, "invalid service"],
      [`/artifacts/decky-01/${STORED}?service=SSH`, 422, "Invalid request parameters"],
      [`/artifacts/Decky_01/${STORED}`, 400, "invalid decky name"],
      ["/artifacts/decky-01/payload.sh", 400, "invalid stored_as"],
      [`/artifacts/decky-01/${encodeURIComponent("../../outside.txt")}`, 400, "invalid stored_as"],
      [`/artifacts/${encodeURIComponent("../..")}/${STORED}`, 400, "invalid decky name"],
      [`/artifacts/decky-02/${STORED}`, 404, "artifact not found"]
    ] as const) {
      const r = await raw(baseUrl, `/api/v1${path}`, { token })
      expect(r.status, path).toBe(status)
      expect(r.json(), path).toEqual({ detail })
    }
  })

  it("pages a recording found through its session_recorded row", async () => {
    const { baseUrl, runtime } = api()
    const token = await adminToken(baseUrl)
    await runtime.runPromise(
      Effect.flatMap(LogRepo, (logs) =>
        logs.addLogs([
          record({
            service: "ssh",
            event_type: "session_recorded",
            fields: {
              sid: SID,
              service: "ssh",
              duration_s: "1.000",
              bytes: "63",
              truncated: "false",
              path: cast
            }
          })
        ])
      )
    )
    const first = await raw(baseUrl, `/api/v1/transcripts/decky-01/${SID}?offset=0&limit=5`, { token })
    expect(first.status).toBe(200)
    const body = first.json() as {
      events: Array<[number, string, string]>
      total: number
      has_more: boolean
      header: { width: number }
      service: string
      truncated: boolean
    }
    expect(body.total).toBe(7)
    expect(body.events).toHaveLength(5)
    expect(body.events[0]).toEqual([0, "o", "line 0\r\n"])
    expect(body.has_more).toBe(true)
    expect(body.header.width).toBe(80)
    expect(body.service).toBe("ssh")
    expect(body.truncated).toBe(false)
    const rest = raw(baseUrl, `/api/v1/transcripts/decky-01/${SID}?offset=5&limit=5`, { token })
    expect(((await rest).json() as { events: unknown[]; has_more: boolean }).has_more).toBe(false)
    for (const [path, status, detail] of [
      [`/transcripts/decky-02/${SID}`, 404, "session not found"],
      ["/transcripts/decky-01/not-a-sid", 400, "invalid sid"],
      // the form our ssh and telnet emulators write is a valid sid (the dashboard's e2e test replays one)
      ["/transcripts/decky-01/mx6g13cq-7d595fbc509a", 404, "session not found"],
      [`/transcripts/DECKY/${SID}`, 400, "invalid decky name"],
      [`/transcripts/decky-01/${SID.replace("0b", "ff")}`, 404, "session not found"]
    ] as const) {
      const r = await raw(baseUrl, `/api/v1${path}`, { token })
      expect(r.status, path).toBe(status)
      expect(r.json(), path).toEqual({ detail })
    }
    const over = await raw(baseUrl, `/api/v1/transcripts/decky-01/${SID}?limit=5001`, { token })
    expect(over.status).toBe(422)
  })
})
