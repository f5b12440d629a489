/**
 * An ssh2 channel's input as Effect: chunks in order, with backpressure. Past `highWater` buffered
 * bytes the channel is paused, so ssh2 stops extending the client's SSH window and the client waits.
 */
import { Effect, type Scope } from "effect"
import type ssh2 from "ssh2"

export interface ChannelInput {
  /** The next chunk, or undefined once the channel has ended (or the connection went). */
  readonly next: Effect.Effect<Buffer | undefined>
}

export const channelInput = (
  stream: ssh2.ServerChannel,
  highWater: number
): Effect.Effect<ChannelInput, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const chunks: Array<Buffer> = []
      let buffered = 0
      let ended = false
      let wake: (() => void) | undefined
      const notify = () => {
        const w = wake
        wake = undefined
        w?.()
      }
      const onData = (data: Buffer) => {
        chunks.push(data)
        buffered += data.length
        if (buffered > highWater) stream.pause()
        notify()
      }
      const onEnd = () => {
        ended = true
        notify()
      }
      stream.on("data", onData)
      stream.on("end", onEnd)
      stream.on("close", onEnd)
      const next: Effect.Effect<Buffer | undefined> = Effect.suspend(() => {
        const take = (): Buffer | undefined => {
          const c = chunks.shift()
          if (c === undefined) return undefined
          buffered -= c.length
          if (buffered <= highWater / 2 && stream.isPaused()) stream.resume()
          return c
        }
        if (chunks.length > 0 || ended) return Effect.succeed(take())
        return Effect.async<Buffer | undefined>((resume) => {
          wake = () => resume(Effect.sync(take))
          return Effect.sync(() => {
            wake = undefined
          })
        })
      })
      const detach = () => {
        stream.off("data", onData)
        stream.off("end", onEnd)
        stream.off("close", onEnd)
      }
      return { next, detach }
    }),
    ({ detach }) => Effect.sync(detach)
  ).pipe(Effect.map(({ next }) => ({ next })))
