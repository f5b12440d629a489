/**
 * Resource limits every emulator enforces (max line/frame, idle timeout, per-IP connections).
 * Defaults are generous for real clients and tight enough that an attacker cannot pin memory.
 */
import { Config, Effect, Schema } from "effect"

export const HoneypotLimits = Schema.Struct({
  /** Longest text line (SMTP/FTP/IMAP/…) accepted before the connection is closed. */
  maxLineBytes: Schema.Number,
  /** Largest binary frame (TDS, MySQL packet, SMB, LDAP message …). */
  maxFrameBytes: Schema.Number,
  /** Close a connection idle for this many milliseconds. */
  idleTimeoutMs: Schema.Number,
  /** Concurrent connections allowed from one source IP, per listener. */
  maxConnectionsPerIp: Schema.Number,
  /** Concurrent connections per listener overall. */
  maxConnections: Schema.Number
})
export type HoneypotLimits = typeof HoneypotLimits.Type

export const defaultLimits: HoneypotLimits = {
  maxLineBytes: 8 * 1024,
  maxFrameBytes: 1024 * 1024,
  idleTimeoutMs: 120_000,
  maxConnectionsPerIp: 32,
  maxConnections: 1024
}

/** Limits from `DECNET_HONEYPOT_*` (all optional). */
export const limitsConfig: Config.Config<HoneypotLimits> = Config.all({
  maxLineBytes: Config.integer("DECNET_HONEYPOT_MAX_LINE_BYTES").pipe(
    Config.withDefault(defaultLimits.maxLineBytes)
  ),
  maxFrameBytes: Config.integer("DECNET_HONEYPOT_MAX_FRAME_BYTES").pipe(
    Config.withDefault(defaultLimits.maxFrameBytes)
  ),
  idleTimeoutMs: Config.integer("DECNET_HONEYPOT_IDLE_TIMEOUT_MS").pipe(
    Config.withDefault(defaultLimits.idleTimeoutMs)
  ),
  maxConnectionsPerIp: Config.integer("DECNET_HONEYPOT_MAX_CONN_PER_IP").pipe(
    Config.withDefault(defaultLimits.maxConnectionsPerIp)
  ),
  maxConnections: Config.integer("DECNET_HONEYPOT_MAX_CONN").pipe(
    Config.withDefault(defaultLimits.maxConnections)
  )
})

export const loadLimits = Effect.orDie(limitsConfig)
