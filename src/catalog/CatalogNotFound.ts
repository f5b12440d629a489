// The one failure of a catalog lookup: an unknown slug. The message names every valid slug, so the
// operator can correct the INI or flag without looking anything up.
import { Schema } from "effect"

export const CatalogKind = Schema.Literal("service", "archetype", "distro")
export type CatalogKind = typeof CatalogKind.Type

export class CatalogNotFound extends Schema.TaggedError<CatalogNotFound>()("CatalogNotFound", {
  kind: CatalogKind,
  slug: Schema.String,
  available: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** The error for `slug`, with the original's wording: "Unknown archetype 'x'. Available: a, b". */
export const catalogNotFound = (
  kind: CatalogKind,
  slug: string,
  available: ReadonlyArray<string>
): CatalogNotFound =>
  new CatalogNotFound({
    kind,
    slug,
    available,
    message: `Unknown ${kind} '${slug}'. Available: ${available.join(", ")}`
  })
