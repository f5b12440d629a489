// The honeypot registry and the catalog describe the same services: every emulator must be a catalog
// entry and claim exactly the catalog's ports, so `decnet services` never lies about what a decky runs.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { findService, SERVICE_SLUGS } from "../../src/catalog/index.js"
import { HONEYPOT_SLUGS, loadAllHoneypots } from "../../src/honeypots/Registry.js"

describe("registry ⇄ catalog", () => {
  it("every registry slug is a catalog service", () => {
    for (const slug of HONEYPOT_SLUGS) expect(SERVICE_SLUGS).toContain(slug)
  })

  it.effect("every emulator claims exactly its catalog ports", () =>
    Effect.gen(function* () {
      const modules = yield* loadAllHoneypots
      expect(modules.map((m) => m.slug)).toEqual([...HONEYPOT_SLUGS])
      for (const m of modules) {
        const spec = Option.getOrThrow(findService(m.slug))
        // spec/honeypots.md §3: http claims [80, 443] but listens on 80 only (443 belongs to https).
        const claimed = m.slug === "http" ? spec.ports.tcp.filter((p) => p !== 443) : spec.ports.tcp
        expect({ slug: m.slug, tcp: [...m.ports.tcp].sort(), udp: [...m.ports.udp].sort() }).toEqual({
          slug: spec.slug,
          tcp: [...claimed].sort(),
          udp: [...spec.ports.udp].sort()
        })
      }
    })
  )
})
