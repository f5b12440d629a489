/**
 * Host INI (`/etc/decnet/decnet.ini`) → `DECNET_*` variables, per spec logging-and-config §3.
 * Pure: the text goes in, an env-shaped map plus warnings come out; file I/O lives in ConfigProvider.ts.
 */
import * as ini from "ini"

/** Domain sections have explicit maps; anything else in them is warned about and ignored. */
export const DOMAIN_SECTIONS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  api: { host: "DECNET_API_HOST", port: "DECNET_API_PORT" },
  web: {
    host: "DECNET_WEB_HOST",
    port: "DECNET_WEB_PORT",
    "admin-user": "DECNET_ADMIN_USER",
    "cors-origins": "DECNET_CORS_ORIGINS"
  },
  database: {
    type: "DECNET_DB_TYPE",
    url: "DECNET_DB_URL",
    host: "DECNET_DB_HOST",
    port: "DECNET_DB_PORT",
    name: "DECNET_DB_NAME",
    user: "DECNET_DB_USER"
  },
  bus: {
    enabled: "DECNET_BUS_ENABLED",
    type: "DECNET_BUS_TYPE",
    socket: "DECNET_BUS_SOCKET",
    group: "DECNET_BUS_GROUP"
  },
  swarm: {
    "master-host": "DECNET_SWARM_MASTER_HOST",
    "syslog-port": "DECNET_SWARM_SYSLOG_PORT",
    "swarmctl-port": "DECNET_SWARMCTL_PORT",
    "swarmctl-host": "DECNET_SWARMCTL_HOST"
  },
  logging: {
    "system-log": "DECNET_SYSTEM_LOGS",
    "ingest-log": "DECNET_INGEST_LOG_FILE",
    "agent-log": "DECNET_AGENT_LOG_FILE"
  },
  ingester: { "batch-size": "DECNET_BATCH_SIZE", "batch-max-wait-ms": "DECNET_BATCH_MAX_WAIT_MS" },
  tracing: { enabled: "DECNET_DEVELOPER_TRACING", "otel-endpoint": "DECNET_OTEL_ENDPOINT" }
}

/**
 * Secrets must come from the environment (or a secret store), never a world-readable INI.
 * Even the automatic `[decnet]`/`[agent]`/`[master]` mapping refuses them.
 */
export const SECRET_VARS: ReadonlySet<string> = new Set([
  "DECNET_JWT_SECRET",
  "DECNET_ADMIN_PASSWORD",
  "DECNET_DB_PASSWORD",
  "DECNET_SECRET_KEY",
  "DECNET_API_TOKEN",
  "DECNET_CANARY_FINGERPRINT_SECRET",
  "DECNET_GREYNOISE_API_KEY",
  "DECNET_ABUSEIPDB_API_KEY",
  "DECNET_THREATFOX_API_KEY",
  "DECNET_MALWAREBAZAAR_AUTH_KEY"
])

export interface IniEnv {
  readonly env: ReadonlyMap<string, string>
  readonly warnings: ReadonlyArray<string>
}

/** `disallow-master` → `DECNET_DISALLOW_MASTER`. */
export const keyToEnv = (key: string): string =>
  `DECNET_${key
    .trim()
    .replace(/[^A-Za-z0-9]+/g, "_")
    .toUpperCase()}`

const scalar = (value: unknown): string | undefined => {
  // `ini` yields booleans for bare `key` lines and arrays for `key[]`; keep only plain scalars.
  if (typeof value === "string") return value.trim()
  if (typeof value === "boolean") return value ? "true" : "false"
  return undefined
}

const sectionEntries = (
  doc: Record<string, unknown>,
  name: string
): ReadonlyArray<readonly [string, unknown]> => {
  const section = Object.hasOwn(doc, name) ? doc[name] : undefined
  return section !== null && typeof section === "object" && !Array.isArray(section)
    ? Object.entries(section)
    : []
}

/**
 * Map INI text to `DECNET_*` values. `mode` is the already-known mode (from the real environment);
 * when absent the `[decnet] mode` key decides which of `[agent]`/`[master]` applies (default master).
 * Never throws: anything `ini` cannot make sense of is simply absent from the result.
 */
export const iniToEnv = (text: string, mode?: string): IniEnv => {
  const doc: Record<string, unknown> = ini.parse(text)
  const env = new Map<string, string>()
  const warnings: Array<string> = []
  const put = (section: string, key: string, name: string, raw: unknown): void => {
    const value = scalar(raw)
    if (value === undefined) {
      warnings.push(`[${section}] ${key}: not a plain value, ignored`)
    } else if (SECRET_VARS.has(name)) {
      warnings.push(
        `[${section}] ${key}: secrets are never read from the INI file; set ${name} in the environment`
      )
    } else if (!env.has(name)) {
      env.set(name, value)
    }
  }
  for (const [key, value] of sectionEntries(doc, "decnet")) put("decnet", key, keyToEnv(key), value)
  const effectiveMode = (mode ?? env.get("DECNET_MODE") ?? "master").trim().toLowerCase()
  if (effectiveMode === "agent" || effectiveMode === "master") {
    for (const [key, value] of sectionEntries(doc, effectiveMode))
      put(effectiveMode, key, keyToEnv(key), value)
  }
  for (const [section, map] of Object.entries(DOMAIN_SECTIONS)) {
    for (const [key, value] of sectionEntries(doc, section)) {
      const name = Object.hasOwn(map, key.trim()) ? map[key.trim()] : undefined
      if (name === undefined) warnings.push(`[${section}] ${key}: unknown key, ignored`)
      else put(section, key, name, value)
    }
  }
  return { env, warnings }
}
