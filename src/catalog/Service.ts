// The shape of one catalog entry: a registered honeypot service plugin (spec/fleet.md §3). The same
// Schema encodes `decnet services --json` and, later, the API's service catalog; field names follow the
// spec's wire spelling (snake_case).
import { Schema } from "effect"

/** Every registered plugin, in the order of the spec's catalog table. */
export const SERVICE_SLUGS = [
  "ssh",
  "telnet",
  "http",
  "https",
  "ftp",
  "tftp",
  "smb",
  "rdp",
  "vnc",
  "smtp",
  "smtp_relay",
  "imap",
  "pop3",
  "ldap",
  "llmnr",
  "mysql",
  "postgres",
  "mssql",
  "mongodb",
  "redis",
  "elasticsearch",
  "mqtt",
  "snmp",
  "sip",
  "k8s",
  "docker_api",
  "dns",
  "conpot",
  "sniffer"
] as const

/**
 * Events the honeypot runtime logs for every service, besides the service's own: the listener came
 * up, refused connections (aggregated per source), and a connection the runtime cut (deadline or
 * write backlog). The runtime's definitions are held to this list by a test.
 */
export const RUNTIME_EVENTS = ["startup", "connection_refused", "connection_closed"] as const

export const ServiceSlug = Schema.Literal(...SERVICE_SLUGS)
export type ServiceSlug = typeof ServiceSlug.Type

/** How an operator-facing form renders a knob and how a submitted value is coerced. */
export const ConfigFieldType = Schema.Literal(
  "string",
  "password",
  "int",
  "bool",
  "textarea",
  "enum",
  "multi_enum"
)
export type ConfigFieldType = typeof ConfigFieldType.Type

/** A field default: text, a number, a flag, or (multi_enum) a list of choices. */
export const ConfigValue = Schema.Union(
  Schema.String,
  Schema.Number,
  Schema.Boolean,
  Schema.Array(Schema.String)
)
export type ConfigValue = typeof ConfigValue.Type

/**
 * One user-editable knob of a service (`ServiceConfigField` in the spec). Absent default/help/placeholder
 * are `null` on the wire, as the original's schema route returns them; `enum` appears only on enum fields.
 */
export const ServiceConfigField = Schema.Struct({
  key: Schema.String,
  label: Schema.String,
  type: ConfigFieldType,
  default: Schema.optionalWith(Schema.NullOr(ConfigValue), { default: () => null }),
  /** Masked in forms and logs (passwords, private keys). */
  secret: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  help: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  enum: Schema.optional(Schema.Array(Schema.String)),
  placeholder: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
export type ServiceConfigField = typeof ServiceConfigField.Type

export const Port = Schema.Int.pipe(Schema.between(1, 65535))

/** Container-internal ports the plugin claims, by transport. */
export const ServicePorts = Schema.Struct({
  tcp: Schema.Array(Port),
  udp: Schema.Array(Port)
})
export type ServicePorts = typeof ServicePorts.Type

export const ServiceSpec = Schema.Struct({
  slug: ServiceSlug,
  /** What the attacker sees (the spec's "emulates" column). */
  description: Schema.String,
  ports: ServicePorts,
  /** MSGIDs (event types) the service logs: its own, then the runtime's (`RUNTIME_EVENTS`). */
  events: Schema.Array(Schema.String),
  config_schema: Schema.Array(ServiceConfigField),
  /** Runs once per fleet, never per decky; excluded from `allServiceNames`. */
  fleet_singleton: Schema.Boolean
})
export type ServiceSpec = typeof ServiceSpec.Type
