/**
 * Proxy-family request headers (RFC 7239 `Forwarded`, `X-Forwarded-For`, `X-Real-IP`, `True-Client-IP`,
 * `CF-Connecting-IP`) read as an attacker's claim about its own address. A public address other than the
 * peer is probably the client's real one, leaked by a misconfigured proxy or VPN (`ip_leak`); a
 * non-routable one (`X-Forwarded-For: 127.0.0.1`) is a bypass attempt (`spoofed_source`). Peers listed in
 * DECNET_TRUSTED_PROXIES are our own reverse proxies: their headers are legitimate and say nothing.
 */
import { BlockList, isIP } from "node:net"
import type { ClaimCategory, IpLeak, SpoofedSourceFingerprint } from "./Bounty.js"

/** In priority order: the first one that names an address is the claim. */
export const PROXY_HEADERS = [
  "Forwarded",
  "X-Forwarded-For",
  "X-Real-IP",
  "True-Client-IP",
  "CF-Connecting-IP"
] as const

type Family = "ipv4" | "ipv6"

const familyOf = (ip: string): Family | undefined => {
  const v = isIP(ip)
  return v === 4 ? "ipv4" : v === 6 ? "ipv6" : undefined
}

const blockList = (ranges: ReadonlyArray<readonly [string, number]>): BlockList => {
  const list = new BlockList()
  for (const [net, prefix] of ranges) {
    const family = familyOf(net)
    if (family !== undefined) list.addSubnet(net, prefix, family)
  }
  return list
}

// The special-purpose ranges of RFC 6890 as Python's ipaddress classifies them (the original's
// semantics), checked in this order: the first match names the category.
const CATEGORIES: ReadonlyArray<readonly [ClaimCategory, BlockList]> = [
  [
    "unspecified",
    blockList([
      ["0.0.0.0", 32],
      ["::", 128]
    ])
  ],
  [
    "loopback",
    blockList([
      ["127.0.0.0", 8],
      ["::1", 128]
    ])
  ],
  [
    "link_local",
    blockList([
      ["169.254.0.0", 16],
      ["fe80::", 10]
    ])
  ],
  [
    "multicast",
    blockList([
      ["224.0.0.0", 4],
      ["ff00::", 8]
    ])
  ],
  ["reserved", blockList([["240.0.0.0", 4]])],
  [
    "private",
    blockList([
      ["0.0.0.0", 8],
      ["10.0.0.0", 8],
      ["100.64.0.0", 10],
      ["172.16.0.0", 12],
      ["192.0.0.0", 24],
      ["192.0.2.0", 24],
      ["192.168.0.0", 16],
      ["198.18.0.0", 15],
      ["198.51.100.0", 24],
      ["203.0.113.0", 24],
      ["fc00::", 7],
      ["2001::", 23],
      ["2001:db8::", 32]
    ])
  ]
]

/** IPv6 global unicast: outside it (and the ranges above), an IPv6 address is reserved. */
const GLOBAL_UNICAST_V6 = blockList([["2000::", 3]])

/** `public`, or why the address cannot be a client's real one. */
export const categorize = (ip: string): ClaimCategory | "public" | undefined => {
  let family = familyOf(ip)
  if (family === undefined) return undefined
  // ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  const addr = mapped?.[1] ?? ip
  if (mapped !== null) family = "ipv4"
  for (const [category, list] of CATEGORIES) if (list.check(addr, family)) return category
  if (family === "ipv6" && !GLOBAL_UNICAST_V6.check(addr, "ipv6")) return "reserved"
  return "public"
}

/**
 * DECNET_TRUSTED_PROXIES (addresses or CIDRs) as a matcher. Entries that are neither come back in
 * `invalid` so the caller can warn once instead of refusing to start over a typo.
 */
export const trustedProxies = (
  entries: ReadonlyArray<string>
): { readonly isTrusted: (ip: string) => boolean; readonly invalid: ReadonlyArray<string> } => {
  const list = new BlockList()
  const invalid: Array<string> = []
  for (const raw of entries) {
    const entry = raw.trim()
    const slash = entry.indexOf("/")
    const net = slash < 0 ? entry : entry.slice(0, slash)
    const family = familyOf(net)
    const max = family === "ipv4" ? 32 : 128
    const prefix =
      slash < 0 ? max : /^\d{1,3}$/.test(entry.slice(slash + 1)) ? Number(entry.slice(slash + 1)) : -1
    if (family === undefined || prefix < 0 || prefix > max) invalid.push(raw)
    else list.addSubnet(net, prefix, family)
  }
  return {
    isTrusted: (ip) => {
      const family = familyOf(ip)
      return family !== undefined && list.check(ip, family)
    },
    invalid
  }
}

/** Case-insensitive header lookup; a blank value counts as absent. */
export const lookupHeader = (headers: Readonly<Record<string, string>>, name: string): string | undefined => {
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted) continue
    const v = value.trim()
    if (v !== "") return v
  }
  return undefined
}

const bare = (token: string): string =>
  token
    .trim()
    .replace(/^"+|"+$/g, "")
    .replace(/^\[/, "")
    .replace(/\]$/, "")

/** The first `for=` address of RFC 7239 `Forwarded` (`for=1.2.3.4:80`, `for="[2001:db8::1]:4711"`). */
export const parseForwarded = (value: string): string | undefined => {
  const m = /for\s*=\s*"?([^",;]+?)"?(?=[;,]|$)/i.exec(value)
  let token = m?.[1]?.trim()
  if (token === undefined || token === "") return undefined
  if (token.startsWith("[")) {
    const end = token.indexOf("]")
    if (end > 0) token = token.slice(1, end)
  } else if (token.split(":").length === 2) {
    token = token.slice(0, token.indexOf(":"))
  }
  return familyOf(token) === undefined ? undefined : token
}

/** The left-most address of an X-Forwarded-For chain (the original client, by convention). */
export const parseXffChain = (value: string): string | undefined => {
  for (const part of value.split(",")) {
    const token = bare(part)
    if (token !== "" && familyOf(token) !== undefined) return token
  }
  return undefined
}

/** The claimed address and the header it came from, walking PROXY_HEADERS in order. */
export const claimedAddress = (
  headers: Readonly<Record<string, string>>
): { readonly ip: string; readonly header: string } | undefined => {
  for (const header of PROXY_HEADERS) {
    const raw = lookupHeader(headers, header)
    if (raw === undefined) continue
    const ip =
      header === "Forwarded"
        ? parseForwarded(raw)
        : header === "X-Forwarded-For"
          ? parseXffChain(raw)
          : familyOf(bare(raw)) === undefined
            ? undefined
            : bare(raw)
    if (ip !== undefined) return { ip, header }
  }
  return undefined
}

export type ProxyClaim =
  | { readonly kind: "leak"; readonly payload: typeof IpLeak.Type }
  | { readonly kind: "spoof"; readonly payload: typeof SpoofedSourceFingerprint.Type }

/**
 * What a request's proxy headers say about `sourceIp` (the TCP peer): nothing (no header, a trusted
 * proxy, the peer's own address, nothing parseable), a leak, or a spoof.
 */
export const classifyProxyClaim = (
  sourceIp: string,
  headers: Readonly<Record<string, string>>,
  isTrusted: (ip: string) => boolean
): ProxyClaim | undefined => {
  if (isTrusted(sourceIp)) return undefined
  const claim = claimedAddress(headers)
  if (claim === undefined || claim.ip === sourceIp) return undefined
  const category = categorize(claim.ip)
  if (category === undefined) return undefined
  const seen: Record<string, string> = {}
  for (const h of PROXY_HEADERS) {
    const raw = lookupHeader(headers, h)
    if (raw !== undefined) seen[h] = raw
  }
  const base = { source_ip: sourceIp, source_header: claim.header, headers_seen: seen }
  return category === "public"
    ? { kind: "leak", payload: { ...base, real_ip_claim: claim.ip } }
    : {
        kind: "spoof",
        payload: {
          fingerprint_type: "spoofed_source",
          ...base,
          claimed_ip: claim.ip,
          claim_category: category
        }
      }
}
