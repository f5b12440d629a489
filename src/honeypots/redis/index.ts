/**
 * redis honeypot (spec/honeypots.md §19): a Redis server persona on 6379 speaking RESP2. Version,
 * OS, run_id, uptime and a small keyspace come from the decky seed; writes stay in the session.
 * AUTH attempts are captured as credentials; every command is logged (bounded per connection).
 */
import { Effect, ParseResult, Random, Schema } from "effect"
import {
  type Connection,
  type ConnectionError,
  credentialFields,
  defineHoneypot,
  type Emitter,
  HoneypotContext,
  type InstanceSeed,
  serveTcp
} from "../runtime/index.js"
import { type RedisEvent, redisEvents } from "./Events.js"
import { array, bulk, error, globToRegExp, integer, type RespError, readRequest, simple } from "./Resp.js"

const DelayMs = Schema.Int.pipe(Schema.between(0, 10_000))
const DelayRange = Schema.Tuple(DelayMs, DelayMs).pipe(
  Schema.filter(([min, max]) => min <= max || "the minimum delay must not exceed the maximum")
)

/** `[min, max]`, or the catalog form's text `"min,max"`. */
const ReplyDelay = Schema.Union(
  DelayRange,
  Schema.transformOrFail(Schema.String, DelayRange, {
    strict: true,
    decode: (text, _, ast) => {
      const m = /^\s*(\d+)\s*[,-]\s*(\d+)\s*$/.exec(text)
      return m === null
        ? ParseResult.fail(
            new ParseResult.Type(ast, text, `expected "min,max" in milliseconds, got "${text}"`)
          )
        : ParseResult.succeed([Number(m[1]), Number(m[2])] as const)
    },
    encode: ([min, max]) => ParseResult.succeed(`${min},${max}`)
  })
)

export const RedisConfig = Schema.Struct({
  /** requirepass; unset = no auth needed (AUTH then answers Redis's "no password is set" error). */
  password: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  os_string: Schema.optional(Schema.String),
  /** Every reply waits a random [min, max] ms, like a loaded server (spec: 2–40 ms). */
  reply_delay_ms: Schema.optionalWith(ReplyDelay, { default: () => [0, 0] as const })
})
export type RedisConfig = typeof RedisConfig.Type

const VERSIONS: ReadonlyArray<readonly [string, number]> = [
  ["7.2.4", 3],
  ["7.2.5", 3],
  ["7.2.6", 2],
  ["7.2.7", 2],
  ["7.0.14", 2],
  ["7.0.15", 2],
  ["6.2.14", 1],
  ["6.2.16", 1]
]
const KERNELS = [
  "Linux 5.15.0-91-generic x86_64",
  "Linux 6.1.0-18-amd64 x86_64",
  "Linux 5.10.0-28-amd64 x86_64",
  "Linux 6.5.0-1014-aws x86_64"
] as const
const APPS = ["shop", "api", "billing", "auth", "cms"] as const
const ENVS = ["prod", "staging"] as const

const MAX_COMMANDS = 100_000
const MAX_COMMAND_EVENTS = 500

interface Persona {
  readonly version: string
  readonly os: string
  readonly runId: string
  readonly gccVersion: string
  readonly processId: number
  readonly tcpPort: number
  readonly store: ReadonlyMap<string, string>
  readonly usedMemory: number
}

const makePersona = (seed: InstanceSeed, config: RedisConfig, port: number): Persona => {
  const version = config.version ?? seed.pickWeighted(VERSIONS)
  const os = config.os_string ?? seed.pick(KERNELS)
  const store = new Map<string, string>()
  const app = seed.pick(APPS)
  const env = seed.pick(ENVS)
  const sessions = seed.int(3, 14)
  for (let i = 0; i < sessions; i++) {
    const id = seed.hex(8, `redis-session-${i}`)
    store.set(
      `session:${id}`,
      JSON.stringify({
        user_id: seed.int(1000, 99999),
        role: seed.pick(["user", "user", "admin", "support"]),
        csrf: seed.hex(16, `redis-csrf-${i}`),
        exp: 1_900_000_000 + seed.int(0, 9_999_999)
      })
    )
  }
  const feeds = seed.int(2, 6)
  for (let i = 0; i < feeds; i++)
    store.set(
      `cache:${app}:feed:${i}`,
      JSON.stringify({ items: seed.int(5, 50), etag: seed.hex(6, `redis-etag-${i}`) })
    )
  store.set(`stats:${app}:${env}:requests`, String(seed.int(100_000, 9_000_000)))
  return {
    version,
    os,
    runId: seed.hex(20, "redis-run-id"),
    gccVersion: version.startsWith("6") ? "10.2.1" : "12.2.0",
    processId: seed.int(1, 400),
    tcpPort: port,
    store,
    usedMemory: seed.int(900_000, 40_000_000)
  }
}

/** CONFIG GET answers from this table (a subset of a stock redis.conf). */
const configTable = (p: Persona, password: string | undefined): ReadonlyArray<readonly [string, string]> => [
  ["dir", "/var/lib/redis"],
  ["dbfilename", "dump.rdb"],
  ["bind", "* -::*"],
  ["port", String(p.tcpPort)],
  ["protected-mode", "yes"],
  ["requirepass", password ?? ""],
  ["maxmemory", "0"],
  ["maxmemory-policy", "noeviction"],
  ["appendonly", "no"],
  ["save", "3600 1 300 100 60 10000"],
  ["databases", "16"],
  ["timeout", "0"],
  ["tcp-keepalive", "300"],
  ["logfile", "/var/log/redis/redis-server.log"],
  ["loglevel", "notice"],
  ["daemonize", "no"],
  ["supervised", "systemd"]
]

const info = (
  p: Persona,
  seed: InstanceSeed,
  clients: number,
  section: string,
  keys: number
): Effect.Effect<string> =>
  Effect.gen(function* () {
    const uptime = seed.uptimeSeconds()
    // Live-looking counters: re-drawn per call, so two INFOs never match byte for byte.
    const ops = yield* Random.nextIntBetween(0, 40)
    const commands = 1_000_000 + Math.floor(uptime * 3.7) + (yield* Random.nextIntBetween(0, 999))
    const sections: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
      [
        "Server",
        [
          `redis_version:${p.version}`,
          "redis_git_sha1:00000000",
          "redis_git_dirty:0",
          `redis_build_id:${p.runId.slice(0, 16)}`,
          "redis_mode:standalone",
          `os:${p.os}`,
          "arch_bits:64",
          "monotonic_clock:POSIX clock_gettime",
          "multiplexing_api:epoll",
          "atomicvar_api:c11-builtin",
          `gcc_version:${p.gccVersion}`,
          `process_id:${p.processId}`,
          "process_supervised:systemd",
          `run_id:${p.runId}`,
          `tcp_port:${p.tcpPort}`,
          `server_time_usec:${Date.now()}000`,
          `uptime_in_seconds:${uptime}`,
          `uptime_in_days:${Math.floor(uptime / 86400)}`,
          "hz:10",
          "configured_hz:10",
          `lru_clock:${Math.floor(Date.now() / 1000) % 16_777_216}`,
          "executable:/usr/bin/redis-server",
          "config_file:/etc/redis/redis.conf",
          "io_threads_active:0"
        ]
      ],
      [
        "Clients",
        [
          `connected_clients:${clients + 1}`,
          "cluster_connections:0",
          "maxclients:10000",
          "client_recent_max_input_buffer:20480",
          "client_recent_max_output_buffer:0",
          "blocked_clients:0",
          "tracking_clients:0"
        ]
      ],
      [
        "Memory",
        [
          `used_memory:${p.usedMemory}`,
          `used_memory_human:${(p.usedMemory / 1048576).toFixed(2)}M`,
          `used_memory_rss:${p.usedMemory + 4_200_000}`,
          `used_memory_peak:${p.usedMemory + 812_345}`,
          "maxmemory:0",
          "maxmemory_human:0B",
          "maxmemory_policy:noeviction",
          "mem_fragmentation_ratio:1.21",
          "mem_allocator:jemalloc-5.3.0"
        ]
      ],
      [
        "Persistence",
        [
          "loading:0",
          "rdb_changes_since_last_save:0",
          "rdb_bgsave_in_progress:0",
          "rdb_last_bgsave_status:ok",
          "aof_enabled:0"
        ]
      ],
      [
        "Stats",
        [
          `total_connections_received:${1200 + Math.floor(uptime / 97)}`,
          `total_commands_processed:${commands}`,
          `instantaneous_ops_per_sec:${ops}`,
          "rejected_connections:0",
          "expired_keys:0",
          "evicted_keys:0",
          `keyspace_hits:${Math.floor(commands * 0.61)}`,
          `keyspace_misses:${Math.floor(commands * 0.07)}`
        ]
      ],
      [
        "Replication",
        [
          "role:master",
          "connected_slaves:0",
          `master_replid:${p.runId.split("").reverse().join("")}`,
          "master_repl_offset:0"
        ]
      ],
      ["CPU", [`used_cpu_sys:${(uptime / 1800).toFixed(6)}`, `used_cpu_user:${(uptime / 1100).toFixed(6)}`]],
      ["Keyspace", [`db0:keys=${keys},expires=0,avg_ttl=0`]]
    ]
    const wanted = section.toLowerCase()
    const pick =
      wanted === "" || wanted === "default" || wanted === "all" || wanted === "everything"
        ? sections
        : sections.filter(([name]) => name.toLowerCase() === wanted)
    return pick.map(([name, lines]) => `# ${name}\r\n${lines.join("\r\n")}\r\n`).join("\r\n")
  })

/** What one running redis instance shares between its connections (and nothing else does). */
interface Instance {
  readonly seed: InstanceSeed
  readonly config: RedisConfig
  readonly persona: Persona
  /** Open client connections of this instance: INFO's `connected_clients`. */
  clients: number
}

const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<RedisEvent>
): Effect.Effect<void, ConnectionError | RespError> =>
  Effect.gen(function* () {
    const { config, persona } = instance
    const emit = events.emit
    const local = new Map(persona.store)
    let authed = config.password === undefined
    // Without requirepass a client is in at once: the session cap applies, not the login grace.
    if (authed) conn.loggedIn()
    let commandEvents = 0
    let suppressed = 0
    const [minDelay, maxDelay] = config.reply_delay_ms
    instance.clients++
    yield* emit({ _tag: "connect" })
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.sync(() => {
          instance.clients--
        }),
        emit({ _tag: "disconnect", commands_suppressed: suppressed })
      )
    )
    const reply = (data: string | Buffer) =>
      Effect.gen(function* () {
        if (maxDelay > 0)
          yield* Effect.sleep(
            yield* Random.nextIntBetween(Math.max(0, minDelay), Math.max(minDelay, maxDelay) + 1)
          )
        yield* conn.write(data)
      })
    const wrongArgs = (cmd: string) =>
      reply(error(`ERR wrong number of arguments for '${cmd.toLowerCase()}' command`))

    for (let n = 0; n < MAX_COMMANDS; n++) {
      const request = yield* readRequest(conn).pipe(
        Effect.catchTag("RespError", (e) =>
          // Redis answers a protocol error and closes the connection.
          Effect.zipRight(conn.end(`${e.reply}\r\n`), Effect.fail(e))
        )
      )
      if (request.length === 0) continue
      const cmd = request[0]!.toString("latin1").toUpperCase()
      const args = request.slice(1).map((a) => a.toString("utf8"))
      if (commandEvents < MAX_COMMAND_EVENTS) {
        commandEvents++
        // AUTH's arguments are secrets: they reach the log only through the `auth` event.
        const shown = cmd === "AUTH" ? [] : args.slice(0, 8).map((a) => a.slice(0, 256))
        yield* emit({ _tag: "command", cmd: cmd.slice(0, 64), args: shown })
      } else suppressed++

      // As Redis 7's processCommand: an unknown command, then the arity, are answered before NOAUTH.
      const arity = ARITY[cmd.toLowerCase()]
      if (arity === undefined) {
        yield* reply(error(unknownCommand(request[0]!.toString("latin1"), args)))
        continue
      }
      if (arity > 0 ? request.length !== arity : request.length < -arity) {
        yield* wrongArgs(cmd)
        continue
      }

      if (cmd === "AUTH") {
        if (args.length > 2) {
          yield* reply(error("ERR syntax error"))
          continue
        }
        const user = args.length === 2 ? args[0]! : undefined
        const secret = request[request.length - 1]!
        yield* emit({ _tag: "auth", ...credentialFields(user ?? null, secret) })
        if (config.password === undefined) {
          yield* reply(
            error("ERR Client sent AUTH, but no password is set. Did you mean AUTH <username> <password>?")
          )
          continue
        }
        const ok = secret.toString("utf8") === config.password && (user === undefined || user === "default")
        if (ok) {
          authed = true
          conn.loggedIn()
        }
        yield* reply(
          ok ? simple("OK") : error("WRONGPASS invalid username-password pair or user is disabled.")
        )
        continue
      }
      if (cmd === "QUIT") {
        yield* conn.end(simple("OK"))
        return
      }
      if (!authed && cmd !== "HELLO") {
        yield* reply(error("NOAUTH Authentication required."))
        continue
      }
      switch (cmd) {
        case "PING":
          yield* reply(args.length === 0 ? simple("PONG") : bulk(args[0]!))
          break
        case "ECHO":
          yield* args.length === 1 ? reply(bulk(args[0]!)) : wrongArgs(cmd)
          break
        case "HELLO":
          yield* reply(
            error(
              authed
                ? "NOPROTO unsupported protocol version"
                : "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
            )
          )
          break
        case "INFO":
          yield* reply(
            bulk(yield* info(persona, instance.seed, instance.clients - 1, args[0] ?? "", local.size))
          )
          break
        case "CONFIG": {
          const sub = (args[0] ?? "").toUpperCase()
          if (sub === "GET" && args.length >= 2) {
            const out: Array<string> = []
            for (const pattern of args.slice(1, 16)) {
              const re = globToRegExp(pattern)
              for (const [k, v] of configTable(persona, config.password)) if (re.test(k)) out.push(k, v)
            }
            yield* reply(array(out))
          } else if ((sub === "SET" && args.length >= 3) || sub === "RESETSTAT" || sub === "REWRITE")
            yield* reply(simple("OK"))
          else
            yield* reply(
              error(
                `ERR unknown subcommand or wrong number of arguments for '${args[0] ?? ""}'. Try CONFIG HELP.`
              )
            )
          break
        }
        case "KEYS": {
          if (args.length !== 1) {
            yield* wrongArgs(cmd)
            break
          }
          const re = globToRegExp(args[0]!)
          yield* reply(array([...local.keys()].filter((k) => re.test(k))))
          break
        }
        case "SCAN":
          yield* args.length >= 1 ? reply(array([bulk("0"), array([...local.keys()])])) : wrongArgs(cmd)
          break
        case "GET":
          yield* args.length === 1 ? reply(bulk(local.get(args[0]!) ?? null)) : wrongArgs(cmd)
          break
        case "SET":
          if (args.length < 2) yield* wrongArgs(cmd)
          else if (local.size >= 10_000 && !local.has(args[0]!))
            yield* reply(error("OOM command not allowed when used memory > 'maxmemory'."))
          else {
            local.set(args[0]!, args[1]!.slice(0, 64 * 1024))
            yield* reply(simple("OK"))
          }
          break
        case "DEL":
        case "UNLINK":
          if (args.length === 0) yield* wrongArgs(cmd)
          else yield* reply(integer(args.reduce((c, k) => c + (local.delete(k) ? 1 : 0), 0)))
          break
        case "EXISTS":
          yield* args.length === 0 ? wrongArgs(cmd) : reply(integer(args.filter((k) => local.has(k)).length))
          break
        case "TYPE":
          yield* args.length === 1 ? reply(simple(local.has(args[0]!) ? "string" : "none")) : wrongArgs(cmd)
          break
        case "TTL":
        case "PTTL":
          yield* args.length === 1 ? reply(integer(local.has(args[0]!) ? -1 : -2)) : wrongArgs(cmd)
          break
        case "DBSIZE":
          yield* reply(integer(local.size))
          break
        case "COMMAND":
          yield* reply("*0\r\n")
          break
        case "CLIENT":
        case "SELECT":
          yield* reply(simple("OK"))
          break
        case "FLUSHALL":
        case "FLUSHDB":
          local.clear()
          yield* reply(simple("OK"))
          break
        case "SAVE":
        case "BGSAVE":
          yield* reply(simple(cmd === "SAVE" ? "OK" : "Background saving started"))
          break
        case "TIME": {
          const now = Date.now()
          yield* reply(array([String(Math.floor(now / 1000)), String((now % 1000) * 1000)]))
          break
        }
        default:
          yield* reply(error(unknownCommand(request[0]!.toString("latin1"), args)))
      }
    }
    yield* conn.end(error("ERR max number of commands per connection reached"))
  }).pipe(Effect.scoped)

/**
 * Redis 7.0's arity of the commands a scanner or a bot sends (positive: exactly that many words with the
 * command; negative: at least). A command not listed is answered as unknown, as Redis answers one.
 */
const ARITY: Readonly<Record<string, number>> = {
  acl: -2,
  append: 3,
  auth: -2,
  bgrewriteaof: 1,
  bgsave: -1,
  client: -2,
  cluster: -2,
  command: -1,
  config: -2,
  dbsize: 1,
  debug: -2,
  decr: 2,
  decrby: 3,
  del: -2,
  discard: 1,
  dump: 2,
  echo: 2,
  eval: -3,
  evalsha: -3,
  exec: 1,
  exists: -2,
  expire: -3,
  expireat: -3,
  flushall: -1,
  flushdb: -1,
  get: 2,
  getset: 3,
  hdel: -3,
  hello: -1,
  hget: 3,
  hgetall: 2,
  hkeys: 2,
  hset: -4,
  incr: 2,
  incrby: 3,
  info: -1,
  keys: 2,
  lastsave: 1,
  latency: -2,
  llen: 2,
  lpop: -2,
  lpush: -3,
  lrange: 4,
  memory: -2,
  mget: -2,
  migrate: -6,
  module: -2,
  monitor: 1,
  move: 3,
  mset: -3,
  multi: 1,
  object: -2,
  persist: 2,
  pexpire: -3,
  ping: -1,
  psubscribe: -2,
  pttl: 2,
  publish: 3,
  quit: -1,
  randomkey: 1,
  readonly: 1,
  rename: 3,
  replicaof: 3,
  restore: -4,
  role: 1,
  rpop: -2,
  rpush: -3,
  sadd: -3,
  save: 1,
  scan: -2,
  scard: 2,
  select: 2,
  set: -3,
  setex: 4,
  setnx: 3,
  shutdown: -1,
  slaveof: 3,
  slowlog: -2,
  smembers: 2,
  sort: -2,
  srem: -3,
  strlen: 2,
  subscribe: -2,
  swapdb: 3,
  time: 1,
  ttl: 2,
  type: 2,
  unlink: -2,
  wait: 3,
  watch: -2,
  zadd: -4,
  zcard: 2,
  zrange: -4,
  zscore: 3
}

/** Redis 7's text for an unknown command: the name as sent, then up to 128 characters of its arguments. */
const unknownCommand = (name: string, args: ReadonlyArray<string>): string => {
  let tail = ""
  for (const a of args) {
    if (tail.length >= 128) break
    tail += `'${a.slice(0, 128 - tail.length)}' `
  }
  // An error line never carries CR or LF (Redis replaces them with spaces).
  return `ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${tail}`.replace(
    /[\r\n]/g,
    " "
  )
}

export const redisHoneypot = defineHoneypot({
  slug: "redis",
  description: "Redis server persona (RESP2) with a seeded keyspace and AUTH capture",
  ports: { tcp: [6379], udp: [] },
  config: RedisConfig,
  events: redisEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const address = options.address()
      const instance: Instance = {
        seed: ctx.seed,
        config: options.config,
        persona: makePersona(ctx.seed, options.config, address.defaultPort),
        clients: 0
      }
      const listener = yield* serveTcp({
        ...address,
        events: redisEvents,
        handler: (conn, events) =>
          session(instance, conn, events).pipe(
            // A protocol error was already answered and the socket ended: not a harness failure.
            Effect.catchTag("RespError", () => Effect.void)
          )
      })
      return [listener]
    })
})
