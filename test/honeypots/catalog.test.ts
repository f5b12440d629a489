// The honeypot registry and the catalog describe the same services: every emulator must be a catalog
// entry and claim exactly the catalog's ports, so `decnet services` never lies about what a decky runs.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  findService,
  RUNTIME_EVENTS,
  SERVICE_SLUGS,
  type ServiceConfigField
} from "../../src/catalog/index.js"
import { HONEYPOT_SLUGS, loadAllHoneypots } from "../../src/honeypots/Registry.js"
import { runtimeEventDefs } from "../../src/honeypots/runtime/index.js"

/** The catalog default, else its placeholder, else a value of the field's type. */
const sampleValue = (f: ServiceConfigField): unknown => {
  if (f.default !== null) return f.default
  switch (f.type) {
    case "int":
      return f.placeholder === null || f.placeholder === undefined ? 1 : Number(f.placeholder)
    case "bool":
      return true
    case "enum":
      return f.enum?.[0]
    case "multi_enum":
      return f.enum?.slice(0, 1)
    default:
      return f.placeholder ?? "x"
  }
}

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

  it("the catalog's runtime events are the runtime's", () => {
    expect([...RUNTIME_EVENTS].sort()).toEqual(Object.keys(runtimeEventDefs).sort())
  })

  it.effect("every emulator's event types are exactly its catalog entry's events", () =>
    Effect.gen(function* () {
      for (const m of yield* loadAllHoneypots) {
        const spec = Option.getOrThrow(findService(m.slug))
        expect({ slug: m.slug, events: [...m.events.types].sort() }).toEqual({
          slug: m.slug,
          events: [...spec.events].sort()
        })
        expect(m.events.service).toBe(m.slug)
      }
    })
  )

  it.effect("the catalog's config form offers exactly the emulator's config keys", () =>
    Effect.gen(function* () {
      for (const m of yield* loadAllHoneypots) {
        const spec = Option.getOrThrow(findService(m.slug))
        expect({ slug: m.slug, keys: spec.config_schema.map((f) => f.key).sort() }).toEqual({
          slug: m.slug,
          keys: [...m.configKeys].sort()
        })
      }
    })
  )

  it.effect("every catalog config field is a knob its emulator accepts, with the catalog's default", () =>
    Effect.gen(function* () {
      for (const m of yield* loadAllHoneypots) {
        const spec = Option.getOrThrow(findService(m.slug))
        // Field by field, so a failure names the one key the form and the emulator disagree on.
        for (const f of spec.config_schema) {
          const config = { [f.key]: sampleValue(f) }
          const result = yield* Effect.either(m.validateConfig(config, "error"))
          expect(result._tag === "Right" ? "accepted" : result.left.message, `${m.slug}.${f.key}`).toBe(
            "accepted"
          )
        }
        // A key the emulator does not know is still refused, so the loop above could fail.
        const unknown = yield* Effect.either(m.validateConfig({ no_such_knob: 1 }, "error"))
        expect(unknown._tag, m.slug).toBe("Left")
      }
    })
  )
})
