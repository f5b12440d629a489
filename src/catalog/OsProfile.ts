// The shape of one OS fingerprint profile (spec/fleet.md §4): the network-namespace sysctls that make a
// decky's TCP/IP stack answer nmap like the claimed OS, plus, for Windows families, the SYN-ACK rewrite
// the cloak applies on egress (spec §2), which no sysctl can express.
import { Schema } from "effect"

/** Every OS family, in the spec's table order. */
export const OS_FAMILIES = ["linux", "windows", "windows_server", "bsd", "embedded", "cisco"] as const

export const OsFamily = Schema.Literal(...OS_FAMILIES)
export type OsFamily = typeof OsFamily.Type

/** The family an unknown slug falls back to. */
export const DEFAULT_OS_FAMILY: OsFamily = "linux"

/** All ten keys, always present; values are strings, as container sysctls are. */
export const OsSysctls = Schema.Struct({
  "net.ipv4.ip_default_ttl": Schema.String,
  "net.ipv4.tcp_syn_retries": Schema.String,
  "net.ipv4.tcp_timestamps": Schema.String,
  "net.ipv4.tcp_window_scaling": Schema.String,
  "net.ipv4.tcp_sack": Schema.String,
  "net.ipv4.tcp_ecn": Schema.String,
  "net.ipv4.ip_no_pmtu_disc": Schema.String,
  "net.ipv4.tcp_fin_timeout": Schema.String,
  "net.ipv4.icmp_ratelimit": Schema.String,
  "net.ipv4.icmp_ratemask": Schema.String
})
export type OsSysctls = typeof OsSysctls.Type

export const TcpOption = Schema.Literal("MSS", "NOP", "WScale", "SAckOK", "TS")

/** How the cloak rewrites the decky's SYN-ACKs (window, options, IP-ID) to match the family. */
export const MangleProfile = Schema.Struct({
  window: Schema.Int,
  mss: Schema.Int,
  wscale: Schema.Int,
  /** Emitted option layout; TS is kept only when the kernel sent a timestamp. */
  option_order: Schema.Array(TcpOption),
  /** incr: incremental IP-ID (nmap TI=I); random (TI=RD); keep: untouched. */
  ipid: Schema.Literal("incr", "random", "keep"),
  /** Synthesize Windows replies to nmap's T2/T3 probes. */
  respond_t2t3: Schema.Boolean
})
export type MangleProfile = typeof MangleProfile.Type

export const OsProfile = Schema.Struct({
  family: OsFamily,
  sysctls: OsSysctls,
  /** null when the real Linux stack already approximates the family. */
  mangle: Schema.NullOr(MangleProfile)
})
export type OsProfile = typeof OsProfile.Type
