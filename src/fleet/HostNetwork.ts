/**
 * The host side of the Docker runtime's LAN: iproute2 (`ip`) for the hairpin helper interface that lets the
 * host reach its own macvlan/ipvlan deckies (spec/fleet.md §2). Docker itself is only ever reached through
 * the `Docker` service; `ip` is the one host tool the runtime runs. A tag, so unit tests of the runtime's
 * logic record the commands instead of changing the machine's interfaces.
 */
import { Command, CommandExecutor, FileSystem } from "@effect/platform"
import { Context, Data, Effect, Layer, Ref, Stream } from "effect"

export class HostNetworkError extends Data.TaggedError("HostNetworkError")<{
  readonly args: ReadonlyArray<string>
  /** ip's exit code (-1: it could not be run). */
  readonly code: number
  /** What ip said on stderr, trimmed. */
  readonly stderr: string
}> {
  override get message(): string {
    return `ip ${this.args.join(" ")}: ${this.stderr === "" ? `exit ${this.code}` : this.stderr}`
  }
}

export interface HostNetworkService {
  /** Run `ip <args>`; stdout on success, a HostNetworkError with ip's stderr otherwise. */
  readonly ip: (args: ReadonlyArray<string>) => Effect.Effect<string, HostNetworkError>
  /** Whether this process may change interfaces and routes (root, or CAP_NET_ADMIN). */
  readonly canAdminNetwork: Effect.Effect<boolean>
}

export class HostNetwork extends Context.Tag("decnet/HostNetwork")<HostNetwork, HostNetworkService>() {}

/** CAP_NET_ADMIN's bit in /proc/self/status `CapEff` (linux/capability.h). */
const CAP_NET_ADMIN = 12n

/** True when the effective capability set (hex) has CAP_NET_ADMIN. */
export const hasNetAdmin = (procStatus: string): boolean => {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus)
  if (m === null) return true // not Linux-like: let `ip` itself say no
  return ((BigInt(`0x${m[1] ?? "0"}`) >> CAP_NET_ADMIN) & 1n) === 1n
}

const collect = (s: Stream.Stream<Uint8Array, unknown>) =>
  s.pipe(
    Stream.decodeText(),
    Stream.runFold("", (acc, t) => (acc.length > 64 * 1024 ? acc : acc + t)),
    Effect.orElseSucceed(() => "")
  )

export const HostNetworkLive = Layer.effect(
  HostNetwork,
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const executor = yield* CommandExecutor.CommandExecutor
    const ip = (args: ReadonlyArray<string>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const proc = yield* Command.start(Command.make("ip", ...args))
          const [out, err] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr)], {
            concurrency: 2
          })
          const code = Number(yield* proc.exitCode)
          if (code !== 0) return yield* new HostNetworkError({ args, code, stderr: err.trim() })
          return out
        })
      ).pipe(
        Effect.catchTags({
          SystemError: (e) =>
            Effect.fail(
              new HostNetworkError({
                args,
                code: -1,
                stderr: e.reason === "NotFound" ? "iproute2 (`ip`) is not installed" : e.message
              })
            ),
          BadArgument: (e) => Effect.fail(new HostNetworkError({ args, code: -1, stderr: e.message }))
        }),
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.withSpan("HostNetwork.ip", { attributes: { args: args.join(" ") } })
      )
    const canAdminNetwork = fs.readFileString("/proc/self/status").pipe(
      Effect.map(hasNetAdmin),
      Effect.orElseSucceed(() => true)
    )
    return { ip, canAdminNetwork } satisfies HostNetworkService
  })
)

/** A recording fake for unit tests: answers from `respond` (default: empty output), keeps every call. */
export const HostNetworkRecorder = (
  respond: (args: ReadonlyArray<string>) => Effect.Effect<string, HostNetworkError> = () =>
    Effect.succeed(""),
  canAdmin = true
) =>
  Effect.map(Ref.make<ReadonlyArray<ReadonlyArray<string>>>([]), (calls) => ({
    calls: Ref.get(calls),
    service: {
      ip: (args: ReadonlyArray<string>) =>
        Effect.zipRight(
          Ref.update(calls, (c) => [...c, args]),
          respond(args)
        ),
      canAdminNetwork: Effect.succeed(canAdmin)
    } satisfies HostNetworkService
  }))
