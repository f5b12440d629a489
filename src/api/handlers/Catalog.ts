// The catalog routes the fleet page needs (topology.md §10): services, one service's config schema, and
// the archetypes, straight from the catalog (src/catalog).
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { ARCHETYPES } from "../../catalog/Archetypes.js"
import { findService, SERVICES } from "../../catalog/index.js"
import { isHoneypotSlug } from "../../honeypots/Registry.js"
import { DecnetApi } from "../Contract.js"
import { NotFound } from "../Errors.js"

const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()

export const CatalogHandlers = HttpApiBuilder.group(DecnetApi, "catalog", (handlers) =>
  handlers
    .handle("services", () =>
      Effect.succeed({
        services: sorted(
          SERVICES.filter((s) => !s.fleet_singleton && isHoneypotSlug(s.slug)).map((s) => s.slug)
        ),
        fleet_singletons: sorted(SERVICES.filter((s) => s.fleet_singleton).map((s) => s.slug)),
        not_runnable: sorted(
          SERVICES.filter((s) => !s.fleet_singleton && !isHoneypotSlug(s.slug)).map((s) => s.slug)
        )
      })
    )
    .handle("serviceSchema", ({ path }) =>
      Option.match(findService(path.service_name), {
        onNone: () => Effect.fail(new NotFound({ detail: `Unknown service '${path.service_name}'` })),
        onSome: (s) =>
          Effect.succeed({
            name: s.slug,
            ports: s.ports,
            fleet_singleton: s.fleet_singleton,
            fields: s.config_schema
          })
      })
    )
    .handle("archetypes", () => Effect.succeed({ archetypes: ARCHETYPES }))
)
