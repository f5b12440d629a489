// A deploy or teardown in a process of its own that never finishes, for the interrupted-operation tests
// (recovery.test.ts, test/cli/*): `node --import tsx test/topology/deployer.ts <sqlite|mysql> <file-or-url>
// <topology-id> <deploy|teardown> <owner name> <docker|in-process>`. It runs the real deployTopology or
// teardownTopology, named as `<owner name>` on a runtime of that kind whose deploy and teardown hang, prints
// "started" once the runtime was called (the status and its owner are written by then) and waits, for the
// parent to SIGKILL it, or to leave it running (an owner that is still alive).
import { Effect, Layer, Redacted } from "effect"
import { MysqlLive, SqliteLive } from "../../src/db/index.js"
import { deployTopology, teardownTopology } from "../../src/topology/Deploy.js"
import { OperationOwnerName } from "../../src/topology/Owner.js"
import { TopologyRuntime, type TopologyRuntimeService } from "../../src/topology/Runtime.js"
import { TopologyRepo } from "../../src/topology/TopologyRepo.js"
import { makeRecorderRuntime } from "./recorder.js"

const [kind, target, topologyId, operation, owner, runtimeKind] = process.argv.slice(2)
if (
  target === undefined ||
  topologyId === undefined ||
  owner === undefined ||
  (kind !== "sqlite" && kind !== "mysql") ||
  (operation !== "deploy" && operation !== "teardown") ||
  (runtimeKind !== "docker" && runtimeKind !== "in-process")
) {
  process.stderr.write(
    "usage: deployer.ts <sqlite|mysql> <file-or-url> <topology-id> <deploy|teardown> <owner> <docker|in-process>\n"
  )
  process.exit(2)
}

const db = kind === "sqlite" ? SqliteLive(target) : MysqlLive(Redacted.make(target))

const hang = Effect.zipRight(
  Effect.sync(() => process.stdout.write("started\n")),
  Effect.never
)

const program = Effect.gen(function* () {
  const recorder = yield* makeRecorderRuntime()
  const runtime: TopologyRuntimeService = {
    ...recorder.service,
    kind: runtimeKind === "docker" ? "docker" : "in-process",
    deploy: () => hang,
    teardown: () => hang
  }
  const run =
    operation === "deploy" ? Effect.asVoid(deployTopology(topologyId)) : teardownTopology(topologyId)
  yield* run.pipe(
    Effect.provideService(TopologyRuntime, runtime),
    Effect.provideService(OperationOwnerName, owner)
  )
})

Effect.runPromise(Effect.provide(program, TopologyRepo.Default.pipe(Layer.provide(db)))).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`)
    process.exit(1)
  }
)
