/**
 * bcrypt hashing and checking (spec api §4.1: cost 12, off the event loop). A cost-12 hash is ~0.25 s of
 * CPU; on the API's thread even bcryptjs's chunked async form keeps every other request waiting behind
 * it. `PasswordHasher.workers` runs them on worker threads instead (a small pool, one job per worker at
 * a time, the rest queued), so a burst of logins does not stall `/stats`. Without the service
 * (`UserRepo` in the CLI and tests) bcryptjs's async form runs in-thread.
 *
 * The worker pool is a boundary adapter: node's `worker_threads` is a callback/message API.
 */
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import bcrypt from "bcryptjs"
import { Context, Data, Effect, Layer, Redacted } from "effect"

export class PasswordHashError extends Data.TaggedError("PasswordHashError")<{ readonly message: string }> {}

export interface PasswordHasherService {
  readonly hash: (password: Redacted.Redacted, rounds: number) => Effect.Effect<string>
  readonly verify: (password: Redacted.Redacted, hash: string) => Effect.Effect<boolean>
}

/** bcryptjs's async form on this thread (it yields between rounds). */
export const inThreadHasher: PasswordHasherService = {
  hash: (password, rounds) => Effect.promise(() => bcrypt.hash(Redacted.value(password), rounds)),
  verify: (password, hash) => Effect.promise(() => bcrypt.compare(Redacted.value(password), hash))
}

// The worker's whole program: bcryptjs's sync form, one message in, one out. A malformed hash answers
// false (bcryptjs throws on one), as the in-thread compare resolves.
const workerSource = (bcryptPath: string) => `
const { parentPort } = require("node:worker_threads")
const bcrypt = require(${JSON.stringify(bcryptPath)})
parentPort.on("message", (m) => {
  try {
    const result = m.op === "hash" ? bcrypt.hashSync(m.password, m.rounds) : bcrypt.compareSync(m.password, m.hash)
    parentPort.postMessage({ id: m.id, result })
  } catch (e) {
    parentPort.postMessage({ id: m.id, result: m.op === "hash" ? null : false, error: String(e) })
  }
})
`

interface Job {
  readonly id: number
  readonly message: Record<string, unknown>
  readonly resolve: (value: unknown) => void
}

/** A pool of `size` workers; jobs wait in order for a free one. */
const makePool = (size: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const bcryptPath = createRequire(import.meta.url).resolve("bcryptjs")
      const idle: Array<Worker> = []
      const waiting: Array<Job> = []
      const running = new Map<number, (value: unknown) => void>()
      let next = 0
      const dispatch = () => {
        while (idle.length > 0 && waiting.length > 0) {
          const worker = idle.pop()
          const job = waiting.shift()
          if (worker === undefined || job === undefined) return
          running.set(job.id, job.resolve)
          worker.postMessage({ ...job.message, id: job.id })
        }
      }
      const workers = Array.from({ length: size }, () => {
        const worker = new Worker(workerSource(bcryptPath), { eval: true })
        worker.unref()
        worker.on("message", (m: { id: number; result: unknown }) => {
          const resolve = running.get(m.id)
          running.delete(m.id)
          idle.push(worker)
          resolve?.(m.result)
          dispatch()
        })
        idle.push(worker)
        return worker
      })
      const submit = (message: Record<string, unknown>) =>
        Effect.async<unknown>((resume) => {
          const id = next++
          waiting.push({ id, message, resolve: (value) => resume(Effect.succeed(value)) })
          dispatch()
        })
      return { workers, submit }
    }),
    (pool) => Effect.promise(() => Promise.all(pool.workers.map((w) => w.terminate())))
  )

export class PasswordHasher extends Context.Tag("decnet/PasswordHasher")<
  PasswordHasher,
  PasswordHasherService
>() {
  static readonly inThread = Layer.succeed(PasswordHasher, inThreadHasher)

  /** Hash and check on `size` worker threads (default: the CPUs, at most 4). */
  static readonly workers = (size = Math.min(4, Math.max(1, availableParallelism()))) =>
    Layer.scoped(
      PasswordHasher,
      Effect.map(makePool(size), (pool) => ({
        hash: (password: Redacted.Redacted, rounds: number) =>
          Effect.flatMap(pool.submit({ op: "hash", password: Redacted.value(password), rounds }), (r) =>
            typeof r === "string"
              ? Effect.succeed(r)
              : Effect.die(new PasswordHashError({ message: "bcrypt hash failed" }))
          ),
        verify: (password: Redacted.Redacted, hash: string) =>
          Effect.map(
            pool.submit({ op: "verify", password: Redacted.value(password), hash }),
            (r) => r === true
          )
      }))
    )
}
