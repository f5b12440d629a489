// The evidence writer on real files: one line per write in each file, parent directories created, and a
// file rotated (renamed) or deleted under it replaced by a new one within the second (TestClock).
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { EvidenceRecord } from "../../src/collector/Record.js"
import { evidencePaths } from "../../src/collector/Record.js"
import { makeEvidenceWriter } from "../../src/collector/Writer.js"
import { encodeEventLine } from "../../src/logging/HoneypotEvent.js"
import { event, linesOf, recordsOf, tempDir } from "./support.js"

const recordOf = (n: number): EvidenceRecord => {
  const ev = event({ fields: { n: String(n) } })
  return { ...ev, raw_line: encodeEventLine(ev), source: { container: "c", ts: `2026-04-21T12:00:0${n}Z` } }
}
const ns = (file: string) => recordsOf(file).map((r) => r.fields.n)

describe("evidence writer", () => {
  it("names the pair: the suffix replaced by .json", () => {
    expect(evidencePaths("/var/log/decnet/decnet.log")).toEqual({
      log: "/var/log/decnet/decnet.log",
      json: "/var/log/decnet/decnet.json"
    })
    expect(evidencePaths("/var/log/decnet.d/agent")).toEqual({
      log: "/var/log/decnet.d/agent",
      json: "/var/log/decnet.d/agent.json"
    })
  })

  it.scoped("creates parent directories and appends one line per write to each file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-writer-")
      const w = yield* makeEvidenceWriter(path.join(dir, "a", "b", "decnet.log"))
      yield* w.write("raw only")
      yield* w.write(recordOf(1).raw_line, recordOf(1))
      expect(linesOf(w.paths.log)).toEqual(["raw only", recordOf(1).raw_line])
      expect(ns(w.paths.json)).toEqual(["1"])
    })
  )

  it.scoped("a rotated file (renamed under it) is followed by a new file at the path", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-writer-")
      const w = yield* makeEvidenceWriter(path.join(dir, "decnet.log"))
      yield* w.write("one", recordOf(1))
      fs.renameSync(w.paths.log, `${w.paths.log}.1`)
      fs.renameSync(w.paths.json, `${w.paths.json}.1`)
      // Within the second the writer has not looked yet: the line lands in the renamed file.
      yield* w.write("two", recordOf(2))
      yield* TestClock.adjust("1 second")
      yield* w.write("three", recordOf(3))
      expect(linesOf(`${w.paths.log}.1`)).toEqual(["one", "two"])
      expect(ns(`${w.paths.json}.1`)).toEqual(["1", "2"])
      expect(linesOf(w.paths.log)).toEqual(["three"])
      expect(ns(w.paths.json)).toEqual(["3"])
    })
  )

  it.scoped("a deleted file is created again", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-writer-")
      const w = yield* makeEvidenceWriter(path.join(dir, "decnet.log"))
      yield* w.write("one", recordOf(1))
      fs.unlinkSync(w.paths.log)
      fs.unlinkSync(w.paths.json)
      yield* TestClock.adjust("1 second")
      yield* w.write("two", recordOf(2))
      expect(linesOf(w.paths.log)).toEqual(["two"])
      expect(ns(w.paths.json)).toEqual(["2"])
    })
  )

  it.scoped("a path that cannot be written fails with EvidenceWriteError naming it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir("decnet-writer-")
      // A regular file where the parent directory should be.
      fs.writeFileSync(path.join(dir, "file"), "")
      const w = yield* makeEvidenceWriter(path.join(dir, "file", "decnet.log"))
      const err = yield* Effect.flip(w.write("x"))
      expect(err._tag).toBe("EvidenceWriteError")
      expect(err.message).toContain(path.join(dir, "file", "decnet.log"))
    })
  )
})
