/**
 * The host side of the Docker topology runtime: `iptables` for the DOCKER-USER accept rules that let an L3
 * forwarding decky route between the topology's bridges, and `ip` run inside a decky's network namespace
 * (`nsenter --net=/proc/<pid>/ns/net`) for the routes through those forwarders. The decky image has no
 * iproute2, so routes are set from the engine's host, as root (the fleet's macvlan helper needs the same).
 * A tag, so unit tests record the commands instead of changing the machine's firewall.
 */
import { Command, CommandExecutor } from "@effect/platform"
import { Context, Data, Effect, Layer, Ref, Stream } from "effect"

export class TopologyHostError extends Data.TaggedError("TopologyHostError")<{
  /** The program and its arguments, as run. */
  readonly argv: ReadonlyArray<string>
  /** The exit code (-1: it could not be run). */
  readonly code: number
  /** What the program said on stderr, trimmed. */
  readonly stderr: string
}> {
  override get message(): string {
    return `${this.argv.join(" ")}: ${this.stderr === "" ? `exit ${this.code}` : this.stderr}`
  }
}

export interface TopologyHostService {
  /** `iptables -w <args>` (waits for the xtables lock dockerd also takes); stdout on success. */
  readonly iptables: (args: ReadonlyArray<string>) => Effect.Effect<string, TopologyHostError>
  /** `ip <args>` inside the network namespace of process `pid` (a container's init); stdout on success. */
  readonly ipInNetns: (pid: number, args: ReadonlyArray<string>) => Effect.Effect<string, TopologyHostError>
}

export class TopologyHost extends Context.Tag("decnet/TopologyHost")<TopologyHost, TopologyHostService>() {}

/** The argv of `ipInNetns`: nsenter joins only the net namespace, so the host's own `ip` binary runs. */
export const netnsArgv = (pid: number, args: ReadonlyArray<string>): ReadonlyArray<string> => [
  "nsenter",
  `--net=/proc/${pid}/ns/net`,
  "ip",
  ...args
]

const OUTPUT_LIMIT = 256 * 1024

const collect = (s: Stream.Stream<Uint8Array, unknown>) =>
  s.pipe(
    Stream.decodeText(),
    Stream.runFold("", (acc, t) => (acc.length > OUTPUT_LIMIT ? acc : acc + t)),
    Effect.orElseSucceed(() => "")
  )

/**
 * Run `argv` (with `input` on its stdin, when given) to its end: stdout on success; its exit code and
 * stderr, trimmed, otherwise (-1 when it could not be run). Output beyond 256 KiB is dropped. The tarpit's
 * `tc` runs through here too.
 */
export const runArgv = (
  argv: ReadonlyArray<string>,
  input?: string
): Effect.Effect<string, TopologyHostError, CommandExecutor.CommandExecutor> => {
  const [file = "", ...args] = argv
  const command = Command.make(file, ...args)
  return Effect.scoped(
    Effect.gen(function* () {
      const proc = yield* Command.start(input === undefined ? command : Command.feed(command, input))
      const [out, err] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr)], {
        concurrency: 2
      })
      const code = Number(yield* proc.exitCode)
      if (code !== 0) return yield* new TopologyHostError({ argv, code, stderr: err.trim() })
      return out
    })
  ).pipe(
    Effect.catchTags({
      SystemError: (e) =>
        Effect.fail(
          new TopologyHostError({
            argv,
            code: -1,
            stderr: e.reason === "NotFound" ? `${file} is not installed` : e.message
          })
        ),
      BadArgument: (e) => Effect.fail(new TopologyHostError({ argv, code: -1, stderr: e.message }))
    })
  )
}

export const TopologyHostLive = Layer.effect(
  TopologyHost,
  Effect.gen(function* () {
    const executor = yield* CommandExecutor.CommandExecutor
    const run = (argv: ReadonlyArray<string>) =>
      runArgv(argv).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.withSpan("TopologyHost.run", { attributes: { argv: argv.join(" ") } })
      )
    return {
      iptables: (args) => run(["iptables", "-w", ...args]),
      ipInNetns: (pid, args) => run(netnsArgv(pid, args))
    } satisfies TopologyHostService
  })
)

/** A recording fake for unit tests: answers from `respond` (default: empty output), keeps every argv. */
export const TopologyHostRecorder = (
  respond: (argv: ReadonlyArray<string>) => Effect.Effect<string, TopologyHostError> = () =>
    Effect.succeed("")
) =>
  Effect.map(Ref.make<ReadonlyArray<ReadonlyArray<string>>>([]), (calls) => {
    const record = (argv: ReadonlyArray<string>) =>
      Effect.zipRight(
        Ref.update(calls, (c) => [...c, argv]),
        respond(argv)
      )
    return {
      calls: Ref.get(calls),
      service: {
        iptables: (args) => record(["iptables", "-w", ...args]),
        ipInNetns: (pid, args) => record(netnsArgv(pid, args))
      } satisfies TopologyHostService
    }
  })
