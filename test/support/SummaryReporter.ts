/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after vitest's own summary,
 * so CI logs state the outcome in a runner-neutral form.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest"

type Counts = { passed: number; failed: number; skipped: number }

const walk = (task: RunnerTask, counts: Counts): void => {
  if (task.type === "suite") {
    for (const child of task.tasks) walk(child, counts)
    return
  }
  const state = task.result?.state
  if (task.mode === "skip" || task.mode === "todo") counts.skipped++
  else if (state === "pass") counts.passed++
  else if (state === "fail") counts.failed++
  else counts.skipped++
}

export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<RunnerTestFile> = [], errors: ReadonlyArray<unknown> = []): void {
    const counts: Counts = { passed: 0, failed: 0, skipped: 0 }
    for (const file of files) {
      if (file.result?.state === "fail" && file.tasks.length === 0) counts.failed++
      for (const task of file.tasks) walk(task, counts)
    }
    counts.failed += errors.length
    process.stdout.write(`\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`)
  }
}
