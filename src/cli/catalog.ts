// `decnet services | distros | archetypes`: list the built-in catalog as an aligned table (sorted by
// slug, as the original lists it) or, with --json, as a pretty-printed JSON array encoded by the
// catalog's own Schemas. The catalog is plain data, so it is imported at top level.
import { Command, Options } from "@effect/cli"
import { Console, Effect, Schema } from "effect"
import {
  ARCHETYPES,
  Archetype,
  DISTROS,
  Distro,
  SERVICES,
  type ServicePorts,
  ServiceSpec
} from "../catalog/index.js"
import { requireMaster } from "./mode.js"

/** Tables are laid out to fit this many terminal columns. */
export const TABLE_WIDTH = 110

export interface Column {
  readonly header: string
  /** Cells longer than this wrap at spaces (or are split, for one long word). */
  readonly max?: number
}

const GAP = "  "

const wrap = (text: string, width: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    let w = word
    while (w.length > width) {
      if (line !== "") {
        lines.push(line)
        line = ""
      }
      lines.push(w.slice(0, width))
      w = w.slice(width)
    }
    if (line === "") line = w
    else if (line.length + 1 + w.length <= width) line = `${line} ${w}`
    else {
      lines.push(line)
      line = w
    }
  }
  lines.push(line)
  return lines
}

/** Left-aligned columns, two spaces apart; a wrapped cell continues on the following lines. */
export const renderTable = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): string => {
  const widths = columns.map((c, i) =>
    Math.min(
      c.max ?? Number.POSITIVE_INFINITY,
      Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length))
    )
  )
  const layout = (cells: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
    const height = Math.max(...cells.map((c) => c.length))
    return Array.from({ length: height }, (_, n) =>
      cells
        .map((c, i) => (c[n] ?? "").padEnd(widths[i] ?? 0))
        .join(GAP)
        .trimEnd()
    )
  }
  const header = layout(columns.map((c) => [c.header]))
  const rule = widths.map((w) => "-".repeat(w)).join(GAP)
  const body = rows.flatMap((r) => layout(columns.map((_, i) => wrap(r[i] ?? "", widths[i] ?? 0))))
  return [...header, rule, ...body].join("\n")
}

/** `22, 443` for TCP, `69/udp` for UDP, `-` for none. */
export const formatPorts = (ports: ServicePorts): string => {
  const all = [...ports.tcp.map(String), ...ports.udp.map((p) => `${p}/udp`)]
  return all.length === 0 ? "-" : all.join(", ")
}

const bySlug = <A extends { readonly slug: string }>(items: ReadonlyArray<A>): ReadonlyArray<A> =>
  [...items].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))

// `name[:tag]@sha256:<hex>` → the name and tag, and the first 12 hex digits of the digest.
const splitImage = (image: string): { readonly name: string; readonly digest: string } => {
  const at = image.indexOf("@sha256:")
  return at < 0
    ? { name: image, digest: "-" }
    : { name: image.slice(0, at), digest: image.slice(at + 8, at + 20) }
}

const json = Options.boolean("json").pipe(Options.withDescription("print a JSON array instead of the table"))

// Encoding static catalog data with its own Schema cannot fail; a failure would be a bug, so a defect.
const printJson = <A, I>(schema: Schema.Schema<A, I>, items: ReadonlyArray<A>) =>
  Schema.encode(Schema.Array(schema))(items).pipe(
    Effect.orDie,
    Effect.flatMap((encoded) => Console.log(JSON.stringify(encoded, null, 2)))
  )

export const servicesTable = (): string =>
  renderTable(
    [
      { header: "SLUG" },
      { header: "PORTS", max: 18 },
      { header: "EMULATES", max: 45 },
      { header: "CONFIG", max: 28 }
    ],
    bySlug(SERVICES).map((s) => [
      s.slug,
      formatPorts(s.ports),
      s.description,
      s.config_schema.length === 0 ? "-" : s.config_schema.map((f) => f.key).join(", ")
    ])
  )

export const distrosTable = (): string =>
  renderTable(
    [
      { header: "SLUG" },
      { header: "DISPLAY NAME" },
      { header: "IMAGE" },
      { header: "DIGEST" },
      { header: "HOSTNAME" },
      { header: "BUILD BASE" }
    ],
    bySlug(DISTROS).map((d) => {
      const image = splitImage(d.image)
      return [
        d.slug,
        d.display_name,
        image.name,
        image.digest,
        d.hostname_style,
        splitImage(d.build_base).name
      ]
    })
  )

export const archetypesTable = (): string =>
  renderTable(
    [
      { header: "SLUG" },
      { header: "DISPLAY NAME" },
      { header: "SERVICES" },
      { header: "PREFERRED DISTROS", max: 22 },
      { header: "NMAP OS" }
    ],
    bySlug(ARCHETYPES).map((a) => [
      a.slug,
      a.display_name,
      a.services.join(", "),
      a.preferred_distros.join(", "),
      a.nmap_os
    ])
  )

// Each body re-checks the host role (spec/swarm.md §1): main.ts already hides and refuses these on an
// agent, this keeps the refusal when a command is reached some other way (embedding, tests).
export const services = Command.make("services", { json }, ({ json }) =>
  Effect.zipRight(
    requireMaster("services"),
    json ? printJson(ServiceSpec, bySlug(SERVICES)) : Console.log(servicesTable())
  )
).pipe(Command.withDescription("list the registered honeypot service plugins"))

export const distros = Command.make("distros", { json }, ({ json }) =>
  Effect.zipRight(
    requireMaster("distros"),
    json ? printJson(Distro, bySlug(DISTROS)) : Console.log(distrosTable())
  )
).pipe(Command.withDescription("list the distro profiles (base images) deckies can run"))

export const archetypes = Command.make("archetypes", { json }, ({ json }) =>
  Effect.zipRight(
    requireMaster("archetypes"),
    json ? printJson(Archetype, bySlug(ARCHETYPES)) : Console.log(archetypesTable())
  )
).pipe(Command.withDescription("list the machine archetypes (ready-made service + OS identities)"))
