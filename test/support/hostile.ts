/**
 * Clients for the hostile-client tests: sockets that record when the server closes them, and helpers
 * that advance TestClock in steps while real socket events land in between (the runtime's deadlines
 * run on Effect's Clock; the sockets run on real time).
 */
import * as net from "node:net"
import { type Duration, Effect, type Scope, TestClock } from "effect"

export const realSleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

export interface Client {
  readonly socket: net.Socket
  readonly closed: () => boolean
  readonly received: () => number
  readonly text: () => string
}

/**
 * A client socket, released with the test's scope. `read: false` never reads: the client pauses, so
 * its receive window fills and the server's replies back up.
 */
export const connect = (
  port: number,
  options: { readonly read?: boolean; readonly host?: string } = {}
): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<Client>((resolve) => {
          const socket = net.connect(port, options.host ?? "127.0.0.1")
          let closed = false
          let received = 0
          let text = ""
          socket.on("error", () => {})
          socket.on("close", () => {
            closed = true
          })
          if (options.read ?? true)
            socket.on("data", (d: Buffer) => {
              received += d.length
              if (text.length < 1 << 20) text += d.toString("latin1")
            })
          else socket.pause()
          socket.once("connect", () =>
            resolve({ socket, closed: () => closed, received: () => received, text: () => text })
          )
        })
    ),
    (c) => Effect.sync(() => c.socket.destroy())
  )

/** Advance TestClock by `step` until `done` holds (at most `maxSteps` times). */
export const advanceUntil = (step: Duration.DurationInput, done: () => boolean, maxSteps = 40) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxSteps && !done(); i++) {
      yield* TestClock.adjust(step)
      yield* realSleep(30)
    }
  })

/** Wait in real time (bounded) until `done` holds. */
export const waitReal = (done: () => boolean, ms = 5000) =>
  Effect.gen(function* () {
    for (let i = 0; i < ms / 20 && !done(); i++) yield* realSleep(20)
  })

/** Send `byte` every `every` of TestClock time until the server closes the client (or `maxBytes`). */
export const trickle = (client: Client, byte: string, every: Duration.DurationInput, maxBytes = 60) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxBytes && !client.closed(); i++) {
      client.socket.write(byte)
      yield* realSleep(15)
      yield* TestClock.adjust(every)
      yield* realSleep(15)
    }
    yield* waitReal(client.closed, 1000)
  })
