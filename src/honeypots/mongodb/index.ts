/**
 * mongodb (spec/honeypots.md §18): a MongoDB server as an unauthenticated client sees it. OP_MSG and
 * legacy OP_QUERY are decoded (from 5.1 on, OP_QUERY only for hello/isMaster, as mongod); hello/isMaster,
 * buildInfo, serverStatus and listDatabases answer with a seeded release, as an auth-less mongod does;
 * an HTTP GET gets mongod's "native driver port" page; SCRAM (saslStart/saslContinue, also speculative) is played far enough to capture the
 * client proof with everything needed to test a password against it, then "Authentication failed.".
 */
import { randomBytes } from "node:crypto"
import { Clock, Effect, Either, Schema } from "effect"
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
import {
  BsonBinary,
  type BsonDocument,
  BsonDouble,
  type BsonValue,
  decodeDocument,
  doc,
  encodeDocument
} from "./Bson.js"
import { type MongodbEvent, mongodbEvents } from "./Events.js"

export const MongodbConfig = Schema.Struct({
  /** Replica set name (env MONGO_REPL_SET); empty = standalone. */
  repl_set: Schema.optionalWith(Schema.String, { default: () => "" })
})
export type MongodbConfig = typeof MongodbConfig.Type

/** Seeded releases (spec §18): [version, maxWireVersion]. */
const RELEASES: readonly [readonly [string, number], ...Array<readonly [string, number]>] = [
  ["4.4.22", 9],
  ["5.0.25", 13],
  ["6.0.5", 17],
  ["6.0.14", 17],
  ["7.0.5", 21],
  ["7.0.8", 21],
  ["7.0.11", 21]
]

// Wire protocol opcodes (MongoDB "Legacy Opcodes" / OP_MSG).
const OP_REPLY = 1
const OP_QUERY = 2004
const OP_MSG = 2013
const MIN_MESSAGE = 16
const MAX_MESSAGE = 48_000_000
/** A client's pre-auth conversation is a handful of commands; a monitor pings every 10 s. */
const MAX_MESSAGES = 256

export interface Persona {
  readonly version: string
  readonly maxWireVersion: number
  /** The host:port serverStatus reports (mongod's own hostname and port). */
  readonly host: string
  readonly pid: number
  readonly gitVersion: string
  readonly replSet: string
  readonly databases: ReadonlyArray<readonly [string, number]>
}

interface Command {
  readonly name: string
  readonly body: BsonDocument
}

/** The command document of an OP_MSG (section kind 0) or OP_QUERY (`<db>.$cmd`) body. */
export const commandOf = (opcode: number, body: Buffer): Command | undefined => {
  let docAt = -1
  if (opcode === OP_MSG) {
    if (body.length < 5) return undefined
    // Sections: kind 0 = one document; kind 1 = a document sequence (size-prefixed, skipped).
    let p = 4
    while (p < body.length && docAt < 0) {
      const kind = body[p]!
      if (kind === 0) docAt = p + 1
      else if (kind === 1 && p + 5 <= body.length) p += 1 + Math.max(4, body.readInt32LE(p + 1))
      else return undefined
    }
  } else if (opcode === OP_QUERY) {
    const nul = body.indexOf(0, 4)
    if (nul < 0) return undefined
    docAt = nul + 1 + 8
  } else return undefined
  if (docAt < 0 || docAt >= body.length) return undefined
  const decoded = decodeDocument(body, docAt)
  if (Either.isLeft(decoded)) return undefined
  const first = decoded.right[0].keys().next()
  return first.done === true ? undefined : { name: first.value, body: decoded.right[0] }
}

const str = (v: BsonValue | undefined): string => (typeof v === "string" ? v : "")

const helloDoc = (
  p: Persona,
  cmd: BsonDocument,
  connectionId: number,
  extra: ReadonlyArray<readonly [string, BsonValue]>
) =>
  doc([
    ...(cmd.has("hello") ? [["isWritablePrimary", true] as const] : [["ismaster", true] as const]),
    ["helloOk", true],
    ["topologyVersion", doc([["counter", 0n]])],
    ...(p.replSet === "" ? [] : [["setName", p.replSet] as const, ["setVersion", 1] as const]),
    ["maxBsonObjectSize", 16777216],
    ["maxMessageSizeBytes", 48000000],
    ["maxWriteBatchSize", 100000],
    ["localTime", new Date()],
    ["logicalSessionTimeoutMinutes", 30],
    ["connectionId", connectionId],
    ["minWireVersion", 0],
    ["maxWireVersion", p.maxWireVersion],
    ["readOnly", false],
    ...(typeof cmd.get("saslSupportedMechs") === "string"
      ? [["saslSupportedMechs", ["SCRAM-SHA-1", "SCRAM-SHA-256"]] as const]
      : []),
    ...extra,
    ["ok", new BsonDouble(1)]
  ])

/**
 * What a release's official Linux build reports: Ubuntu 22.04 packages (OpenSSL 3) exist from 6.0.4 on,
 * so 4.4 and 5.0 are the Ubuntu 20.04 builds (OpenSSL 1.1.1f); biggie left after 4.4, ephemeralForTest
 * after 6.0.
 */
const buildOf = (p: Persona) => {
  const [major = 0] = p.version.split(".").map(Number)
  return major >= 6
    ? {
        distmod: "ubuntu2204",
        openssl: "OpenSSL 3.0.2 15 Mar 2022",
        storageEngines: major >= 7 ? ["devnull", "wiredTiger"] : ["devnull", "ephemeralForTest", "wiredTiger"]
      }
    : {
        distmod: "ubuntu2004",
        openssl: "OpenSSL 1.1.1f  31 Mar 2020",
        storageEngines:
          major === 4
            ? ["biggie", "devnull", "ephemeralForTest", "wiredTiger"]
            : ["devnull", "ephemeralForTest", "wiredTiger"]
      }
}

const buildInfo = (p: Persona) => {
  const parts = p.version.split(".").map(Number)
  const build = buildOf(p)
  return doc([
    ["version", p.version],
    ["gitVersion", p.gitVersion],
    ["modules", []],
    ["allocator", "tcmalloc"],
    ["javascriptEngine", "mozjs"],
    ["sysInfo", "deprecated"],
    ["versionArray", [...parts, 0]],
    [
      "openssl",
      doc([
        ["running", build.openssl],
        ["compiled", build.openssl]
      ])
    ],
    [
      "buildEnvironment",
      doc([
        ["distmod", build.distmod],
        ["distarch", "x86_64"],
        ["target_arch", "x86_64"],
        ["target_os", "linux"]
      ])
    ],
    ["bits", 64],
    ["debug", false],
    ["maxBsonObjectSize", 16777216],
    // The community server's engines ("modules" is empty: no enterprise inMemory/queryable_wt).
    ["storageEngines", [...build.storageEngines]],
    ["ok", new BsonDouble(1)]
  ])
}

/** serverStatus's opening fields (an auth-less mongod answers it to anyone; nmap reads `version`). */
const serverStatus = (p: Persona, uptimeSeconds: number, now: Date) =>
  doc([
    ["host", p.host],
    ["version", p.version],
    ["process", "mongod"],
    ["pid", BigInt(p.pid)],
    ["uptime", new BsonDouble(Math.floor(uptimeSeconds))],
    ["uptimeMillis", BigInt(Math.floor(uptimeSeconds * 1000))],
    ["uptimeEstimate", BigInt(Math.floor(uptimeSeconds))],
    ["localTime", now],
    [
      "connections",
      doc([
        ["current", 1],
        ["available", 838859],
        ["totalCreated", 1]
      ])
    ],
    ["ok", new BsonDouble(1)]
  ])

/** mongod 5.1 (wire version 14) dropped OP_QUERY for every command but hello/isMaster. */
const LEGACY_OP_QUERY_REMOVED = 14
const unsupportedOpQuery = (name: string) =>
  failure(
    352,
    "UnsupportedOpQueryCommand",
    `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal`
  )

/** mongod's answer to an HTTP GET on the driver port (transport layer's checkForHTTPRequest). */
export const HTTP_ON_DRIVER_PORT =
  "HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 84\r\n\r\nIt looks like you are trying to access MongoDB over HTTP on the native driver port.\n"

const listDatabases = (p: Persona) =>
  doc([
    [
      "databases",
      p.databases.map(([name, size]) =>
        doc([
          ["name", name],
          ["sizeOnDisk", size],
          ["empty", false]
        ])
      )
    ],
    ["totalSize", p.databases.reduce((n, [, s]) => n + s, 0)],
    ["totalSizeMb", Math.round(p.databases.reduce((n, [, s]) => n + s, 0) / 1048576)],
    ["ok", new BsonDouble(1)]
  ])

const failure = (code: number, codeName: string, errmsg: string) =>
  doc([
    ["ok", new BsonDouble(0)],
    ["errmsg", errmsg],
    ["code", code],
    ["codeName", codeName]
  ])

/** RFC 5802 attribute list `a=v,b=v` (values may contain '='). */
export const scramAttributes = (msg: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const part of msg.split(",").slice(0, 32))
    if (part.length >= 2 && part[1] === "=") out.set(part[0]!, part.slice(2))
  return out
}

const mechanismKind = (mechanism: string) =>
  mechanism === "SCRAM-SHA-256"
    ? ("scram_sha256" as const)
    : mechanism === "SCRAM-SHA-1"
      ? ("scram_sha1" as const)
      : ("scram_unknown" as const)

interface Scram {
  readonly mechanism: string
  readonly username: string
  readonly clientFirstBare: string
  readonly serverFirst: string
  readonly salt: Buffer
  readonly iterations: number
}

const frame = (opcode: number, requestId: number, responseTo: number, body: Buffer): Buffer => {
  const h = Buffer.alloc(16)
  h.writeInt32LE(body.length + 16, 0)
  h.writeInt32LE(requestId, 4)
  h.writeInt32LE(responseTo, 8)
  h.writeInt32LE(opcode, 12)
  return Buffer.concat([h, body])
}

const replyTo = (opcode: number, requestId: number, responseTo: number, reply: BsonDocument): Buffer => {
  const d = encodeDocument(reply)
  if (opcode === OP_MSG)
    return frame(OP_MSG, requestId, responseTo, Buffer.concat([Buffer.alloc(4), Buffer.from([0]), d]))
  // OP_REPLY: responseFlags (AwaitCapable), cursorID 0, startingFrom 0, numberReturned 1.
  const head = Buffer.alloc(20)
  head.writeInt32LE(8, 0)
  head.writeInt32LE(1, 16)
  return frame(OP_REPLY, requestId, responseTo, Buffer.concat([head, d]))
}

/** What one running mongodb instance shares between its connections. */
interface Instance {
  readonly seed: InstanceSeed
  readonly persona: Persona
  /** When this mongod "started" (ms since the epoch): the process start less the seeded uptime. */
  readonly bootMillis: number
  /** The next hello `connectionId` (counts up from a seeded base, like mongod's). */
  nextConnectionId: number
}

/** SCRAM always fails, so a connection is never logged in (the pre-login grace caps it). */
const session = (
  instance: Instance,
  conn: Connection,
  events: Emitter<MongodbEvent>
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const { persona } = instance
    const emit = events.emit
    const connectionId = instance.nextConnectionId++
    yield* emit({ _tag: "connect" })
    let scram: Scram | undefined
    let requestCounter = 1

    const startSasl = (mechanism: string, payload: BsonValue | undefined) =>
      Effect.gen(function* () {
        const clientFirst = payload instanceof BsonBinary ? payload.data.toString("utf8") : ""
        // gs2 header "n,," then client-first-bare "n=<user>,r=<nonce>" (RFC 5802 §7).
        const bare = clientFirst.split(",").slice(2).join(",")
        const attrs = scramAttributes(bare)
        const username = (attrs.get("n") ?? "").replace(/=2C/g, ",").replace(/=3D/g, "=")
        yield* emit({ _tag: "auth_start", mechanism, username })
        const salt = instance.seed.bytes(16, `mongodb_scram_salt:${mechanism}:${username}`)
        const iterations = mechanism === "SCRAM-SHA-1" ? 10000 : 15000
        const serverFirst = `r=${attrs.get("r") ?? ""}${randomBytes(18).toString("base64")},s=${salt.toString("base64")},i=${iterations}`
        scram = { mechanism, username, clientFirstBare: bare, serverFirst, salt, iterations }
        return doc([
          ["conversationId", 1],
          ["done", false],
          ["payload", new BsonBinary(0, Buffer.from(serverFirst))],
          ["ok", new BsonDouble(1)]
        ])
      })

    const dispatch = (cmd: BsonDocument, name: string) =>
      Effect.gen(function* () {
        switch (name.toLowerCase()) {
          case "hello":
          case "ismaster": {
            const spec = cmd.get("speculativeAuthenticate")
            const extra: Array<readonly [string, BsonValue]> = []
            if (spec instanceof Map && spec.has("saslStart")) {
              const started = yield* startSasl(str(spec.get("mechanism")), spec.get("payload"))
              extra.push(["speculativeAuthenticate", doc([...started].filter(([k]) => k !== "ok"))])
            }
            return helloDoc(persona, cmd, connectionId, extra)
          }
          case "buildinfo":
            return buildInfo(persona)
          case "serverstatus": {
            const now = yield* Clock.currentTimeMillis
            return serverStatus(persona, (now - instance.bootMillis) / 1000, new Date(now))
          }
          case "listdatabases":
            return listDatabases(persona)
          case "ping":
          case "endsessions":
            return doc([["ok", new BsonDouble(1)]])
          case "saslstart":
            return yield* startSasl(str(cmd.get("mechanism")), cmd.get("payload"))
          case "saslcontinue": {
            const payload = cmd.get("payload")
            const final = payload instanceof BsonBinary ? payload.data.toString("utf8") : ""
            const proof = scramAttributes(final).get("p") ?? ""
            if (scram !== undefined && proof !== "") {
              const withoutProof = final.slice(0, Math.max(0, final.lastIndexOf(",p=")))
              yield* emit({
                _tag: "auth",
                username: scram.username,
                ...credentialFields(scram.username, proof),
                // The proof is already base64: logged as sent, not encoded twice.
                secret_b64: proof,
                secret_kind: mechanismKind(scram.mechanism),
                mechanism: scram.mechanism,
                salt: scram.salt.toString("base64"),
                iterations: scram.iterations,
                auth_message: `${scram.clientFirstBare},${scram.serverFirst},${withoutProof}`
              })
            }
            scram = undefined
            return failure(18, "AuthenticationFailed", "Authentication failed.")
          }
          default:
            return failure(13, "Unauthorized", `command ${name} requires authentication`)
        }
      })

    for (let i = 0; i < MAX_MESSAGES; i++) {
      const head = yield* conn.readBytes(16)
      if (i === 0 && head.subarray(0, 4).toString("latin1") === "GET ")
        return yield* conn.end(HTTP_ON_DRIVER_PORT)
      const length = head.readInt32LE(0)
      if (length < MIN_MESSAGE || length > MAX_MESSAGE) return
      const requestId = head.readInt32LE(4)
      const opcode = head.readInt32LE(12)
      const body = yield* conn.readBytes(length - 16)
      yield* emit({ _tag: "message", opcode, length })
      const cmd = commandOf(opcode, body)
      const legacyOnly =
        opcode === OP_QUERY &&
        persona.maxWireVersion >= LEGACY_OP_QUERY_REMOVED &&
        cmd !== undefined &&
        !["hello", "ismaster"].includes(cmd.name.toLowerCase())
      const reply =
        cmd === undefined
          ? helloDoc(persona, doc([]), connectionId, [])
          : legacyOnly
            ? unsupportedOpQuery(cmd.name)
            : yield* dispatch(cmd.body, cmd.name)
      yield* conn.write(replyTo(opcode === OP_MSG ? OP_MSG : OP_REPLY, requestCounter++, requestId, reply))
    }
  }).pipe(Effect.ensuring(events.emit({ _tag: "disconnect" })))

export const mongodbHoneypot = defineHoneypot({
  slug: "mongodb",
  description: "MongoDB server: hello/buildInfo/listDatabases with a seeded release, SCRAM proof capture",
  ports: { tcp: [27017], udp: [] },
  config: MongodbConfig,
  events: mongodbEvents,
  run: (options) =>
    Effect.gen(function* () {
      const ctx = yield* HoneypotContext
      const [version, maxWireVersion] = ctx.seed.pick(RELEASES)
      const bait = ctx.seed.pick([
        ["customers"],
        ["app", "sessions"],
        ["inventory"],
        ["crm", "analytics"],
        ["users"]
      ])
      const persona: Persona = {
        version,
        maxWireVersion,
        host: `${ctx.hostname.split(".")[0]}:${options.address().port}`,
        pid: ctx.seed.int(700, 4000),
        gitVersion: ctx.seed.hex(20, "mongodb_git_version"),
        replSet: options.config.repl_set,
        databases: [
          ["admin", 40960],
          ["config", 110592],
          ["local", 73728],
          ...bait.map((name, i) => [name, ctx.seed.int(1, 400) * 1048576 + i * 8192] as const)
        ]
      }
      const startedAt = yield* Clock.currentTimeMillis
      const instance: Instance = {
        seed: ctx.seed,
        persona,
        bootMillis: startedAt - ctx.seed.uptimeSeconds(startedAt) * 1000,
        nextConnectionId: ctx.seed.int(1, 500)
      }
      const listener = yield* serveTcp({
        ...options.address(),
        events: mongodbEvents,
        handler: (conn, events) => session(instance, conn, events)
      })
      return [listener]
    })
})
