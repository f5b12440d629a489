/**
 * IPv4 addresses and CIDR networks as unsigned 32-bit numbers: the arithmetic MazeNET's allocators and
 * validator need, with Python `ipaddress`'s two parses (strict: host bits are an error; loose: ignored).
 * Small enough to own rather than take a dependency for.
 */
import { Option } from "effect"

/** Dotted quad, each octet 0–255 without leading zeros (as `ipaddress` since Python 3.9.5). */
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

export const parseIpv4 = (s: string): Option.Option<number> =>
  DOTTED_QUAD.test(s)
    ? Option.some(s.split(".").reduce((n, octet) => n * 256 + Number(octet), 0))
    : Option.none()

export const formatIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

/** A network: its first address, prefix length and last (broadcast) address. */
export interface Cidr {
  readonly network: number
  readonly prefix: number
  readonly broadcast: number
}

export const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

export const cidrOf = (address: number, prefix: number): Cidr => {
  const mask = maskOf(prefix)
  const network = (address & mask) >>> 0
  return { network, prefix, broadcast: (network | ~mask) >>> 0 }
}

/** `a.b.c.d/nn` (`ipaddress`'s `with_prefixlen`). */
export const formatCidr = (cidr: Cidr): string => `${formatIpv4(cidr.network)}/${cidr.prefix}`

const prefixOfSuffix = (suffix: string): Option.Option<number> => {
  if (/^\d{1,2}$/.test(suffix)) {
    const prefix = Number(suffix)
    return prefix <= 32 ? Option.some(prefix) : Option.none()
  }
  // A netmask (255.255.255.0) stands for its prefix when its ones are contiguous.
  return Option.flatMap(parseIpv4(suffix), (mask) => {
    const ones = Math.clz32(~mask >>> 0)
    return maskOf(ones) === mask ? Option.some(ones) : Option.none()
  })
}

/**
 * `a.b.c.d/nn`, `a.b.c.d/255.255.255.0` or a bare address (a /32). `strict`: an address with host bits set
 * (`10.0.0.5/24`) is not a network (`IPv4Network(s)`); otherwise they are dropped (`strict=False`).
 */
export const parseCidr = (s: string, options: { readonly strict: boolean }): Option.Option<Cidr> => {
  const [addr = "", suffix, ...extra] = s.split("/")
  if (extra.length > 0) return Option.none()
  return Option.flatMap(parseIpv4(addr), (address) =>
    Option.flatMap(suffix === undefined ? Option.some(32) : prefixOfSuffix(suffix), (prefix) => {
      const cidr = cidrOf(address, prefix)
      return options.strict && cidr.network !== address ? Option.none() : Option.some(cidr)
    })
  )
}

export const contains = (cidr: Cidr, address: number): boolean =>
  address >= cidr.network && address <= cidr.broadcast

export const overlaps = (a: Cidr, b: Cidr): boolean => a.network <= b.broadcast && b.network <= a.broadcast

/**
 * The usable hosts, as `IPv4Network.hosts()`: network and broadcast excluded, except that a /31 has two
 * hosts and a /32 one.
 */
export const hostRange = (cidr: Cidr): { readonly first: number; readonly last: number } =>
  cidr.prefix >= 31
    ? { first: cidr.network, last: cidr.broadcast }
    : { first: cidr.network + 1, last: cidr.broadcast - 1 }
