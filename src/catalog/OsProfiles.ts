// The 6 OS fingerprint profiles (spec/fleet.md §4 OS_SYSCTLS and the §2 cloak profiles). TTL is nmap's
// first discriminator (64 Linux/BSD, 128 Windows, 255 embedded/network gear); the rest tune its
// OPS/WIN/ECN/T2-T6/IE probe groups.
import type { MangleProfile, OsFamily, OsProfile, OsSysctls } from "./OsProfile.js"

const sysctls = (
  ttl: number,
  synRetries: number,
  timestamps: number,
  windowScaling: number,
  sack: number,
  ecn: number,
  noPmtuDisc: number,
  finTimeout: number,
  icmpRatelimit: number,
  icmpRatemask: number
): OsSysctls => ({
  "net.ipv4.ip_default_ttl": String(ttl),
  "net.ipv4.tcp_syn_retries": String(synRetries),
  "net.ipv4.tcp_timestamps": String(timestamps),
  "net.ipv4.tcp_window_scaling": String(windowScaling),
  "net.ipv4.tcp_sack": String(sack),
  "net.ipv4.tcp_ecn": String(ecn),
  "net.ipv4.ip_no_pmtu_disc": String(noPmtuDisc),
  "net.ipv4.tcp_fin_timeout": String(finTimeout),
  "net.ipv4.icmp_ratelimit": String(icmpRatelimit),
  "net.ipv4.icmp_ratemask": String(icmpRatemask)
})

// Windows answers SYNs with window 0x2000, MSS 1460, wscale 8 and this option order.
const windowsMangle = (ipid: MangleProfile["ipid"]): MangleProfile => ({
  window: 0x2000,
  mss: 1460,
  wscale: 8,
  option_order: ["MSS", "NOP", "WScale", "SAckOK", "TS"],
  ipid,
  respond_t2t3: true
})

const profile = (family: OsFamily, s: OsSysctls, mangle: MangleProfile | null = null): OsProfile => ({
  family,
  sysctls: s,
  mangle
})

/** Also the profile of every unknown slug. */
export const LINUX_PROFILE = profile("linux", sysctls(64, 6, 1, 1, 1, 2, 0, 60, 1000, 6168))

export const OS_PROFILES: ReadonlyArray<OsProfile> = [
  LINUX_PROFILE,
  // Modern Windows keeps TCP timestamps on (nmap SEQ.TS=A); a workstation does not negotiate ECN.
  profile("windows", sysctls(128, 2, 1, 1, 1, 0, 0, 30, 0, 0), windowsMangle("incr")),
  // Server 2016/2019: the workstation stack with ECN negotiated and a random IP-ID.
  profile("windows_server", sysctls(128, 2, 1, 1, 1, 1, 0, 30, 0, 0), windowsMangle("random")),
  profile("bsd", sysctls(64, 6, 1, 1, 1, 0, 0, 60, 250, 6168)),
  profile("embedded", sysctls(255, 3, 0, 0, 0, 0, 1, 15, 0, 0)),
  profile("cisco", sysctls(255, 2, 0, 0, 0, 0, 1, 15, 0, 0))
]
