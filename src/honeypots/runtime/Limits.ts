/**
 * Resource limits every emulator enforces: line and frame sizes, write backlog, idle timeout, the
 * pre-login grace and session cap, connections per IP and per listener. Defaults are generous for
 * real clients and tight enough that an attacker cannot pin memory or hold a listener's slots. The
 * operator sets them through DecnetConfig (`DECNET_HONEYPOT_*`, docs/configuration.md).
 */
import { Schema } from "effect"

export const HoneypotLimits = Schema.Struct({
  /** Longest text line (SMTP/FTP/IMAP/…) accepted before the connection is closed. */
  maxLineBytes: Schema.Number,
  /** Largest binary frame (TDS, MySQL packet, SMB, LDAP message …). */
  maxFrameBytes: Schema.Number,
  /** Replies queued for a client past this many bytes: stop reading it until they drain. */
  writeHighWaterBytes: Schema.Number,
  /** Replies queued past this many bytes: the client is not reading; close it (`write_backlog`). */
  maxWriteBacklogBytes: Schema.Number,
  /** Close a connection that neither sends nor receives for this many milliseconds. */
  idleTimeoutMs: Schema.Number,
  /**
   * A connection that has not logged in closes this long after it opened, however it trickles
   * (OpenSSH's LoginGraceTime, 120 s). Services without a login apply it to the whole connection.
   */
  loginGraceMs: Schema.Number,
  /** A logged-in session closes this long after the login. */
  maxSessionMs: Schema.Number,
  /** Concurrent connections allowed from one source IP, per listener. */
  maxConnectionsPerIp: Schema.Number,
  /** Concurrent connections per listener overall. */
  maxConnections: Schema.Number
})
export type HoneypotLimits = typeof HoneypotLimits.Type

export const defaultLimits: HoneypotLimits = {
  maxLineBytes: 8 * 1024,
  maxFrameBytes: 1024 * 1024,
  writeHighWaterBytes: 256 * 1024,
  maxWriteBacklogBytes: 8 * 1024 * 1024,
  idleTimeoutMs: 120_000,
  loginGraceMs: 120_000,
  maxSessionMs: 3_600_000,
  maxConnectionsPerIp: 32,
  maxConnections: 1024
}
