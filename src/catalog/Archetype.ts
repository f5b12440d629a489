// The shape of one archetype (spec/fleet.md §4): a ready-made machine identity (services, distros to
// rotate through, OS fingerprint) so an operator can ask for "3 file servers" without picking parts.
import { Schema } from "effect"
import { DistroSlug } from "./Distro.js"
import { OsFamily } from "./OsProfile.js"
import { ServiceSlug } from "./Service.js"

/** Every archetype, in the spec's table order. */
export const ARCHETYPE_SLUGS = [
  "windows-workstation",
  "windows-server",
  "domain-controller",
  "linux-server",
  "web-server",
  "database-server",
  "mail-server",
  "file-server",
  "printer",
  "iot-device",
  "industrial-control",
  "voip-server",
  "monitoring-node",
  "devops-host",
  "deaddeck"
] as const

export const ArchetypeSlug = Schema.Literal(...ARCHETYPE_SLUGS)
export type ArchetypeSlug = typeof ArchetypeSlug.Type

/** `ArchetypeEntry` in the spec: the same keys the topology API returns. */
export const Archetype = Schema.Struct({
  slug: ArchetypeSlug,
  display_name: Schema.String,
  description: Schema.String,
  /** The default service set of a decky of this kind. */
  services: Schema.NonEmptyArray(ServiceSlug),
  /** Distros cycled through when deckies of this kind are planned. */
  preferred_distros: Schema.NonEmptyArray(DistroSlug),
  /** OS fingerprint family (used unless the decky sets nmap_os itself). */
  nmap_os: OsFamily
})
export type Archetype = typeof Archetype.Type
