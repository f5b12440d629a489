// The shape of one distro profile (spec/fleet.md §4): the base image a decky's base container runs,
// how its hostnames look, and the apt-compatible image service builds start FROM.
import { Schema } from "effect"

/** Every distro, in the spec's table order. */
export const DISTRO_SLUGS = [
  "debian",
  "ubuntu22",
  "ubuntu20",
  "rocky9",
  "centos7",
  "alpine",
  "fedora",
  "kali",
  "arch"
] as const

export const DistroSlug = Schema.Literal(...DISTRO_SLUGS)
export type DistroSlug = typeof DistroSlug.Type

/** rhel `word42.localdomain`, minimal `word-42`, rolling `word-word`, generic `SRV-WORD-42`. */
export const HostnameStyle = Schema.Literal("generic", "rhel", "minimal", "rolling")
export type HostnameStyle = typeof HostnameStyle.Type

/** `name[:tag]@sha256:<64 hex>`: pinned, so a registry-side rebuild cannot swap the content. */
export const PinnedImage = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/)
)

export const Distro = Schema.Struct({
  slug: DistroSlug,
  /** Image of the decky's base (IP-holder) container. */
  image: PinnedImage,
  display_name: Schema.String,
  hostname_style: HostnameStyle,
  /** BASE_IMAGE build arg for service images; must be apt-compatible (non-Debian distros use debian). */
  build_base: PinnedImage
})
export type Distro = typeof Distro.Type
