// The 9 distro profiles (spec/fleet.md §4) with their digest-pinned images, and the per-style random
// hostname. Digests are those the original pinned (refreshed 2026-05-03); refresh them together.
import { Effect, Random } from "effect"
import type { Distro, HostnameStyle } from "./Distro.js"

const DEBIAN_BOOKWORM =
  "debian:bookworm-slim@sha256:f9c6a2fd2ddbc23e336b6257a5245e31f996953ef06cd13a59fa0a1df2d5c252"
const UBUNTU_22_04 = "ubuntu:22.04@sha256:962f6cadeae0ea6284001009daa4cc9a8c37e75d1f5191cf0eb83fe565b63dd7"
const UBUNTU_20_04 = "ubuntu:20.04@sha256:8feb4d8ca5354def3d8fce243717141ce31e2c428701f6682bd2fafe15388214"
const ROCKY_9 = "rockylinux:9-minimal@sha256:305de618a5681ff75b1d608fd22b10f362867dff2f550a4f1d427d21cd7f42b4"
const CENTOS_7 = "centos:7@sha256:be65f488b7764ad3638f236b7b515b3678369a5124c47b8d32916d6487418ea4"
const ALPINE_3_19 = "alpine:3.19@sha256:6baf43584bcb78f2e5847d1de515f23499913ac9f12bdf834811a3145eb11ca1"
const FEDORA_39 = "fedora:39@sha256:d63d63fe593749a5e8dbc8152427d40bbe0ece53d884e00e5f3b44859efa5077"
const KALI_ROLLING =
  "kalilinux/kali-rolling@sha256:1fd0364490011f245688c6ed9fee498a11cd779badfbb0b1d3a721d0f49f2d15"
const ARCH_LATEST = "archlinux:latest@sha256:5ba8bb318666baef4d33afefc0e65db80f38b23503cb8e7b150d315cc2d4d5da"

export const DISTROS: ReadonlyArray<Distro> = [
  {
    slug: "debian",
    image: DEBIAN_BOOKWORM,
    display_name: "Debian 12 (Bookworm)",
    hostname_style: "generic",
    build_base: DEBIAN_BOOKWORM
  },
  {
    slug: "ubuntu22",
    image: UBUNTU_22_04,
    display_name: "Ubuntu 22.04 LTS (Jammy)",
    hostname_style: "generic",
    build_base: UBUNTU_22_04
  },
  {
    slug: "ubuntu20",
    image: UBUNTU_20_04,
    display_name: "Ubuntu 20.04 LTS (Focal)",
    hostname_style: "generic",
    build_base: UBUNTU_20_04
  },
  // Service Dockerfiles use apt-get, so non-Debian distros build services from debian.
  {
    slug: "rocky9",
    image: ROCKY_9,
    display_name: "Rocky Linux 9",
    hostname_style: "rhel",
    build_base: DEBIAN_BOOKWORM
  },
  {
    slug: "centos7",
    image: CENTOS_7,
    display_name: "CentOS 7",
    hostname_style: "rhel",
    build_base: DEBIAN_BOOKWORM
  },
  {
    slug: "alpine",
    image: ALPINE_3_19,
    display_name: "Alpine Linux 3.19",
    hostname_style: "minimal",
    build_base: DEBIAN_BOOKWORM
  },
  {
    slug: "fedora",
    image: FEDORA_39,
    display_name: "Fedora 39",
    hostname_style: "rhel",
    build_base: DEBIAN_BOOKWORM
  },
  // Kali is Debian-based, so it builds services from itself.
  {
    slug: "kali",
    image: KALI_ROLLING,
    display_name: "Kali Linux (Rolling)",
    hostname_style: "rolling",
    build_base: KALI_ROLLING
  },
  {
    slug: "arch",
    image: ARCH_LATEST,
    display_name: "Arch Linux",
    hostname_style: "rolling",
    build_base: DEBIAN_BOOKWORM
  }
]

/** The pinned build base every distro without an apt-compatible image falls back to. */
export const DEFAULT_BUILD_BASE = DEBIAN_BOOKWORM

/** Words random hostnames are made of. */
export const HOSTNAME_WORDS = [
  "alpha",
  "bravo",
  "charlie",
  "delta",
  "echo",
  "foxtrot",
  "golf",
  "hotel",
  "india",
  "juliet",
  "kilo",
  "lima",
  "mike",
  "nova",
  "oscar",
  "prod",
  "web",
  "db",
  "mail",
  "proxy",
  "dev",
  "stage",
  "backup",
  "monitor",
  "files"
] as const

/** A plausible hostname in `style`, drawn from the `Random` service (seed it for reproducible fleets). */
export const randomHostname = (style: HostnameStyle): Effect.Effect<string> =>
  Effect.gen(function* () {
    const word = yield* Random.choice(HOSTNAME_WORDS)
    const n = yield* Random.nextIntBetween(10, 100)
    switch (style) {
      case "rhel":
        return `${word}${n}.localdomain`
      case "minimal":
        return `${word}-${n}`
      case "rolling":
        return `${word}-${yield* Random.choice(HOSTNAME_WORDS)}`
      case "generic":
        return `SRV-${word.toUpperCase()}-${n}`
    }
  })
