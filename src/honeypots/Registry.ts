/**
 * Every honeypot module by slug, loaded lazily: each entry is a dynamic import, so running one
 * service (`decnet honeypot redis`) loads that module only, never ssh2 or node-forge for the others.
 * This file must import no service module statically.
 */
import { Data, Effect } from "effect"
import { SERVICE_SLUGS, type ServiceSlug } from "../catalog/Service.js"
import type { Honeypot } from "./runtime/Module.js"

// Keyed by catalog slug: a typo or a slug the catalog lacks is a compile error.
const loaders = {
  ssh: () => import("./ssh/index.js").then((m) => m.sshHoneypot),
  telnet: () => import("./telnet/index.js").then((m) => m.telnetHoneypot),
  http: () => import("./http/index.js").then((m) => m.httpHoneypot),
  https: () => import("./https/index.js").then((m) => m.httpsHoneypot),
  ftp: () => import("./ftp/index.js").then((m) => m.ftpHoneypot),
  smb: () => import("./smb/index.js").then((m) => m.smbHoneypot),
  rdp: () => import("./rdp/index.js").then((m) => m.rdpHoneypot),
  vnc: () => import("./vnc/index.js").then((m) => m.vncHoneypot),
  smtp: () => import("./smtp/index.js").then((m) => m.smtpHoneypot),
  // spec §10: the same SMTP template in open-relay mode, with its own slug, events and config keys.
  smtp_relay: () => import("./smtp/index.js").then((m) => m.smtpRelayHoneypot),
  imap: () => import("./imap/index.js").then((m) => m.imapHoneypot),
  pop3: () => import("./pop3/index.js").then((m) => m.pop3Honeypot),
  ldap: () => import("./ldap/index.js").then((m) => m.ldapHoneypot),
  mysql: () => import("./mysql/index.js").then((m) => m.mysqlHoneypot),
  postgres: () => import("./postgres/index.js").then((m) => m.postgresHoneypot),
  mssql: () => import("./mssql/index.js").then((m) => m.mssqlHoneypot),
  mongodb: () => import("./mongodb/index.js").then((m) => m.mongodbHoneypot),
  redis: () => import("./redis/index.js").then((m) => m.redisHoneypot)
} satisfies { readonly [S in ServiceSlug]?: () => Promise<Honeypot> }

/** The catalog services this process can emulate (the rest of the catalog comes in later issues). */
export type HoneypotSlug = keyof typeof loaders

const isLoadable = (slug: ServiceSlug): slug is HoneypotSlug => Object.hasOwn(loaders, slug)

/** The emulated slugs, in the catalog order of spec/fleet.md §3 (derived from the catalog, not repeated). */
export const HONEYPOT_SLUGS: ReadonlyArray<HoneypotSlug> = SERVICE_SLUGS.filter(isLoadable)

export class UnknownHoneypot extends Data.TaggedError("UnknownHoneypot")<{
  readonly slug: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `unknown honeypot service '${this.slug}'. Valid services: ${this.known.join(", ")}`
  }
}

export const isHoneypotSlug = (slug: string): slug is HoneypotSlug => HONEYPOT_SLUGS.some((s) => s === slug)

/** The lazy loader of one slug (an `UnknownHoneypot` listing the valid slugs otherwise). */
export const honeypotLoader = (slug: string): Effect.Effect<() => Promise<Honeypot>, UnknownHoneypot> =>
  isHoneypotSlug(slug)
    ? Effect.succeed(loaders[slug])
    : Effect.fail(new UnknownHoneypot({ slug, known: HONEYPOT_SLUGS }))

/** Import and return one module. A failed import is a defect (a broken build), not a user error. */
export const loadHoneypot = (slug: string): Effect.Effect<Honeypot, UnknownHoneypot> =>
  Effect.flatMap(honeypotLoader(slug), (load) => Effect.promise(load)).pipe(
    Effect.withSpan("Registry.loadHoneypot", { attributes: { slug } })
  )

/** Validate every slug first (so one typo fails before anything loads), then import them. */
export const loadHoneypots = (
  slugs: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Honeypot>, UnknownHoneypot> =>
  Effect.flatMap(Effect.forEach(slugs, honeypotLoader), (ls) =>
    Effect.forEach(ls, (load) => Effect.promise(load))
  )

/** All modules, in catalog order (for listings; this loads every module). */
export const loadAllHoneypots: Effect.Effect<ReadonlyArray<Honeypot>> = Effect.forEach(
  HONEYPOT_SLUGS,
  (slug) => Effect.promise(loaders[slug])
)
