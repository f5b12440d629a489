// One queue consumer in a process of its own, for the cross-process claim test (repo.test.ts):
// `node --import tsx test/topology/claimer.ts <sqlite|mysql> <file-or-url> <topology-id>`.
// Connects, prints "ready", waits for "go" on stdin (so every claimer starts at once), then claims and marks
// applied until the queue is empty, printing each id it won on a line of its own, and "done" last.
// With a fourth argument `crash` (reconciler.test.ts) it claims one row, prints its id and hangs without
// marking it, for the parent to SIGKILL: a claimer dying mid-op.
import { Effect, Layer, Option, Redacted } from "effect"
import { MysqlLive, SqliteLive } from "../../src/db/index.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"

const [kind, target, topologyId, mode] = process.argv.slice(2)
if (target === undefined || topologyId === undefined || (kind !== "sqlite" && kind !== "mysql")) {
  process.stderr.write("usage: claimer.ts <sqlite|mysql> <file-or-url> <topology-id>\n")
  process.exit(2)
}

const db = kind === "sqlite" ? SqliteLive(target) : MysqlLive(Redacted.make(target))

const drain = Effect.gen(function* () {
  const repo = yield* TopologyRepo
  process.stdout.write("ready\n")
  yield* Effect.async<void>((resume) => {
    process.stdin.once("data", () => resume(Effect.void))
  })
  if (mode === "crash") {
    const claimed = yield* repo.claimNextMutation(topologyId)
    process.stdout.write(`${Option.isSome(claimed) ? claimed.value.id : "none"}\n`)
    return yield* Effect.never
  }
  for (;;) {
    const claimed = yield* repo.claimNextMutation(topologyId)
    if (Option.isNone(claimed)) break
    process.stdout.write(`${claimed.value.id}\n`)
    yield* repo.markApplied(claimed.value.id)
  }
  process.stdout.write("done\n")
})

Effect.runPromise(Effect.provide(drain, TopologyRepo.Default.pipe(Layer.provide(db)))).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`)
    process.exit(1)
  }
)
