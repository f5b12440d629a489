/**
 * The fleet's data (spec/fleet.md §1): one `Decky` per fake host and the `Deployment` that holds them.
 * The same Schemas are the `deployment` state value in the database, the `fleet_deckies` row's
 * `decky_config`, the CLI's `--json` and, later, the API's bodies.
 */
import { Schema } from "effect"
import { ServiceSlug } from "../catalog/Service.js"

/** `decky-01`, `web-02`…: the spec's DeckySpec name rule, which is also a safe container and HOSTNAME token. */
export const DeckyName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9\-_.]{1,128}$/, {
    message: () => "a decky name is 1-128 of letters, digits, '-', '_' and '.'"
  })
).annotations({ identifier: "DeckyName" })

export const Ipv4 = Schema.String.pipe(
  Schema.pattern(/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, {
    message: () => "an IPv4 address"
  })
).annotations({ identifier: "Ipv4" })

/** A decky's per-service persona config: slug → knobs, decoded by each module's Schema at start. */
export const ServiceConfigs = Schema.Record({
  key: Schema.String,
  value: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/** A file planted on a decky (`POST /deckies/files`): its fake filesystems show it. */
export const PlantedFile = Schema.Struct({
  /** Absolute and normalised: no `.`/`..` segments, no empty ones, no NUL. */
  path: Schema.String.pipe(
    Schema.pattern(/^(\/[^/\u0000]+)+$/),
    Schema.filter((p) => p.split("/").every((s) => s !== "." && s !== "..") || "no . or .. segments"),
    Schema.maxLength(4096)
  ),
  content_b64: Schema.String,
  /** Permission bits, 0o644 = 420. */
  mode: Schema.Int.pipe(Schema.between(0, 0o7777)),
  /** Epoch seconds; null: the persona's default date. */
  mtime: Schema.NullOr(Schema.Number)
})
export type PlantedFile = typeof PlantedFile.Type

export class Decky extends Schema.Class<Decky>("Decky")({
  name: DeckyName,
  /** Its own address: on the LAN (docker runtime) or on loopback 127.77.0.x (in-process runtime). */
  ip: Ipv4,
  services: Schema.NonEmptyArray(ServiceSlug),
  distro: Schema.String,
  /** The distro image the decky's container runs on (docker runtime). */
  base_image: Schema.String,
  build_base: Schema.String,
  /** What prompts and banners show. */
  hostname: Schema.String,
  archetype: Schema.NullOr(Schema.String),
  service_config: ServiceConfigs,
  /** The OS fingerprint family (`linux`, `windows`, …): the sysctl profile on Docker. */
  nmap_os: Schema.String,
  /** Minutes between service rotations; null: the deployment's. */
  mutate_interval: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  /** Epoch seconds of the last rotation (0: never; the first watcher tick then finds it due). */
  last_mutated: Schema.Number,
  last_login_attempt: Schema.Number,
  /** The swarm worker that runs it (null: this host). */
  host_uuid: Schema.NullOr(Schema.String),
  /** Files planted on it; absent in records written before they existed. */
  files: Schema.optionalWith(Schema.Array(PlantedFile), { default: () => [] })
}) {}

export const RuntimeKind = Schema.Literal("docker", "inprocess")
export type RuntimeKind = typeof RuntimeKind.Type

export class Deployment extends Schema.Class<Deployment>("Deployment")({
  mode: Schema.Literal("unihost", "swarm"),
  /** Which DeckyRuntime runs the fleet. */
  runtime: RuntimeKind,
  /** The LAN's parent interface (docker runtime), `lo` in-process. */
  interface: Schema.String,
  subnet: Schema.String,
  gateway: Schema.String,
  deckies: Schema.NonEmptyArray(Decky),
  /** The evidence log base the collector writes (`.log` + `.json`); null: DECNET_INGEST_LOG_FILE. */
  log_file: Schema.NullOr(Schema.String),
  /** ipvlan L2 instead of macvlan (shared MAC, for WiFi parents). */
  ipvlan: Schema.Boolean,
  /** The fleet-wide rotation period in minutes (per-decky `mutate_interval` wins); null: no rotation. */
  mutate_interval: Schema.NullOr(Schema.Int.pipe(Schema.positive()))
}) {}

export const DEFAULT_MUTATE_INTERVAL = 30

/** One service's listener as a runtime bound it: `redis 127.77.0.2:16379 (6379/tcp)`. */
export const BoundPort = Schema.Struct({
  service: Schema.String,
  proto: Schema.Literal("tcp", "udp"),
  /** The port the protocol is known by. */
  known: Schema.Int,
  host: Schema.String,
  port: Schema.Int
})
export type BoundPort = typeof BoundPort.Type

/** The `state` value under `deployment`: the fleet, and where its services listen. */
export const DeploymentState = Schema.Struct({
  config: Deployment,
  /** Per decky, the listeners as bound (in-process: offset ports, fallbacks). */
  ports: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Array(BoundPort) }), {
    default: () => ({})
  })
})
export type DeploymentState = typeof DeploymentState.Type

/** A decky's health as the reconciler sees it (spec §1 "Fleet reconciler"). */
export const DeckyState = Schema.Literal("pending", "running", "degraded", "failed", "torn_down")
export type DeckyState = typeof DeckyState.Type
