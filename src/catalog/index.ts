// The catalog: every built-in service plugin, archetype, distro and OS fingerprint profile, as Schemas
// plus data, with lookups by slug. Pure data and no heavy imports, so any module (the CLI root
// included) may import it at top level.
import { Effect, Option } from "effect"
import type { Archetype } from "./Archetype.js"
import { ARCHETYPES } from "./Archetypes.js"
import { type CatalogKind, type CatalogNotFound, catalogNotFound } from "./CatalogNotFound.js"
import type { Distro, HostnameStyle } from "./Distro.js"
import { DISTROS, randomHostname } from "./Distros.js"
import { type OsFamily, type OsProfile, type OsSysctls, OS_FAMILIES } from "./OsProfile.js"
import { LINUX_PROFILE, OS_PROFILES } from "./OsProfiles.js"
import type { ServiceSpec } from "./Service.js"
import { ALL_SERVICE_SLUGS, SERVICES } from "./Services.js"

export * from "./Archetype.js"
export * from "./Archetypes.js"
export * from "./CatalogNotFound.js"
export * from "./Distro.js"
export * from "./Distros.js"
export * from "./OsProfile.js"
export * from "./OsProfiles.js"
export * from "./Service.js"
export * from "./Services.js"

const bySlug = <A extends { readonly slug: string }>(items: ReadonlyArray<A>): ReadonlyMap<string, A> =>
  new Map(items.map((item) => [item.slug, item]))

const servicesBySlug = bySlug(SERVICES)
const archetypesBySlug = bySlug(ARCHETYPES)
const distrosBySlug = bySlug(DISTROS)
const profilesByFamily: ReadonlyMap<string, OsProfile> = new Map(OS_PROFILES.map((p) => [p.family, p]))

const ARCHETYPE_NAMES = ARCHETYPES.map((a) => a.slug).sort()
const DISTRO_NAMES = DISTROS.map((d) => d.slug).sort()

const orFail =
  <A>(kind: CatalogKind, find: (slug: string) => Option.Option<A>, available: ReadonlyArray<string>) =>
  (slug: string): Effect.Effect<A, CatalogNotFound> =>
    Option.match(find(slug), {
      onNone: () => Effect.fail(catalogNotFound(kind, slug, available)),
      onSome: Effect.succeed
    })

export const findService = (slug: string): Option.Option<ServiceSpec> =>
  Option.fromNullable(servicesBySlug.get(slug))
export const findArchetype = (slug: string): Option.Option<Archetype> =>
  Option.fromNullable(archetypesBySlug.get(slug))
export const findDistro = (slug: string): Option.Option<Distro> =>
  Option.fromNullable(distrosBySlug.get(slug))

/** A registered service (singletons included); fails with the sorted list of every slug. */
export const getService = orFail("service", findService, ALL_SERVICE_SLUGS)
export const getArchetype = orFail("archetype", findArchetype, ARCHETYPE_NAMES)
export const getDistro = orFail("distro", findDistro, DISTRO_NAMES)

export const isOsFamily = (slug: string): slug is OsFamily => OS_FAMILIES.some((f) => f === slug)

/** The fingerprint profile of an nmap_os slug; an unknown slug gets linux's (never an error). */
export const osProfile = (slug: string): OsProfile => profilesByFamily.get(slug) ?? LINUX_PROFILE

/** `get_os_sysctls`: the sysctls a decky's base container gets for its nmap_os. */
export const osSysctls = (slug: string): OsSysctls => osProfile(slug).sysctls

/** The hostname style of a distro; an unknown slug is styled generic, as the original does. */
export const hostnameStyle = (distro: string): HostnameStyle =>
  Option.match(findDistro(distro), { onNone: () => "generic", onSome: (d) => d.hostname_style })

/** `random_hostname(distro)`: a plausible hostname for a decky of that distro. */
export const randomHostnameFor = (distro: string): Effect.Effect<string> =>
  randomHostname(hostnameStyle(distro))
