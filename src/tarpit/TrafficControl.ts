/**
 * The tarpit's `tc` (iproute2), and the only place DECNET shapes traffic. It works inside a decky's own
 * network namespace (`nsenter --net=/proc/<pid>/ns/net`, the host's `tc` and `ip`), on every ethernet
 * interface there: bridge veths, macvlan and ipvlan children, each LAN of a multi-homed MazeNET decky.
 * On each it puts an HTB root whose default class passes traffic through, and one class whose netem leaf
 * delays what a u32 filter sends it: packets leaving the decky from a tarpitted port (IPv4 and IPv6),
 * i.e. the decky's replies — SYN-ACKs included, so a connection is slow from its first packet.
 * docs/api.md "Tarpit" says why it is built this way. A tag, so tests can read what ran.
 */
import { CommandExecutor } from "@effect/platform"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { runArgv } from "../topology/TopologyHost.js"

export class TarpitCommandFailed extends Schema.TaggedError<TarpitCommandFailed>()("TarpitCommandFailed", {
  /** The command (or the `tc -batch` line) that failed. */
  command: Schema.String,
  /** What it said on stderr, trimmed, or why it could not run. */
  stderr: Schema.String
}) {
  override get message(): string {
    return `${this.command}: ${this.stderr === "" ? "failed" : this.stderr}`
  }
}

// ---- the plan ---------------------------------------------------------------------------------------------

/** The handle of the tarpit's root qdisc: how it is told from any other (0xdec1). */
export const TARPIT_HANDLE = "dec1:"
/** HTB's classes: `dec1:1` everything else (the default), `dec1:2` the delayed replies. */
const PASS_CLASS = "dec1:1"
const DELAY_CLASS = "dec1:2"
/** Above any veth's speed: the classes shape nothing, only netem delays. */
const RATE = "10gbit"
/** HTB's default quantum at 10gbit (rate/r2q) would be 125 MB and logged as "quantum is big". */
const QUANTUM = "60000"
/** Packets netem holds while it delays them (its default 1000 is a few seconds of a busy scan). */
const NETEM_LIMIT = 10_000

/** The `tc -batch` lines that put the tarpit on `iface` (which has no root qdisc of its own). */
export const tarpitLines = (
  iface: string,
  ports: ReadonlyArray<number>,
  delayMs: number
): ReadonlyArray<string> => [
  `qdisc add dev ${iface} root handle ${TARPIT_HANDLE} htb default 1`,
  `class add dev ${iface} parent ${TARPIT_HANDLE} classid ${PASS_CLASS} htb rate ${RATE} quantum ${QUANTUM}`,
  `class add dev ${iface} parent ${TARPIT_HANDLE} classid ${DELAY_CLASS} htb rate ${RATE} quantum ${QUANTUM}`,
  // An explicit leaf: a container's veth has txqueuelen 0, and a default pfifo would take that as its limit.
  `qdisc add dev ${iface} parent ${PASS_CLASS} handle dec3: pfifo limit 1000`,
  `qdisc add dev ${iface} parent ${DELAY_CLASS} handle dec2: netem delay ${delayMs}ms limit ${NETEM_LIMIT}`,
  ...ports.flatMap((port) => [
    `filter add dev ${iface} parent ${TARPIT_HANDLE} protocol ip prio 1 u32 match ip sport ${port} 0xffff flowid ${DELAY_CLASS}`,
    `filter add dev ${iface} parent ${TARPIT_HANDLE} protocol ipv6 prio 2 u32 match ip6 sport ${port} 0xffff flowid ${DELAY_CLASS}`
  ])
]

/** Deleting the root takes its classes, leaves and filters with it; the device falls back to its default. */
export const removeLine = (iface: string): string => `qdisc del dev ${iface} root`

const Links = Schema.parseJson(
  Schema.Array(Schema.Struct({ ifname: Schema.String, link_type: Schema.optional(Schema.String) }))
)
const Qdiscs = Schema.parseJson(
  Schema.Array(
    Schema.Struct({
      kind: Schema.String,
      handle: Schema.String,
      dev: Schema.optional(Schema.String),
      root: Schema.optional(Schema.Boolean)
    })
  )
)
const decodeLinks = Schema.decodeUnknownOption(Links)
const decodeQdiscs = Schema.decodeUnknownOption(Qdiscs)

/** The namespace's ethernet interfaces (not `lo`, not the kernel's idle tunnel devices) from `ip -j link`. */
export const etherInterfaces = (json: string): ReadonlyArray<string> =>
  Option.match(decodeLinks(json === "" ? "[]" : json), {
    onNone: () => [],
    onSome: (links) => links.filter((l) => l.link_type === "ether").map((l) => l.ifname)
  })

/** Interfaces whose root qdisc is the tarpit's, from `tc -j qdisc show`. */
export const tarpittedInterfaces = (json: string): ReadonlyArray<string> =>
  Option.match(decodeQdiscs(json === "" ? "[]" : json), {
    onNone: () => [],
    onSome: (qdiscs) =>
      qdiscs.flatMap((q) =>
        q.root === true && q.kind === "htb" && q.handle === TARPIT_HANDLE && q.dev !== undefined
          ? [q.dev]
          : []
      )
  })

/** `Error: Specified qdisc kind is unknown.` on the netem line: the kernel was built without it. */
const hint = (line: string, stderr: string): string =>
  / netem /.test(line) && /qdisc kind is unknown/i.test(stderr)
    ? `${stderr} (this kernel has no netem qdisc: it needs CONFIG_NET_SCH_NETEM, \`modprobe sch_netem\`)`
    : stderr

// ---- the service ------------------------------------------------------------------------------------------

/** Which ethernet interfaces of a namespace carry the tarpit. */
export interface Shaping {
  readonly shaped: ReadonlyArray<string>
  readonly unshaped: ReadonlyArray<string>
}

export interface TrafficControlService {
  /**
   * Delay replies from `ports` by `delayMs` on every ethernet interface of the namespace of `pid`,
   * replacing a tarpit already there. A failure removes what it put. Returns the interfaces.
   */
  readonly apply: (
    pid: number,
    ports: ReadonlyArray<number>,
    delayMs: number
  ) => Effect.Effect<ReadonlyArray<string>, TarpitCommandFailed>
  /** Remove the tarpit from the namespace of `pid`; returns the interfaces it was on (none: nothing to do). */
  readonly remove: (pid: number) => Effect.Effect<ReadonlyArray<string>, TarpitCommandFailed>
  /** Which interfaces carry it now (an interface attached later, or a recreated container, does not). */
  readonly inspect: (pid: number) => Effect.Effect<Shaping, TarpitCommandFailed>
}

export class TrafficControl extends Context.Tag("decnet/TrafficControl")<
  TrafficControl,
  TrafficControlService
>() {}

/** The argv that runs `argv` in the network namespace of `pid` (only the net namespace: host binaries). */
export const inNetns = (pid: number, argv: ReadonlyArray<string>): ReadonlyArray<string> => [
  "nsenter",
  `--net=/proc/${pid}/ns/net`,
  ...argv
]

export const TrafficControlLive = Layer.effect(
  TrafficControl,
  Effect.gen(function* () {
    const executor = yield* CommandExecutor.CommandExecutor

    /** Run `argv` in the namespace; stdout on success, its stderr (or why it could not run) otherwise. */
    const run = (pid: number, argv: ReadonlyArray<string>, input?: string) => {
      const full = inNetns(pid, argv)
      return runArgv(full, input).pipe(
        Effect.mapError((e) => ({ stderr: e.stderr === "" ? `exit ${e.code}` : e.stderr })),
        Effect.timeoutFail({
          duration: "30 seconds",
          onTimeout: () => ({ stderr: "no answer within 30 s" })
        }),
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.withSpan("TrafficControl.run", { attributes: { argv: full.join(" ") } })
      )
    }

    const failed = (argv: ReadonlyArray<string>) => (e: { readonly stderr: string }) =>
      new TarpitCommandFailed({ command: argv.join(" "), stderr: e.stderr })

    const read = (pid: number, argv: ReadonlyArray<string>) =>
      run(pid, argv).pipe(Effect.mapError(failed(argv)))

    /** `tc -batch -`: one process for every line; the failure names the line `tc` stopped at. */
    const batch = (pid: number, lines: ReadonlyArray<string>) =>
      run(pid, ["tc", "-batch", "-"], `${lines.join("\n")}\n`).pipe(
        Effect.asVoid,
        Effect.mapError((e) => {
          const at = /Command failed -:(\d+)/.exec(e.stderr)
          const line = at?.[1] === undefined ? undefined : lines[Number(at[1]) - 1]
          const stderr = e.stderr
            .split("\n")
            .filter((l) => !l.startsWith("Command failed"))
            .join(" ")
            .trim()
          return line === undefined
            ? new TarpitCommandFailed({ command: "tc -batch", stderr: e.stderr })
            : new TarpitCommandFailed({ command: `tc ${line}`, stderr: hint(line, stderr) })
        })
      )

    const links = (pid: number) => Effect.map(read(pid, ["ip", "-j", "link", "show"]), etherInterfaces)
    const tarpitted = (pid: number) =>
      Effect.map(read(pid, ["tc", "-j", "qdisc", "show"]), tarpittedInterfaces)

    const remove = (pid: number) =>
      Effect.gen(function* () {
        const on = yield* tarpitted(pid)
        if (on.length > 0) yield* batch(pid, on.map(removeLine))
        return on
      }).pipe(Effect.withSpan("TrafficControl.remove", { attributes: { pid } }))

    const apply = (pid: number, ports: ReadonlyArray<number>, delayMs: number) =>
      Effect.gen(function* () {
        const ifaces = yield* links(pid)
        if (ifaces.length === 0)
          return yield* new TarpitCommandFailed({
            command: "ip -j link show",
            stderr: "the decky's network namespace has no ethernet interface"
          })
        const present = new Set(yield* tarpitted(pid))
        const lines = ifaces.flatMap((iface) => [
          ...(present.has(iface) ? [removeLine(iface)] : []),
          ...tarpitLines(iface, ports, delayMs)
        ])
        // Half a tarpit is worse than none: what this call put goes again.
        yield* batch(pid, lines).pipe(Effect.tapError(() => Effect.ignore(remove(pid))))
        return ifaces
      }).pipe(
        Effect.withSpan("TrafficControl.apply", { attributes: { pid, ports: ports.join(","), delayMs } })
      )

    const inspect = (pid: number) =>
      Effect.gen(function* () {
        const ifaces = yield* links(pid)
        const on = new Set(yield* tarpitted(pid))
        return {
          shaped: ifaces.filter((i) => on.has(i)),
          unshaped: ifaces.filter((i) => !on.has(i))
        } satisfies Shaping
      })

    return { apply, remove, inspect } satisfies TrafficControlService
  })
)
