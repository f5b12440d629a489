/**
 * Prints plain closing lines after vitest's own summary, so CI logs state the outcome in a runner-neutral
 * form: `Tests: N passed, N failed, N skipped`, then one line per real-component tag (`[mariadb]`,
 * `[docker]`, … opening a suite or test name), which shows that those suites ran rather than skipped.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest"

type Counts = { passed: number; failed: number; skipped: number }

const empty = (): Counts => ({ passed: 0, failed: 0, skipped: 0 })
const TAG = /^\[([a-z0-9-]+)\]/g

const walk = (
  task: RunnerTask,
  counts: Counts,
  tagged: Map<string, Counts>,
  tags: ReadonlySet<string>
): void => {
  const here = new Set(tags)
  for (const m of task.name.matchAll(TAG)) if (m[1] !== undefined) here.add(m[1])
  if (task.type === "suite") {
    for (const child of task.tasks) walk(child, counts, tagged, here)
    return
  }
  const state = task.result?.state
  const key: keyof Counts =
    task.mode === "skip" || task.mode === "todo"
      ? "skipped"
      : state === "pass"
        ? "passed"
        : state === "fail"
          ? "failed"
          : "skipped"
  counts[key]++
  for (const tag of here) {
    const c = tagged.get(tag) ?? empty()
    c[key]++
    tagged.set(tag, c)
  }
}

const line = (c: Counts) => `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`

export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<RunnerTestFile> = [], errors: ReadonlyArray<unknown> = []): void {
    const counts = empty()
    const tagged = new Map<string, Counts>()
    for (const file of files) {
      if (file.result?.state === "fail" && file.tasks.length === 0) counts.failed++
      for (const task of file.tasks) walk(task, counts, tagged, new Set())
    }
    counts.failed += errors.length
    let out = `\nTests: ${line(counts)}\n`
    for (const [tag, c] of [...tagged].sort(([a], [b]) => a.localeCompare(b)))
      out += `  [${tag}] ${line(c)}\n`
    process.stdout.write(out)
  }
}
