/**
 * The master HTTP API's one contract (spec api.md): an `HttpApi` under `/api/v1`, one group per area.
 * The server implements it (Server.ts and handlers/), the OpenAPI document at `/openapi.json` is generated
 * from it, and tests and CLI commands derive typed clients from it with `HttpApiClient`. Request and
 * response Schemas are the database rows' own where a route returns rows (LogRow, User…).
 *
 * A later area (attackers, topologies, swarm…) is one more `HttpApiGroup` added here and one more handler
 * layer in Server.ts.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { WorkerRow as RegistryWorkerRow } from "../bus/Registry.js"
import { Archetype } from "../catalog/Archetype.js"
import { Port, ServiceConfigField, ServicePorts } from "../catalog/Service.js"
import { BountyRecord, CredentialRecord } from "../db/EvidenceRepo.js"
import { LifecycleRow } from "../db/LifecycleRepo.js"
import { FleetDecky, LogRow } from "../db/Rows.js"
import { BoundPort, Decky, RuntimeKind } from "../fleet/Model.js"
import { TarpitStatus } from "../tarpit/Model.js"
import {
  DeckyConfig,
  DeckyRow,
  EdgeRow,
  LanRow,
  MutationOp,
  MutationRow,
  MutationRowState,
  StatusEventRow,
  SubnetBase,
  TopologyConfig,
  TopologyDetail,
  TopologyMode,
  TopologyStatus,
  TopologySummary
} from "../topology/Model.js"
import { TopologyPersonas } from "../topology/Personas.js"
import { ReapReport } from "../topology/Runtime.js"
import {
  BadGatewayWire,
  BadRequestWire,
  ConflictWire,
  ForbiddenWire,
  NotFoundWire,
  NotImplementedWire,
  ServiceUnavailableWire,
  TOO_SHORT,
  TooManyRequestsWire,
  UnauthorizedWire,
  UnprocessableWire
} from "./Errors.js"
import { Admin, AnyUser, Role, StreamViewer, Viewer } from "./Security.js"

// ---- shared pieces ------------------------------------------------------------------------------------

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8")

/** A string of at least `min` characters; shorter is structural (400), like pydantic's string_too_short. */
const atLeast = (min: number) =>
  Schema.String.pipe(Schema.minLength(min, { message: () => `${TOO_SHORT}: at least ${min} characters` }))

/** A new password (spec §4.1): 12–72 characters and at most 72 UTF-8 bytes. */
export const NewPassword = atLeast(12).pipe(
  Schema.maxLength(72),
  Schema.filter((s) => utf8Bytes(s) <= 72 || "password is longer than 72 UTF-8 bytes")
)

/** A query integer in [min, max] with a default. */
const queryInt = (min: number, max: number, fallback: number) =>
  Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max)), {
    default: () => fallback
  })

/** An optional query string (the handlers treat `null`, `NULL`, `undefined` and "" as absent, §6). */
const queryText = (max?: number) =>
  Schema.optional(max === undefined ? Schema.String : Schema.String.pipe(Schema.maxLength(max)))

const Pagination = {
  limit: queryInt(1, 1000, 50),
  offset: queryInt(0, 2_147_483_647, 0)
}

/** The shared list envelope: `{total, limit, offset, data}`. */
export const Page = <A, I, R>(row: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    total: Schema.Number,
    limit: Schema.Number,
    offset: Schema.Number,
    data: Schema.Array(row)
  })

export const Message = Schema.Struct({ message: Schema.String })

/** Bodies are strict: an unknown field is a structural error (400). */
const strict = { parseOptions: { onExcessProperty: "error" } } as const

// ---- auth (§4, §5.1) ----------------------------------------------------------------------------------

export const LoginRequest = Schema.Struct({
  username: Schema.String,
  password: Schema.String.pipe(Schema.maxLength(72))
}).annotations(strict)

export const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("bearer"),
  must_change_password: Schema.Boolean
})

export const ChangePasswordRequest = Schema.Struct({
  old_password: Schema.String.pipe(Schema.maxLength(72)),
  new_password: NewPassword
}).annotations(strict)

export const SseTicket = Schema.Struct({ ticket: Schema.String, expires_in: Schema.Number })

export class AuthGroup extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("login", "/auth/login")
      .setPayload(LoginRequest)
      .addSuccess(TokenResponse)
      .addError(UnauthorizedWire)
      .addError(TooManyRequestsWire)
  )
  .add(
    HttpApiEndpoint.post("changePassword", "/auth/change-password")
      .setPayload(ChangePasswordRequest)
      .addSuccess(Message)
      .addError(TooManyRequestsWire)
      .middleware(AnyUser)
  )
  .add(HttpApiEndpoint.post("logout", "/auth/logout").addSuccess(Message).middleware(AnyUser))
  .add(HttpApiEndpoint.post("sseTicket", "/auth/sse-ticket").addSuccess(SseTicket).middleware(Viewer))
  .annotate(OpenApi.Description, "Login, logout, password change and SSE tickets (spec api §4, §5.1)") {}

// ---- logs, stats, stream (§7.2, §7.5, §7.6) ------------------------------------------------------------

export const LogsQuery = Schema.Struct({
  ...Pagination,
  search: queryText(512),
  start_time: queryText(),
  end_time: queryText()
})

export const HistogramQuery = Schema.Struct({
  search: queryText(512),
  start_time: queryText(),
  end_time: queryText(),
  interval_minutes: queryInt(1, 525_600, 15)
})

export const HistogramBucket = Schema.Struct({ time: Schema.String, count: Schema.Number })

export const Stats = Schema.Struct({
  total_logs: Schema.Number,
  unique_attackers: Schema.Number,
  active_deckies: Schema.Number,
  deployed_deckies: Schema.Number
})

export const StreamQuery = Schema.Struct({
  lastEventId: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()), {
    default: () => 0
  }),
  search: queryText(512),
  start_time: queryText(),
  end_time: queryText(),
  maxOutput: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.positive())),
  ticket: Schema.optional(Schema.String)
})

export class LogsGroup extends HttpApiGroup.make("logs")
  .add(
    HttpApiEndpoint.get("logs", "/logs").setUrlParams(LogsQuery).addSuccess(Page(LogRow)).middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.get("histogram", "/logs/histogram")
      .setUrlParams(HistogramQuery)
      .addSuccess(Schema.Array(HistogramBucket))
      .middleware(Viewer)
  )
  .add(HttpApiEndpoint.get("stats", "/stats").addSuccess(Stats).middleware(Viewer))
  .add(
    HttpApiEndpoint.get("events", "/events")
      .setUrlParams(Schema.Struct({ ticket: Schema.optional(Schema.String) }))
      .addSuccess(
        Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }))
      )
      .addError(TooManyRequestsWire)
      .middleware(StreamViewer)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events relayed from the bus: worker heartbeats (system.*.health) and fleet events (decky.>), after a snapshot of the workers and deckies (spec api §5.4)."
      )
  )
  .add(
    HttpApiEndpoint.get("stream", "/stream")
      .setUrlParams(StreamQuery)
      .addSuccess(
        Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }))
      )
      .addError(TooManyRequestsWire)
      .middleware(StreamViewer)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events: stats, histogram and new log rows (spec api §7.6). Authenticate with a bearer header or ?ticket= from POST /auth/sse-ticket."
      )
  ) {}

// ---- bounty, credentials (§7.3, §7.4) -----------------------------------------------------------------

/** A `bounty` row with `payload` decoded when it is JSON (§7.3): the repository's row, one column re-typed. */
export const BountyRow = Schema.Struct({ ...BountyRecord.fields, payload: Schema.Unknown })

export const BountyQuery = Schema.Struct({
  ...Pagination,
  bounty_type: queryText(),
  search: queryText(512)
})

/** A `credentials` row with `fields` decoded (§7.4): the repository's row, one column re-typed. */
export const CredentialRow = Schema.Struct({ ...CredentialRecord.fields, fields: Schema.Unknown })

export const CredentialsQuery = Schema.Struct({
  ...Pagination,
  search: queryText(512),
  service: queryText(),
  attacker_ip: queryText()
})

export class EvidenceGroup extends HttpApiGroup.make("evidence")
  .add(
    HttpApiEndpoint.get("bounty", "/bounty")
      .setUrlParams(BountyQuery)
      .addSuccess(Page(BountyRow))
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.get("credentials", "/credentials")
      .setUrlParams(CredentialsQuery)
      .addSuccess(Page(CredentialRow))
      .middleware(Viewer)
  ) {}

// ---- health (§7.7) ------------------------------------------------------------------------------------

export const Component = Schema.Struct({
  status: Schema.Literal("ok", "failing"),
  detail: Schema.NullOr(Schema.String)
})

export const Health = Schema.Struct({
  status: Schema.Literal("healthy", "degraded", "unhealthy"),
  components: Schema.Record({ key: Schema.String, value: Component })
})

export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health")
    .addSuccess(Health)
    .addError(Health, { status: 503 })
    .middleware(Viewer)
) {}

// ---- config and users (§4.9, §7.14) -------------------------------------------------------------------

export const UserSummary = Schema.Struct({
  uuid: Schema.String,
  username: Schema.String,
  role: Role,
  must_change_password: Schema.Boolean
})

export const ConfigResponse = Schema.Struct({
  role: Role,
  deployment_limit: Schema.Number,
  global_mutation_interval: Schema.String,
  users: Schema.optional(Schema.Array(UserSummary)),
  developer_mode: Schema.optional(Schema.Boolean)
})

/** `^[1-9]\d*[mdMyY]$`: minutes, days, 30-day months, 365-day years (no hours or seconds). */
export const MutationInterval = Schema.String.pipe(Schema.pattern(/^[1-9]\d*[mdMyY]$/))

export const CreateUserRequest = Schema.Struct({
  username: atLeast(1).pipe(Schema.maxLength(64)),
  password: NewPassword,
  role: Schema.optionalWith(Role, { default: () => "viewer" as const })
}).annotations(strict)

const UserPath = Schema.Struct({ user_uuid: Schema.String })

export class ConfigGroup extends HttpApiGroup.make("config")
  .add(HttpApiEndpoint.get("config", "/config").addSuccess(ConfigResponse).middleware(Viewer))
  .add(
    HttpApiEndpoint.put("deploymentLimit", "/config/deployment-limit")
      .setPayload(
        Schema.Struct({
          deployment_limit: Schema.Number.pipe(Schema.int(), Schema.between(1, 500))
        }).annotations(strict)
      )
      .addSuccess(Message)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.put("globalMutationInterval", "/config/global-mutation-interval")
      .setPayload(Schema.Struct({ global_mutation_interval: MutationInterval }).annotations(strict))
      .addSuccess(Message)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("createUser", "/config/users")
      .setPayload(CreateUserRequest)
      .addSuccess(UserSummary)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("deleteUser", "/config/users/:user_uuid")
      .setPath(UserPath)
      .addSuccess(Message)
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.put("updateRole", "/config/users/:user_uuid/role")
      .setPath(UserPath)
      .setPayload(Schema.Struct({ role: Role }).annotations(strict))
      .addSuccess(Message)
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.put("resetPassword", "/config/users/:user_uuid/reset-password")
      .setPath(UserPath)
      .setPayload(Schema.Struct({ new_password: NewPassword }).annotations(strict))
      .addSuccess(Message)
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("reinit", "/config/reinit")
      .addSuccess(
        Schema.Struct({
          message: Schema.String,
          deleted: Schema.Struct({
            logs: Schema.Number,
            bounties: Schema.Number,
            credentials: Schema.Number,
            attackers: Schema.Number
          })
        })
      )
      .middleware(Admin)
  ) {}

// ---- workers (§7.15) and the system (§7.20) -----------------------------------------------------------

/** The registry's row (bus/Registry.ts) plus whether `decnet-<name>.service` is installed. */
export const WorkerRow = Schema.Struct({ ...RegistryWorkerRow.fields, installed: Schema.Boolean })

export const WorkersResponse = Schema.Struct({
  workers: Schema.Array(WorkerRow),
  generated_at: Schema.Number,
  bus_connected: Schema.Boolean
})

export const WorkerAction = Schema.Struct({
  accepted: Schema.Literal(true),
  worker: Schema.String,
  action: Schema.Literal("stop", "start")
})

export const StartAll = Schema.Struct({
  started: Schema.Array(Schema.String),
  already_running: Schema.Array(Schema.String),
  failed: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String }))
})

const WorkerPath = Schema.Struct({ name: Schema.String })

export const DeploymentMode = Schema.Struct({
  mode: Schema.Literal("swarm", "unihost"),
  role: Schema.Literal("master", "agent"),
  swarm_host_count: Schema.Number
})

export class WorkersGroup extends HttpApiGroup.make("workers")
  .add(HttpApiEndpoint.get("workers", "/workers").addSuccess(WorkersResponse).middleware(Viewer))
  .add(
    HttpApiEndpoint.post("stop", "/workers/:name/stop")
      .setPath(WorkerPath)
      .addSuccess(WorkerAction, { status: 202 })
      .addError(NotFoundWire)
      .addError(ServiceUnavailableWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("start", "/workers/:name/start")
      .setPath(WorkerPath)
      .addSuccess(WorkerAction, { status: 202 })
      .addError(NotFoundWire)
      .addError(ServiceUnavailableWire)
      .addError(BadGatewayWire)
      .middleware(Admin)
  )
  .add(HttpApiEndpoint.post("startAll", "/workers/start-all").addSuccess(StartAll).middleware(Admin))
  .add(
    HttpApiEndpoint.get("deploymentMode", "/system/deployment-mode")
      .addSuccess(DeploymentMode)
      .middleware(Viewer)
  ) {}

// ---- fleet (§7.12) ------------------------------------------------------------------------------------

export const DeployRequest = Schema.Struct({
  ini_content: Schema.String.pipe(Schema.maxLength(512 * 1024)),
  replace_fleet: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations(strict)

export const DeployAccepted = Schema.Struct({
  message: Schema.String,
  mode: Schema.Literal("unihost", "swarm"),
  lifecycle_ids: Schema.Array(Schema.String)
})

export const LifecycleQuery = Schema.Struct({
  ids: Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(200))
})

/** A decky name in a route (spec §7.12): `^[a-z0-9\-]{1,64}$`, else 422. */
const DeckyPath = Schema.Struct({ decky_name: Schema.String.pipe(Schema.pattern(/^[a-z0-9-]{1,64}$/)) })

/**
 * One decky as its runtime last saw it: the `fleet_deckies` row's state columns and the listeners the
 * deployment bound (in-process deckies offset well-known ports by 10,000 without root). Not in the spec:
 * the dashboard's fleet page and its "touch a decky" hint read it.
 */
export const DeckyStatus = Schema.Struct({
  ...Schema.Struct(FleetDecky.fields).pick("name", "state", "last_error", "last_seen").fields,
  ports: Schema.Array(BoundPort)
})
export const FleetStatus = Schema.Struct({
  /** The runtime of the current deployment; null with none. */
  runtime: Schema.NullOr(RuntimeKind),
  deckies: Schema.Array(DeckyStatus)
})

export class FleetGroup extends HttpApiGroup.make("fleet")
  .add(HttpApiEndpoint.get("deckies", "/deckies").addSuccess(Schema.Array(Decky)).middleware(Viewer))
  .add(HttpApiEndpoint.get("status", "/deckies/status").addSuccess(FleetStatus).middleware(Viewer))
  .add(
    HttpApiEndpoint.post("deploy", "/deckies/deploy")
      .setPayload(DeployRequest)
      .addSuccess(DeployAccepted, { status: 202 })
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("lifecycle", "/deckies/lifecycle")
      .setUrlParams(LifecycleQuery)
      .addSuccess(Schema.Struct({ rows: Schema.Array(LifecycleRow) }))
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.post("mutate", "/deckies/:decky_name/mutate")
      .setPath(DeckyPath)
      .addSuccess(Schema.Struct({ lifecycle_ids: Schema.Array(Schema.String) }), { status: 202 })
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.put("mutateInterval", "/deckies/:decky_name/mutate-interval")
      .setPath(DeckyPath)
      .setPayload(
        Schema.Struct({
          mutate_interval: Schema.optionalWith(Schema.NullOr(MutationInterval), { default: () => null })
        }).annotations(strict)
      )
      .addSuccess(Message)
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("remove", "/deckies/:decky_name")
      .setPath(DeckyPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  ) {}

// ---- live decky services and the tarpit (§7.13) ---------------------------------------------------------

const ServicePath = Schema.Struct({
  decky_name: Schema.String.pipe(Schema.pattern(/^[a-z0-9-]{1,64}$/)),
  service_name: Schema.String.pipe(Schema.pattern(/^[a-z0-9_-]{1,64}$/))
})

const ServiceConfigBody = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const DeckyServices = Schema.Struct({
  decky_name: Schema.String,
  topology_id: Schema.Null,
  services: Schema.Array(Schema.String)
})

export const ServiceConfigResult = Schema.Struct({
  decky_name: Schema.String,
  service_name: Schema.String,
  topology_id: Schema.Null,
  config: ServiceConfigBody,
  recreated: Schema.Boolean
})

export const TarpitRequest = Schema.Struct({
  ports: Schema.Array(Port).pipe(Schema.minItems(1)),
  delay_ms: Schema.Number.pipe(Schema.int(), Schema.between(100, 300_000))
}).annotations(strict)

export const PlantFileRequest = Schema.Struct({
  decky_name: atLeast(1),
  topology_id: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  path: atLeast(1),
  content_b64: Schema.String,
  mode: Schema.optionalWith(Schema.Number.pipe(Schema.int(), Schema.between(0, 0o7777)), {
    default: () => 0o644
  }),
  /** Seconds added to now for the file's mtime; 0 leaves the persona's default date. */
  mtime_offset: Schema.optionalWith(Schema.Number.pipe(Schema.int()), { default: () => 0 })
}).annotations(strict)

export const RemoveFileRequest = Schema.Struct({
  decky_name: atLeast(1),
  topology_id: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  path: atLeast(1)
}).annotations(strict)

export class DeckyServicesGroup extends HttpApiGroup.make("deckies")
  .add(
    HttpApiEndpoint.post("plantFile", "/deckies/files")
      .setPayload(PlantFileRequest)
      .addSuccess(Message, { status: 201 })
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("removeFile", "/deckies/files")
      .setPayload(RemoveFileRequest)
      .addSuccess(Message)
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("addService", "/deckies/:decky_name/services")
      .setPath(DeckyPath)
      .setPayload(
        Schema.Struct({
          name: atLeast(1),
          config: Schema.optionalWith(ServiceConfigBody, { default: () => ({}) })
        }).annotations(strict)
      )
      .addSuccess(DeckyServices, { status: 201 })
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.put("serviceConfig", "/deckies/:decky_name/services/:service_name/config")
      .setPath(ServicePath)
      .setPayload(Schema.Struct({ config: ServiceConfigBody }).annotations(strict))
      .addSuccess(ServiceConfigResult)
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("applyService", "/deckies/:decky_name/services/:service_name/apply")
      .setPath(ServicePath)
      .setPayload(Schema.Struct({ config: Schema.optional(ServiceConfigBody) }).annotations(strict))
      .addSuccess(ServiceConfigResult, { status: 201 })
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("removeService", "/deckies/:decky_name/services/:service_name")
      .setPath(ServicePath)
      .addSuccess(DeckyServices)
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("tarpitOn", "/deckies/:decky_name/tarpit")
      .setPath(DeckyPath)
      .setPayload(TarpitRequest)
      .addSuccess(Message, { status: 201 })
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("tarpit", "/deckies/:decky_name/tarpit")
      .setPath(DeckyPath)
      .addSuccess(TarpitStatus)
      .addError(NotFoundWire)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.del("tarpitOff", "/deckies/:decky_name/tarpit")
      .setPath(DeckyPath)
      .addSuccess(Message)
      .addError(NotFoundWire)
      .addError(ConflictWire)
      .middleware(Admin)
  ) {}

// ---- artifacts and transcripts (§7.16) ---------------------------------------------------------------

export const Transcript = Schema.Struct({
  sid: Schema.String,
  service: Schema.String,
  header: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  events: Schema.Array(Schema.Tuple(Schema.Number, Schema.String, Schema.String)),
  offset: Schema.Number,
  limit: Schema.Number,
  total: Schema.Number,
  has_more: Schema.Boolean,
  truncated: Schema.Boolean
})

export class EvidenceFilesGroup extends HttpApiGroup.make("files")
  .add(
    HttpApiEndpoint.get("artifact", "/artifacts/:decky/:stored_as")
      .setPath(Schema.Struct({ decky: Schema.String, stored_as: Schema.String }))
      .setUrlParams(
        Schema.Struct({
          service: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[a-z]{1,16}$/)), {
            default: () => "ssh"
          })
        })
      )
      .addSuccess(
        Schema.Uint8ArrayFromSelf.pipe(
          HttpApiSchema.withEncoding({ kind: "Uint8Array", contentType: "application/octet-stream" })
        )
      )
      .addError(NotFoundWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("transcript", "/transcripts/:decky/:sid")
      .setPath(Schema.Struct({ decky: Schema.String, sid: Schema.String }))
      .setUrlParams(Schema.Struct({ offset: queryInt(0, 2_147_483_647, 0), limit: queryInt(1, 5000, 500) }))
      .addSuccess(Transcript)
      .addError(NotFoundWire)
      .middleware(Admin)
  ) {}

// ---- the catalog the fleet page needs (topology.md §10) ----------------------------------------------

export const ServicesList = Schema.Struct({
  /** Sorted, per-decky services this build can run. */
  services: Schema.Array(Schema.String),
  fleet_singletons: Schema.Array(Schema.String),
  /** In the catalog but without an emulator yet: a deploy naming one is refused. */
  not_runnable: Schema.Array(Schema.String)
})

export const ServiceSchema = Schema.Struct({
  name: Schema.String,
  ports: ServicePorts,
  fleet_singleton: Schema.Boolean,
  fields: Schema.Array(ServiceConfigField)
})

export class CatalogGroup extends HttpApiGroup.make("catalog")
  .add(HttpApiEndpoint.get("services", "/topologies/services").addSuccess(ServicesList).middleware(Viewer))
  .add(
    HttpApiEndpoint.get("serviceSchema", "/topologies/services/:service_name/schema")
      .setPath(Schema.Struct({ service_name: Schema.String }))
      .addSuccess(ServiceSchema)
      .addError(NotFoundWire)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.get("archetypes", "/topologies/archetypes")
      .addSuccess(Schema.Struct({ archetypes: Schema.Array(Archetype) }))
      .middleware(Viewer)
  ) {}

// ---- MazeNET topologies (topology.md §10) ---------------------------------------------------------------

/**
 * Literal segments under `/topologies` (`services`, `archetypes`, `next-subnet`, `blank`, `reap-orphans`)
 * are static routes: the router tries a static segment before `:topology_id`, whatever the order here.
 */
const TopologyPath = Schema.Struct({ topology_id: Schema.String })
const LanPath = Schema.Struct({ topology_id: Schema.String, lan_id: Schema.String })
const TopologyDeckyPath = Schema.Struct({ topology_id: Schema.String, decky_uuid: Schema.String })
const EdgePath = Schema.Struct({ topology_id: Schema.String, edge_id: Schema.String })
/** The tarpit keys a topology decky by name (§10: `t:<topology id>:<decky name>`). */
const TarpitPath = Schema.Struct({
  topology_id: Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9-]{1,64}$/)),
  decky_name: Schema.String.pipe(Schema.pattern(/^[a-z0-9-]{1,64}$/))
})

/** Optimistic concurrency (§7): the version the client last read; a stale one is 409. */
const ExpectedVersion = Schema.optional(Schema.Int)
const Coordinate = Schema.optional(Schema.NullOr(Schema.Number))
const TopologyNameField = atLeast(1).pipe(Schema.maxLength(64))

export const TopologyListQuery = Schema.Struct({
  status: Schema.optional(TopologyStatus),
  limit: queryInt(1, 500, 50),
  offset: queryInt(0, 2_147_483_647, 0)
})

/**
 * `POST /topologies`: the generator's config without its subnet base (the API always carves from
 * 172.16.0.0/12, skipping live topologies' subnets), plus the swarm host of an agent topology. The
 * config's own rules (min ≤ max, some services) are checked by the handler: 400.
 */
export const TopologyGenerateRequest = Schema.Struct({
  ...Schema.Struct(TopologyConfig.from.fields).omit("subnet_base_prefix", "name").fields,
  name: TopologyNameField,
  target_host_uuid: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
  .annotations(strict)
  .annotations({ identifier: "TopologyGenerateRequest" })

export const TopologyBlankRequest = Schema.Struct({
  name: TopologyNameField,
  mode: Schema.optionalWith(TopologyMode, { default: () => "unihost" as const }),
  target_host_uuid: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
  .annotations(strict)
  .annotations({ identifier: "TopologyBlankRequest" })

export const TopologyListResponse = Page(TopologySummary).annotations({ identifier: "TopologyListResponse" })

export const LanCreateRequest = Schema.Struct({
  name: TopologyNameField,
  /** Omitted: the next free 10.0.x.0/24. */
  subnet: Schema.optional(Schema.String),
  is_dmz: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  x: Coordinate,
  y: Coordinate,
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "LANCreateRequest" })

/** Absent fields stay as they are. */
export const LanUpdateRequest = Schema.Struct({
  name: Schema.optional(TopologyNameField),
  subnet: Schema.optional(Schema.String),
  is_dmz: Schema.optional(Schema.Boolean),
  x: Coordinate,
  y: Coordinate,
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "LANUpdateRequest" })

export const DeckyCreateRequest = Schema.Struct({
  name: TopologyNameField,
  services: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  decky_config: Schema.optional(Schema.NullOr(DeckyConfig)),
  x: Coordinate,
  y: Coordinate,
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "DeckyCreateRequest" })

/** Absent fields stay as they are; `decky_config` is replaced whole. */
export const DeckyUpdateRequest = Schema.Struct({
  name: Schema.optional(TopologyNameField),
  services: Schema.optional(Schema.Array(Schema.String)),
  decky_config: Schema.optional(Schema.NullOr(DeckyConfig)),
  x: Coordinate,
  y: Coordinate,
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "DeckyUpdateRequest" })

export const EdgeCreateRequest = Schema.Struct({
  decky_uuid: Schema.String,
  lan_id: Schema.String,
  is_bridge: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  forwards_l3: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "EdgeCreateRequest" })

/** A live edit for the reconciler (§8); an op outside the eight is 422. */
export const MutationEnqueueRequest = Schema.Struct({
  op: MutationOp,
  payload: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    default: () => ({})
  }),
  expected_version: ExpectedVersion
})
  .annotations(strict)
  .annotations({ identifier: "MutationEnqueueRequest" })

export const MutationAccepted = Schema.Struct({
  mutation_id: Schema.String,
  state: Schema.Literal("pending")
}).annotations({ identifier: "MutationEnqueueResponse" })

export const NextSubnet = Schema.Struct({ subnet: Schema.String }).annotations({
  identifier: "NextSubnetResponse"
})
export const NextIp = Schema.Struct({ subnet: Schema.String, ip: Schema.String }).annotations({
  identifier: "NextIPResponse"
})

/** `PUT /topologies/{id}/personas`: `personas` must be a list (400 otherwise); invalid entries are dropped. */
export const PersonasUpdateRequest = Schema.Struct({ personas: Schema.Unknown }).annotations(strict)

const SseBody = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" })
)

export class TopologiesGroup extends HttpApiGroup.make("topologies")
  .add(
    HttpApiEndpoint.get("list", "/topologies")
      .setUrlParams(TopologyListQuery)
      .addSuccess(TopologyListResponse)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.post("generate", "/topologies")
      .setPayload(TopologyGenerateRequest)
      .addSuccess(TopologySummary, { status: 201 })
      .middleware(Admin)
      .annotate(
        OpenApi.Description,
        "Generate a topology (a DMZ and a tree of LANs with deckies and bridges) and store it, pending. The subnets of topologies that are not torn down are skipped."
      )
  )
  .add(
    HttpApiEndpoint.post("blank", "/topologies/blank")
      .setPayload(TopologyBlankRequest)
      .addSuccess(TopologySummary, { status: 201 })
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("nextSubnet", "/topologies/next-subnet")
      .setUrlParams(
        Schema.Struct({ base: Schema.optionalWith(SubnetBase, { default: () => "172.16.0.0/12" }) })
      )
      .addSuccess(NextSubnet)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.post("reapOrphans", "/topologies/reap-orphans")
      .addSuccess(ReapReport)
      .middleware(Admin)
      .annotate(
        OpenApi.Description,
        "Remove containers and networks of topologies that no longer exist (any topology row, whatever its status, is kept)."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/topologies/:topology_id")
      .setPath(TopologyPath)
      .addSuccess(TopologyDetail)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.del("remove", "/topologies/:topology_id")
      .setPath(TopologyPath)
      .addSuccess(HttpApiSchema.NoContent)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("statusEvents", "/topologies/:topology_id/status-events")
      .setPath(TopologyPath)
      .setUrlParams(Schema.Struct({ limit: queryInt(1, 1000, 100) }))
      .addSuccess(Schema.Array(StatusEventRow))
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.post("deploy", "/topologies/:topology_id/deploy")
      .setPath(TopologyPath)
      .addSuccess(TopologySummary, { status: 202 })
      .addError(NotImplementedWire)
      .middleware(Admin)
      .annotate(
        OpenApi.Description,
        "Validate, then deploy in the background; the answer is the topology before the deploy (pending). Follow the status on GET /topologies/{id} or the SSE stream."
      )
  )
  .add(
    HttpApiEndpoint.post("teardown", "/topologies/:topology_id/teardown")
      .setPath(TopologyPath)
      .addSuccess(TopologySummary, { status: 202 })
      .addError(NotImplementedWire)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("addLan", "/topologies/:topology_id/lans")
      .setPath(TopologyPath)
      .setPayload(LanCreateRequest)
      .addSuccess(LanRow, { status: 201 })
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.patch("updateLan", "/topologies/:topology_id/lans/:lan_id")
      .setPath(LanPath)
      .setPayload(LanUpdateRequest)
      .addSuccess(LanRow)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("deleteLan", "/topologies/:topology_id/lans/:lan_id")
      .setPath(LanPath)
      .addSuccess(HttpApiSchema.NoContent)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("nextIp", "/topologies/:topology_id/lans/:lan_id/next-ip")
      .setPath(LanPath)
      .addSuccess(NextIp)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.post("addDecky", "/topologies/:topology_id/deckies")
      .setPath(TopologyPath)
      .setPayload(DeckyCreateRequest)
      .addSuccess(DeckyRow, { status: 201 })
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.patch("updateDecky", "/topologies/:topology_id/deckies/:decky_uuid")
      .setPath(TopologyDeckyPath)
      .setPayload(DeckyUpdateRequest)
      .addSuccess(DeckyRow)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("deleteDecky", "/topologies/:topology_id/deckies/:decky_uuid")
      .setPath(TopologyDeckyPath)
      .addSuccess(HttpApiSchema.NoContent)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("addEdge", "/topologies/:topology_id/edges")
      .setPath(TopologyPath)
      .setPayload(EdgeCreateRequest)
      .addSuccess(EdgeRow, { status: 201 })
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.del("deleteEdge", "/topologies/:topology_id/edges/:edge_id")
      .setPath(EdgePath)
      .addSuccess(HttpApiSchema.NoContent)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("enqueueMutation", "/topologies/:topology_id/mutations")
      .setPath(TopologyPath)
      .setPayload(MutationEnqueueRequest)
      .addSuccess(MutationAccepted, { status: 202 })
      .middleware(Admin)
      .annotate(
        OpenApi.Description,
        "Queue a live edit of an active or degraded topology; the reconciler applies it and reports on the topology's SSE stream (mutation.applying, mutation.applied or mutation.failed)."
      )
  )
  .add(
    HttpApiEndpoint.get("mutations", "/topologies/:topology_id/mutations")
      .setPath(TopologyPath)
      .setUrlParams(Schema.Struct({ state: Schema.optional(MutationRowState) }))
      .addSuccess(Schema.Array(MutationRow))
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.get("events", "/topologies/:topology_id/events")
      .setPath(TopologyPath)
      .setUrlParams(Schema.Struct({ ticket: Schema.optional(Schema.String) }))
      .addSuccess(SseBody)
      .addError(TooManyRequestsWire)
      .middleware(StreamViewer)
      .annotate(
        OpenApi.Description,
        "Server-Sent Events of one topology: `event: snapshot` {topology_id, status, in_flight}, then its bus events named by the topic's tail (mutation.enqueued, mutation.applied, status…) and its deckies' events as decky.<tail>, each {topic, type, ts, payload}. Authenticate with ?ticket= from POST /auth/sse-ticket."
      )
  )
  .add(
    HttpApiEndpoint.get("personas", "/topologies/:topology_id/personas")
      .setPath(TopologyPath)
      .addSuccess(TopologyPersonas)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.put("setPersonas", "/topologies/:topology_id/personas")
      .setPath(TopologyPath)
      .setPayload(PersonasUpdateRequest)
      .addSuccess(TopologyPersonas)
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.post("tarpitOn", "/topologies/:topology_id/deckies/:decky_name/tarpit")
      .setPath(TarpitPath)
      .setPayload(TarpitRequest)
      .addSuccess(Message, { status: 201 })
      .middleware(Admin)
  )
  .add(
    HttpApiEndpoint.get("tarpit", "/topologies/:topology_id/deckies/:decky_name/tarpit")
      .setPath(TarpitPath)
      .addSuccess(TarpitStatus)
      .middleware(Viewer)
  )
  .add(
    HttpApiEndpoint.del("tarpitOff", "/topologies/:topology_id/deckies/:decky_name/tarpit")
      .setPath(TarpitPath)
      .addSuccess(Message)
      .middleware(Admin)
  )
  // Every route of the group may answer 404 (no such topology, LAN, decky or edge) and 409 (not editable in
  // this status, a stale expected_version, a taken name, an exhausted allocator): mapped in one place.
  .addError(NotFoundWire)
  .addError(ConflictWire)
  .annotate(
    OpenApi.Description,
    "MazeNET topologies: generate, edit, deploy, live mutations (spec topology §10)"
  ) {}

/** Every group's shared failures: the envelope's 400/401/403/404/422 (spec §3). */
export class DecnetApi extends HttpApi.make("decnet")
  .add(AuthGroup)
  .add(LogsGroup)
  .add(EvidenceGroup)
  .add(HealthGroup)
  .add(ConfigGroup)
  .add(WorkersGroup)
  .add(FleetGroup)
  .add(CatalogGroup)
  .add(DeckyServicesGroup)
  .add(EvidenceFilesGroup)
  .add(TopologiesGroup)
  .addError(BadRequestWire)
  .addError(UnauthorizedWire)
  .addError(ForbiddenWire)
  .addError(UnprocessableWire)
  .prefix("/api/v1")
  .annotate(OpenApi.Title, "DECNET master API")
  .annotate(
    OpenApi.Description,
    "The DECNET master API (docs/api.md). Authenticate with POST /api/v1/auth/login and send `Authorization: Bearer <access_token>`."
  ) {}
