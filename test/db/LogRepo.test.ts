import { Effect, Exit } from "effect"
import { expect, it } from "vitest"
import { LogRepo, type NewLog } from "../../src/db/index.js"
import { onBothBackends } from "./backends.js"
import { useRuntime } from "./harness.js"

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s))
const log = (i: number, over: Partial<NewLog> = {}): NewLog => ({
  timestamp: at(i % 60),
  decky: `decky-${i % 3}`,
  service: i % 2 === 0 ? "ssh" : "http",
  event_type: "login_attempt",
  attacker_ip: `192.0.2.${i % 7}`,
  attacker_port: 40000 + i,
  fields: { username: i % 5 === 0 ? "root" : "admin", n: String(i) },
  msg: "",
  severity: 6,
  raw_line: `<38>1 line ${i}`,
  ...over
})

onBothBackends("LogRepo", (backend) => {
  const rt = useRuntime(backend)
  const run = <A, E>(f: (repo: LogRepo) => Effect.Effect<A, E>) => rt().runPromise(Effect.flatMap(LogRepo, f))

  it("starts empty: total 0, max id 0", async () => {
    expect(await run((r) => r.getTotalLogs())).toBe(0)
    expect(await run((r) => r.getMaxLogId())).toBe(0)
  })

  it("batch-inserts 1200 rows (several INSERT chunks) and pages them", async () => {
    await run((r) => r.addLogs(Array.from({ length: 1200 }, (_, i) => log(i))))
    expect(await run((r) => r.getTotalLogs())).toBe(1200)
    const max = await run((r) => r.getMaxLogId())
    expect(max).toBeGreaterThanOrEqual(1200)

    const page = await run((r) => r.getLogs({ limit: 10, offset: 0 }))
    expect(page).toHaveLength(10)
    // newest timestamp first
    const times = page.map((l) => l.timestamp.getTime())
    expect([...times].sort((a, b) => b - a)).toEqual(times)
    expect(page[0]?.timestamp.toISOString()).toBe(at(59).toISOString())
    expect(page[0]?.fields).toHaveProperty("username")

    const after = await run((r) => r.getLogsAfterId(max - 5, 500))
    expect(after.map((l) => l.id)).toEqual([max - 4, max - 3, max - 2, max - 1, max])
    expect(await run((r) => r.getLogsAfterId(max, 500))).toEqual([])
  })

  it("searches by column token, fields.<key>, bare text and time range, all AND-ed", async () => {
    const total = await run((r) => r.getTotalLogs({ search: "service:ssh" }))
    expect(total).toBe(600)
    const rootSsh = await run((r) => r.getTotalLogs({ search: "service:ssh username:root" }))
    // i%2==0 and i%5==0 → i%10==0
    expect(rootSsh).toBe(120)
    const rows = await run((r) => r.getLogs({ search: "username:root event:login_attempt", limit: 5 }))
    expect(rows.every((l) => l.fields.username === "root")).toBe(true)
    expect(await run((r) => r.getTotalLogs({ search: '"line 1199"' }))).toBe(1)
    // i in [0,1200) with i % 7 == 3: 171 of them
    expect(await run((r) => r.getTotalLogs({ search: "attacker-ip:192.0.2.3" }))).toBe(171)
    const window = await run((r) => r.getTotalLogs({ startTime: at(10), endTime: at(19) }))
    expect(window).toBe(200)
    // a bad quote falls back to whitespace splitting instead of failing
    expect(await run((r) => r.getTotalLogs({ search: 'decky:decky-1 "unterminated' }))).toBe(0)
  })

  it("addLog stores one row with optional columns; a row read back is the event that went in", async () => {
    const before = await run((r) => r.getMaxLogId())
    const written = log(1, { fields: { k: "v" }, msg: "hello", severity: 4, trace_id: "t", span_id: "s" })
    await run((r) => r.addLog(written))
    const [row] = await run((r) => r.getLogsAfterId(before, 1))
    expect(row).toMatchObject({
      fields: { k: "v" },
      msg: "hello",
      trace_id: "t",
      span_id: "s",
      service: "http"
    })
    expect(row).toBeDefined()
    if (row === undefined) return
    const { raw_line: _raw, trace_id: _t, span_id: _s, ...event } = written
    const { id: _id, raw_line: _r2, trace_id: _t2, span_id: _s2, ...stored } = row
    expect({ ...stored }).toEqual(event)
  })

  it("an event without message or peer port stores NULLs and reads back as the event", async () => {
    const before = await run((r) => r.getMaxLogId())
    await run((r) => r.addLog(log(2, { attacker_port: null, msg: "", severity: 0 })))
    const [row] = await run((r) => r.getLogsAfterId(before, 1))
    expect(row).toMatchObject({ attacker_port: null, msg: "", severity: 0 })
  })

  it("addLogs is one transaction: a bad row rolls the whole batch back", async () => {
    const before = await run((r) => r.getTotalLogs())
    // a NULL in a NOT NULL column, smuggled past the types, makes the 3rd insert chunk fail
    const bad = { ...log(0), decky: null } as unknown as NewLog
    const batch = [...Array.from({ length: 1100 }, (_, i) => log(i)), bad]
    const exit = await rt().runPromiseExit(Effect.flatMap(LogRepo, (r) => r.addLogs(batch)))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(await run((r) => r.getTotalLogs())).toBe(before)
  })
})
