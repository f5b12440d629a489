// Resume positions: engine timestamps compared as numbers, the replay filter, cutting an interrupted last
// line, and rebuilding positions from the cursor file plus the `.json` records written after it.
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, TestClock } from "effect"
import {
  advancePosition,
  cursorPath,
  engineNanos,
  makeCursorStore,
  recoverPositions,
  resumeFilter,
  sinceSeconds,
  splitTimestamped,
  truncatePartialLine
} from "../../src/collector/Cursor.js"
import { evidencePaths } from "../../src/collector/Record.js"
import { tempDir } from "./support.js"

const nanos = (ts: string) => {
  const n = engineNanos(ts)
  if (n === undefined) throw new Error(`not a timestamp: ${ts}`)
  return n
}

/** One `.json` record line as the collector writes it (only `source` matters here). */
const record = (container: string, ts: string | undefined, n = 0) =>
  `${JSON.stringify({ decky: "d", fields: { n: String(n) }, source: ts === undefined ? { container } : { container, ts } })}\n`

describe("engine timestamps", () => {
  it("compares as numbers: trailing zeros dropped, nine digits, offsets", () => {
    // As text, "…00.5Z" < "…00.25Z" is false the wrong way round; as time it is later.
    expect(nanos("2026-05-01T12:00:00.5Z") > nanos("2026-05-01T12:00:00.25Z")).toBe(true)
    expect("2026-05-01T12:00:00.5Z" > "2026-05-01T12:00:00.25Z").toBe(true)
    expect(nanos("2026-05-01T12:00:00.1Z") < nanos("2026-05-01T12:00:00.25Z")).toBe(true)
    expect(nanos("2026-05-01T12:00:00Z")).toBe(nanos("2026-05-01T12:00:00.000000000Z"))
    expect(nanos("2026-05-01T12:00:00.000000001Z") - nanos("2026-05-01T12:00:00Z")).toBe(1n)
    expect(nanos("2026-05-01T14:00:00.5+02:00")).toBe(nanos("2026-05-01T12:00:00.5Z"))
    expect(nanos("1970-01-01T00:00:01.5Z")).toBe(1_500_000_000n)
    expect(engineNanos("2026-05-01 12:00:00Z")).toBeUndefined()
    expect(engineNanos("<134>1")).toBeUndefined()
    expect(sinceSeconds(nanos("2026-05-01T12:00:00.999999999Z"))).toBe(Date.UTC(2026, 4, 1, 12) / 1000)
  })

  it("splits the timestamp off a `docker logs --timestamps` line", () => {
    expect(splitTimestamped("2026-05-01T12:00:00.1Z <134>1 x y")).toEqual({
      ts: "2026-05-01T12:00:00.1Z",
      nanos: nanos("2026-05-01T12:00:00.1Z"),
      text: "<134>1 x y"
    })
    expect(splitTimestamped("2026-05-01T12:00:00.1Z")?.text).toBe("")
    expect(splitTimestamped("continuation of a long line")).toBeUndefined()
  })
})

describe("positions", () => {
  const t = (s: string) => `2026-05-01T12:00:0${s}Z`

  it("advance counts lines at the same timestamp and ignores older ones", () => {
    let p = advancePosition(undefined, t("1"), nanos(t("1")))
    p = advancePosition(p, t("1"), nanos(t("1")))
    expect(p).toEqual({ ts: t("1"), nanos: nanos(t("1")), n: 2 })
    expect(advancePosition(p, t("0"), nanos(t("0")))).toBe(p)
    expect(advancePosition(p, t("2"), nanos(t("2")))).toEqual({ ts: t("2"), nanos: nanos(t("2")), n: 1 })
  })

  it("the replay filter skips what is before the position and the first n lines at it", () => {
    const keep = resumeFilter({ ts: t("5"), nanos: nanos(t("5")), n: 2 })
    expect([t("4"), t("5"), t("5"), t("5"), t("6"), t("5")].map((s) => keep(nanos(s)))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true
    ])
    expect(resumeFilter(undefined)(0n)).toBe(true)
  })
})

describe("recovery", () => {
  it.scoped("cuts an unterminated last line, and only that", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const f = path.join(dir, "x")
      fs.writeFileSync(f, "a\nb\npartial")
      expect(truncatePartialLine(f)).toBe(7)
      expect(fs.readFileSync(f, "utf8")).toBe("a\nb\n")
      expect(truncatePartialLine(f)).toBe(0)
      fs.writeFileSync(f, "x".repeat(200_000))
      expect(truncatePartialLine(f)).toBe(200_000)
      expect(fs.statSync(f).size).toBe(0)
      expect(truncatePartialLine(path.join(dir, "absent"))).toBe(0)
    })
  )

  it.scoped("without a cursor file, the whole .json is scanned: the last line per container, counted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const paths = evidencePaths(path.join(dir, "decnet.log"))
      fs.writeFileSync(
        paths.json,
        record("A", "2026-05-01T12:00:01.5Z") +
          record("B", "2026-05-01T12:00:02Z") +
          "not json\n" +
          record("inprocess", undefined) +
          record("A", "2026-05-01T12:00:01.75Z") +
          record("A", "2026-05-01T12:00:01.75Z") +
          // Killed in the middle of this one: cut, not counted.
          record("A", "2026-05-01T12:00:09Z").slice(0, 30)
      )
      fs.writeFileSync(paths.log, "l1\nl2\nl3")
      const r = recoverPositions(paths)
      expect(r.truncated).toEqual({ log: 2, json: 30 })
      expect(r.cursorFile).toBe("absent")
      expect(Object.fromEntries(r.positions)).toEqual({
        A: { ts: "2026-05-01T12:00:01.75Z", nanos: nanos("2026-05-01T12:00:01.75Z"), n: 2 },
        B: { ts: "2026-05-01T12:00:02Z", nanos: nanos("2026-05-01T12:00:02Z"), n: 1 }
      })
      expect(fs.readFileSync(paths.log, "utf8")).toBe("l1\nl2\n")
    })
  )

  it.scoped("with a cursor file, only the records past its size are scanned and added to it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const paths = evidencePaths(path.join(dir, "decnet.log"))
      // Before the flush: a record the cursor file already counts (planted later in time to show it is not read).
      fs.writeFileSync(paths.json, record("A", "2026-05-01T12:00:59Z"))
      const st = fs.statSync(paths.json)
      fs.writeFileSync(
        cursorPath(paths.json),
        JSON.stringify({
          v: 1,
          json: { ino: st.ino, size: st.size },
          containers: { A: { ts: "2026-05-01T12:00:05Z", n: 1 }, C: { ts: "2026-05-01T11:00:00Z", n: 3 } }
        })
      )
      fs.appendFileSync(paths.json, record("A", "2026-05-01T12:00:05Z") + record("B", "2026-05-01T12:00:06Z"))
      const r = recoverPositions(paths)
      expect(r.cursorFile).toBe("read")
      expect(r.scannedFrom).toBe(st.size)
      expect(r.scannedRecords).toBe(2)
      expect(Object.fromEntries([...r.positions].map(([c, p]) => [c, [p.ts, p.n]]))).toEqual({
        A: ["2026-05-01T12:00:05Z", 2],
        B: ["2026-05-01T12:00:06Z", 1],
        C: ["2026-05-01T11:00:00Z", 3]
      })
    })
  )

  it.scoped("a .json rotated since the cursor file is scanned from its start", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const paths = evidencePaths(path.join(dir, "decnet.log"))
      fs.writeFileSync(paths.json, record("A", "2026-05-01T12:00:01Z"))
      const st = fs.statSync(paths.json)
      fs.writeFileSync(
        cursorPath(paths.json),
        JSON.stringify({
          v: 1,
          json: { ino: st.ino, size: st.size },
          containers: { A: { ts: "2026-05-01T12:00:01Z", n: 1 } }
        })
      )
      fs.renameSync(paths.json, `${paths.json}.1`)
      fs.writeFileSync(paths.json, record("A", "2026-05-01T12:00:02Z"))
      const r = recoverPositions(paths)
      expect(r.scannedFrom).toBe(0)
      expect(r.positions.get("A")?.ts).toBe("2026-05-01T12:00:02Z")
    })
  )

  it.scoped("an unreadable cursor file is ignored (the .json is scanned whole)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const paths = evidencePaths(path.join(dir, "decnet.log"))
      fs.writeFileSync(paths.json, record("A", "2026-05-01T12:00:01Z"))
      fs.writeFileSync(cursorPath(paths.json), "{garbage")
      const r = recoverPositions(paths)
      expect(r.cursorFile).toBe("unreadable")
      expect(r.positions.get("A")?.n).toBe(1)
    })
  )
})

describe("cursor store", () => {
  it.scoped("flushes moved positions every second and at close; a new store reads them back", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-cursor-")
      const paths = evidencePaths(path.join(dir, "decnet.log"))
      const file = cursorPath(paths.json)
      const scope = yield* Scope.make()
      const store = yield* makeCursorStore(paths).pipe(Scope.extend(scope))
      store.advance("A", "2026-05-01T12:00:01Z", nanos("2026-05-01T12:00:01Z"))
      expect(fs.existsSync(file)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(JSON.parse(fs.readFileSync(file, "utf8")).containers).toEqual({
        A: { ts: "2026-05-01T12:00:01Z", n: 1 }
      })
      store.advance("A", "2026-05-01T12:00:01Z", nanos("2026-05-01T12:00:01Z"))
      store.advance("B", "2026-05-01T12:00:03Z", nanos("2026-05-01T12:00:03Z"))
      yield* Scope.close(scope, Exit.void)
      const again = yield* makeCursorStore(paths).pipe(Effect.scoped)
      expect(again.recovered.cursorFile).toBe("read")
      expect(Object.fromEntries([...again.recovered.positions].map(([c, p]) => [c, [p.ts, p.n]]))).toEqual({
        A: ["2026-05-01T12:00:01Z", 2],
        B: ["2026-05-01T12:00:03Z", 1]
      })
    })
  )
})
