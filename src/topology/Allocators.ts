/**
 * The address allocators of one planning pass (spec/topology.md §5): host addresses inside a LAN and /24s
 * under a base. Plain classes holding in-memory state, not services: the generator, the editor routes and
 * the mutator each make one, use it in a synchronous loop and drop it, so a `Ref` would add ceremony and
 * nothing else. Every fallible method returns an `Either` with a tagged error and never throws.
 */
import { Either, Option } from "effect"
import { AllocatorExhausted, TopologyRejected } from "./Errors.js"
import {
  type Cidr,
  cidrOf,
  contains,
  formatCidr,
  formatIpv4,
  hostRange,
  overlaps,
  parseCidr,
  parseIpv4
} from "./Ipv4.js"

/**
 * Host addresses of one LAN subnet, skipping its first host (the `.1` gateway). Addresses go out in order
 * from a cursor; once the cursor passes the end, a linear rescan finds released ones.
 */
export class IpAllocator {
  private readonly taken = new Set<number>()
  private readonly first: number
  private readonly last: number
  private cursor: number

  private constructor(readonly cidr: Cidr) {
    const hosts = hostRange(cidr)
    this.first = hosts.first
    this.last = hosts.last
    this.cursor = hosts.first + 1
  }

  /** The subnet in loose form: host bits are dropped (`10.0.0.7/24` is 10.0.0.0/24). */
  static make(subnet: string): Either.Either<IpAllocator, TopologyRejected> {
    return Option.match(parseCidr(subnet.trim(), { strict: false }), {
      onNone: () => Either.left(new TopologyRejected({ message: `'${subnet}' is not an IPv4 network` })),
      onSome: (cidr) => Either.right(new IpAllocator(cidr))
    })
  }

  static ofCidr(cidr: Cidr): IpAllocator {
    return new IpAllocator(cidr)
  }

  /** `a.b.c.d/nn`, as the error texts name it. */
  get subnet(): string {
    return formatCidr(this.cidr)
  }

  get gateway(): string {
    return formatIpv4(this.first)
  }

  nextFree(): Either.Either<string, AllocatorExhausted> {
    while (this.cursor <= this.last) {
      const ip = this.cursor++
      if (!this.taken.has(ip)) return Either.right(this.take(ip))
    }
    for (let ip = this.first + 1; ip <= this.last; ip++) {
      if (!this.taken.has(ip)) return Either.right(this.take(ip))
    }
    return Either.left(new AllocatorExhausted({ message: `no free IPs left in ${this.subnet}` }))
  }

  /** Marks `ip` taken (idempotent); the gateway and addresses that are not hosts of the subnet are refused. */
  reserve(ip: string): Either.Either<void, TopologyRejected> {
    if (ip === this.gateway) {
      return Either.left(new TopologyRejected({ message: `${ip} is the gateway of ${this.subnet}` }))
    }
    const host = Option.filter(parseIpv4(ip), (n) => n >= this.first && n <= this.last)
    if (Option.isNone(host))
      return Either.left(new TopologyRejected({ message: `${ip} not in ${this.subnet}` }))
    this.taken.add(host.value)
    return Either.void
  }

  release(ip: string): void {
    Option.map(parseIpv4(ip), (n) => this.taken.delete(n))
  }

  isFree(ip: string): boolean {
    return Option.match(parseIpv4(ip), {
      onNone: () => false,
      onSome: (n) => n > this.first && n <= this.last && !this.taken.has(n)
    })
  }

  private take(ip: number): string {
    this.taken.add(ip)
    return formatIpv4(ip)
  }
}

const SLOT = 24
const slotOf = (address: number): number => cidrOf(address, SLOT).network

/**
 * Networks already claimed. A claim blocks every /24 it overlaps, so a hand-made /16 LAN or a /25 holds
 * its /24s too (the original compared subnet strings, and handed out a /24 inside a reserved /16).
 */
class Claims {
  private readonly slots = new Set<number>()
  private readonly wide: Array<Cidr> = []

  add(cidr: Cidr): void {
    if (cidr.prefix >= SLOT) this.slots.add(slotOf(cidr.network))
    else this.wide.push(cidr)
  }

  blocks(cidr: Cidr): boolean {
    if (this.wide.some((w) => overlaps(w, cidr))) return true
    if (cidr.prefix >= SLOT) return this.slots.has(slotOf(cidr.network))
    for (const slot of this.slots) if (contains(cidr, slot)) return true
    return false
  }
}

/**
 * The base forms (§5): a CIDR (`172.16.0.0/12`, host bits dropped), two octets (`172.20` is a /16) or four
 * octets without a prefix (a /24); trailing dots are ignored.
 */
export const parseSubnetBase = (base: string): Either.Either<Cidr, TopologyRejected> => {
  const stripped = base.trim().replace(/\.+$/, "")
  const octets = stripped.split(".").length
  const candidate = stripped.includes("/")
    ? stripped
    : octets === 2
      ? `${stripped}.0.0/16`
      : octets === 4
        ? `${stripped}/24`
        : undefined
  const parsed = candidate === undefined ? Option.none() : parseCidr(candidate, { strict: false })
  if (Option.isNone(parsed)) {
    return Either.left(
      new TopologyRejected({ message: `unrecognised subnet base '${base}'; expected 'x.y' or CIDR` })
    )
  }
  if (parsed.value.prefix > SLOT) {
    return Either.left(
      new TopologyRejected({
        message: `subnet base ${formatCidr(parsed.value)} is narrower than /24; cannot carve /24 children out of it`
      })
    )
  }
  return Either.right(parsed.value)
}

/**
 * /24 subnets under a parent network, in address order (a /24 parent is exactly one slot), skipping
 * claimed ones; every subnet handed out is claimed. A /12 holds 4096.
 */
export class SubnetAllocator {
  private readonly claims = new Claims()
  private index = 0

  private constructor(readonly parentCidr: Cidr) {}

  /** `reserved`: subnets held elsewhere (other topologies' LANs); one that does not parse holds nothing. */
  static make(
    base: string,
    reserved: Iterable<string> = []
  ): Either.Either<SubnetAllocator, TopologyRejected> {
    return Either.map(parseSubnetBase(base), (parent) => {
      const allocator = new SubnetAllocator(parent)
      for (const subnet of reserved) {
        Option.map(parseCidr(subnet.trim(), { strict: false }), (cidr) => allocator.claims.add(cidr))
      }
      return allocator
    })
  }

  get parent(): string {
    return formatCidr(this.parentCidr)
  }

  /** How many /24s the parent holds. */
  get capacity(): number {
    return 2 ** (SLOT - this.parentCidr.prefix)
  }

  nextFree(): Either.Either<string, AllocatorExhausted> {
    while (this.index < this.capacity) {
      const slot = cidrOf(this.parentCidr.network + this.index * 256, SLOT)
      this.index++
      if (!this.claims.blocks(slot)) {
        this.claims.add(slot)
        return Either.right(formatCidr(slot))
      }
    }
    return Either.left(new AllocatorExhausted({ message: `no free /24s left under ${this.parent}` }))
  }

  /** Claims `subnet` (idempotent). */
  reserve(subnet: string): Either.Either<void, TopologyRejected> {
    return Option.match(parseCidr(subnet.trim(), { strict: false }), {
      onNone: () => Either.left(new TopologyRejected({ message: `'${subnet}' is not an IPv4 network` })),
      onSome: (cidr) => Either.right(this.claims.add(cidr))
    })
  }

  /** Free: a network that overlaps no claim. */
  isFree(subnet: string): boolean {
    return Option.match(parseCidr(subnet.trim(), { strict: false }), {
      onNone: () => false,
      onSome: (cidr) => !this.claims.blocks(cidr)
    })
  }
}
