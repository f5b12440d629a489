/**
 * The deployment INI (spec/fleet.md §5): `decnet deploy --config file.ini` and the web deploy body. Text in,
 * a typed `IniConfig` or an `IniError` out, never a throw: the web body is attacker-reachable input.
 * The parser is our own, with Python configparser's semantics, because the `ini` package nests dotted
 * sections (`[web-01.http]` becomes `web-01 → http`), strips inline `#` comments (a password may hold one),
 * knows no `:` delimiter, continuation lines, lower-cased keys or `[DEFAULT]`.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { SERVICE_SLUGS } from "../catalog/index.js"
import { DeckyName, Ipv4 } from "./Model.js"

/** Every failure of the loader; `message` is the text the operator (or the web client) sees. */
export class IniError extends Schema.TaggedError<IniError>()("IniError", { message: Schema.String }) {}

/** The spec's limit on INI text, in characters (code points), after CRLF/CR normalisation. */
export const MAX_INI_CHARS = 512 * 1024
/** `amount=` expands a section into at most this many deckies. */
export const MAX_AMOUNT = 100

/** One decky as the INI describes it (`DeckySpec`); what is left null the planner fills in. */
export const DeckySpec = Schema.Struct({
  name: DeckyName,
  ip: Schema.NullOr(Ipv4),
  /** Explicit services (validated by the planner against the catalog), else the archetype's, else random. */
  services: Schema.NullOr(Schema.NonEmptyArray(Schema.String)),
  archetype: Schema.NullOr(Schema.String),
  /** From `[<decky>.<svc>]` subsections: svc → key → value (strings, as written). */
  service_config: Schema.Record({
    key: Schema.String,
    value: Schema.Record({ key: Schema.String, value: Schema.String })
  }),
  nmap_os: Schema.NullOr(Schema.String),
  mutate_interval: Schema.NullOr(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)))
})
export type DeckySpec = typeof DeckySpec.Type

/** `[custom-<name>]`: a bring-your-own service image. Parsed and kept; no runtime runs these yet. */
export const CustomServiceSpec = Schema.Struct({
  name: Schema.String,
  /** `binary=`: the image. */
  image: Schema.String,
  /** `exec=`: the command line. */
  exec_cmd: Schema.String,
  ports: Schema.Array(Schema.Int.pipe(Schema.between(1, 65535)))
})
export type CustomServiceSpec = typeof CustomServiceSpec.Type

export const IniConfig = Schema.Struct({
  /** `[general] net=` (CIDR), `gw=`, `interface=`; null when absent or empty (then detected). */
  subnet: Schema.NullOr(Schema.String),
  gateway: Schema.NullOr(Schema.String),
  interface: Schema.NullOr(Schema.String),
  deckies: Schema.NonEmptyArray(DeckySpec),
  custom_services: Schema.Array(CustomServiceSpec)
})
export type IniConfig = typeof IniConfig.Type

// ---------------------------------------------------------------------------------------------------
// Text → sections (configparser's reading rules)

/** A section's options, each a list of lines until continuation lines are joined. */
type Options = Map<string, Array<string>>

interface RawIni {
  /** `[DEFAULT]`: every section sees these keys unless it sets them itself. */
  readonly defaults: ReadonlyMap<string, string>
  /** Sections in order of first appearance (repeats merge); `DEFAULT` is not one. */
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>
}

// Error texts quote operator (or attacker) text; keep them one short line.
const clip = (s: string, max = 80): string => (s.length > max ? `${s.slice(0, max)}…` : s)

const iniError = (message: string) => Either.left(new IniError({ message }))

/** `[name]` at the start of a stripped line, up to its last `]` (configparser's greedy `\[(.+)\]`). */
const sectionHeader = (value: string): string | undefined => {
  if (!value.startsWith("[")) return undefined
  const close = value.lastIndexOf("]")
  return close >= 2 ? value.slice(1, close) : undefined
}

/** The first `=` or `:`; the option name is what precedes it (a scan, not a backtracking regex). */
const firstDelimiter = (value: string): number => {
  for (let i = 0; i < value.length; i++) if (value[i] === "=" || value[i] === ":") return i
  return -1
}

const MAX_REPORTED_LINES = 5

/**
 * configparser's `_read`: full-line `#`/`;` comments (no inline comments), `key = value` or `key: value`
 * with lower-cased keys, continuation lines indented deeper than their key, `[DEFAULT]`. `strict` (the
 * file loader) refuses a repeated section or key; otherwise repeats merge and the last value wins.
 */
const readSections = (text: string, strict: boolean): Either.Either<RawIni, IniError> => {
  const sections = new Map<string, Options>()
  const defaults: Options = new Map()
  const seenOptions = new Set<string>()
  const bad: Array<string> = []
  let current: Options | undefined
  let currentName = ""
  let option: string | undefined
  let indentLevel = 0
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ""
    const stripped = line.trim()
    const comment = stripped.startsWith("#") || stripped.startsWith(";")
    if (comment || stripped === "") {
      // A blank line may belong to a multi-line value (kept, trailing ones dropped at the join).
      if (!comment && current !== undefined && option !== undefined) current.get(option)?.push("")
      continue
    }
    const indent = line.search(/\S/)
    if (current !== undefined && option !== undefined && indent > indentLevel) {
      current.get(option)?.push(stripped)
      continue
    }
    indentLevel = indent
    const header = sectionHeader(stripped)
    if (header !== undefined) {
      if (header === "DEFAULT") current = defaults
      else {
        const existing = sections.get(header)
        if (existing !== undefined && strict)
          return iniError(`Invalid INI format: [line ${i + 1}]: section '${clip(header)}' already exists`)
        current = existing ?? new Map()
        if (existing === undefined) sections.set(header, current)
      }
      currentName = header
      option = undefined
      continue
    }
    if (current === undefined) return iniError("Invalid INI format: no sections found")
    const at = firstDelimiter(stripped)
    const name = at < 0 ? "" : stripped.slice(0, at).trimEnd().toLowerCase()
    if (name === "") {
      if (bad.length < MAX_REPORTED_LINES) bad.push(`[line ${i + 1}]: '${clip(stripped, 60)}'`)
      else if (bad.length === MAX_REPORTED_LINES) bad.push("…")
      continue
    }
    const key = `${currentName}\u0000${name}`
    if (strict && seenOptions.has(key))
      return iniError(
        `Invalid INI format: [line ${i + 1}]: option '${clip(name)}' in section '${clip(currentName)}' already exists`
      )
    seenOptions.add(key)
    current.set(name, [stripped.slice(at + 1).trim()])
    option = name
  }
  if (bad.length > 0) return iniError(`Invalid INI format: Source contains parsing errors: ${bad.join(", ")}`)
  const join = (options: Options): ReadonlyMap<string, string> =>
    new Map([...options].map(([k, v]) => [k, v.join("\n").trimEnd()]))
  return Either.right({
    defaults: join(defaults),
    sections: new Map([...sections].map(([name, options]) => [name, join(options)]))
  })
}

// ---------------------------------------------------------------------------------------------------
// Sections → IniConfig (the spec's loader rules)

/** Python's `int()` on ASCII text: optional sign, digits, single `_` between digits. */
const PY_INT = /^[+-]?\d+(?:_\d+)*$/
const pyInt = (raw: string): bigint | undefined => {
  const s = raw.trim()
  return PY_INT.test(s) ? BigInt(s.replaceAll("_", "")) : undefined
}

const DECKY_NAME = /^[A-Za-z0-9\-_.]{1,128}$/
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/
const PORT = /^\d+$/

const KNOWN_SERVICES: ReadonlySet<string> = new Set(SERVICE_SLUGS)

/** `a.b.ssh` → `["a.b", "ssh"]` when the last dotted segment is a registered service. */
const serviceSubsection = (section: string): readonly [string, string] | undefined => {
  const dot = section.lastIndexOf(".")
  if (dot < 0) return undefined
  const svc = section.slice(dot + 1)
  return KNOWN_SERVICES.has(svc) ? [section.slice(0, dot), svc] : undefined
}

type MutableSpec = { -readonly [K in keyof DeckySpec]: DeckySpec[K] } & {
  service_config: Record<string, Record<string, string>>
}

const buildConfig = (raw: RawIni): Either.Either<IniConfig, IniError> => {
  const lookup = (options: ReadonlyMap<string, string>, key: string): string | undefined =>
    options.get(key) ?? raw.defaults.get(key)
  const nonEmpty = (s: string | undefined): string | null => (s === undefined || s === "" ? null : s)

  const general = raw.sections.get("general")
  const fromGeneral = (key: string) => (general === undefined ? null : nonEmpty(lookup(general, key)))
  const deckies: Array<MutableSpec> = []
  const custom: Array<CustomServiceSpec> = []

  for (const [section, options] of raw.sections) {
    if (section === "general" || serviceSubsection(section) !== undefined) continue
    const get = (key: string) => lookup(options, key)

    if (section.startsWith("custom-")) {
      const ports = (get("ports") ?? "")
        .split(",")
        .map((p) => p.trim())
        .filter((p) => PORT.test(p))
        .map(Number)
        .filter((p) => p >= 1 && p <= 65535)
      custom.push({
        name: section.slice("custom-".length),
        image: get("binary") ?? "",
        exec_cmd: get("exec") ?? "",
        ports
      })
      continue
    }

    const ip = nonEmpty(get("ip"))
    // Empty entries (`ssh,,http,`) and repeats are dropped: a service listed twice would bind twice.
    const listed = [
      ...new Set(
        (get("services") ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "")
      )
    ]
    const services: DeckySpec["services"] = listed.length > 0 ? [listed[0] ?? "", ...listed.slice(1)] : null
    const archetype = nonEmpty(get("archetype"))
    const nmapOs = nonEmpty(get("nmap_os")) ?? nonEmpty(get("nmap-os"))

    let mutateInterval: bigint | null = null
    const miRaw = nonEmpty(get("mutate_interval")) ?? nonEmpty(get("mutate-interval"))
    if (miRaw !== null) {
      const mi = pyInt(miRaw)
      if (mi === undefined)
        return iniError(`[${clip(section)}] mutate_interval= must be an integer, got '${clip(miRaw)}'`)
      mutateInterval = mi
    }

    const amountRaw = get("amount") ?? "1"
    const amount = pyInt(amountRaw)
    if (amount === undefined || amount < 1n)
      return iniError(`[${clip(section)}] amount= must be a positive integer, got '${clip(amountRaw)}'`)
    if (amount > BigInt(MAX_AMOUNT))
      return iniError(
        `[${clip(section)}] amount=${clip(amount.toString())} exceeds maximum allowed (${MAX_AMOUNT}).`
      )
    if (amount > 1n && ip !== null)
      return iniError(
        `[${clip(section)}] Cannot combine ip= with amount=${amount}. Remove ip= or use amount=1.`
      )
    // What the original's DeckySpec model checked when it was built: the address, the interval's floor.
    if (ip !== null && !IPV4.test(ip))
      return iniError(`[${clip(section)}] ip= must be an IPv4 address, got '${clip(ip)}'`)
    if (mutateInterval !== null && mutateInterval < 1n)
      return iniError(`[${clip(section)}] mutate_interval= must be at least 1, got '${clip(miRaw ?? "")}'`)
    if (mutateInterval !== null && mutateInterval > BigInt(Number.MAX_SAFE_INTEGER))
      return iniError(`[${clip(section)}] mutate_interval= is too large, got '${clip(miRaw ?? "")}'`)

    const names =
      amount === 1n
        ? [section]
        : Array.from({ length: Number(amount) }, (_, i) => `${section}-${String(i + 1).padStart(2, "0")}`)
    for (const name of names) {
      if (!DECKY_NAME.test(name))
        return iniError(
          `[${clip(section)}] '${clip(name)}' is not a valid decky name: use 1-128 letters, digits, '-', '_' or '.'`
        )
      deckies.push({
        name,
        ip,
        services,
        archetype,
        service_config: {},
        nmap_os: nmapOs,
        mutate_interval: mutateInterval === null ? null : Number(mutateInterval)
      })
    }
  }

  // Two deckies with one name would fight over one container and one row.
  const byName = new Map<string, MutableSpec>()
  for (const d of deckies) {
    if (byName.has(d.name))
      return iniError(
        `Duplicate decky name '${clip(d.name)}': two sections (or a section's amount= expansion) produce it`
      )
    byName.set(d.name, d)
  }

  // `[<decky>.<svc>]` → that decky's service_config, or every `<decky>-*` when <decky> is a group.
  for (const [section, options] of raw.sections) {
    const sub = serviceSubsection(section)
    if (sub === undefined) continue
    const [target, svc] = sub
    const values = Object.fromEntries([...raw.defaults, ...options])
    const direct = byName.get(target)
    const matched = direct !== undefined ? [direct] : deckies.filter((d) => d.name.startsWith(`${target}-`))
    for (const d of matched) d.service_config[svc] = { ...values }
  }

  const [first, ...rest] = deckies
  if (first === undefined) return iniError("INI must contain at least one decky section")
  return Either.right({
    subnet: fromGeneral("net"),
    gateway: fromGeneral("gw"),
    interface: fromGeneral("interface"),
    deckies: [first, ...rest],
    custom_services: custom
  })
}

// ---------------------------------------------------------------------------------------------------
// Entry points

/** Code points, as Python's `len(str)` counts them. */
const codePoints = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

const parse = (content: unknown, strict: boolean): Either.Either<IniConfig, IniError> => {
  if (typeof content !== "string") return iniError("INI content must be a string")
  // CRLF/CR → LF at most halves the length, so anything over twice the limit is refused unread.
  if (content.length > 2 * MAX_INI_CHARS) return iniError("INI content is too large (max 512KB)")
  const text = content.replaceAll("\r\n", "\n").replaceAll("\r", "\n")
  if (text.length > MAX_INI_CHARS && codePoints(text) > MAX_INI_CHARS)
    return iniError("INI content is too large (max 512KB)")
  if (text.trim() === "") return iniError("INI content is empty")
  return Either.flatMap(readSections(text, strict), (raw) =>
    raw.sections.size === 0
      ? iniError("The provided INI content must contain at least one section (no sections found)")
      : buildConfig(raw)
  )
}

/**
 * `load_ini_from_string`: the web deploy body's path. Lenient like the original (a repeated section or key
 * merges, the last value wins). An `Either`, so it is also an Effect (`yield*` it in `Effect.gen`).
 */
export const loadIniFromString = (content: unknown): Either.Either<IniConfig, IniError> =>
  parse(content, false)

/** The same rules for a file's text, but strict: a repeated section or key is an error, as the CLI's was. */
export const parseIniFile = (content: string): Either.Either<IniConfig, IniError> => parse(content, true)

/** `load_ini(path)`: `decnet deploy --config`. A missing file is "Config file not found: <path>". */
export const loadIniFile = (path: string): Effect.Effect<IniConfig, IniError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const unreadable = (e: { readonly message: string; readonly _tag: string; readonly reason?: string }) =>
      new IniError({
        message:
          e._tag === "SystemError" && e.reason === "NotFound"
            ? `Config file not found: ${path}`
            : `Cannot read config file ${path}: ${e.message}`
      })
    const info = yield* fs.stat(path).pipe(Effect.mapError(unreadable))
    if (info.type !== "File") return yield* new IniError({ message: `Config file not found: ${path}` })
    // UTF-8 spends at most 4 bytes per character: a bigger file cannot fit the limit.
    if (Number(info.size) > 4 * MAX_INI_CHARS)
      return yield* new IniError({ message: "INI content is too large (max 512KB)" })
    const text = yield* fs.readFileString(path).pipe(Effect.mapError(unreadable))
    return yield* parseIniFile(text)
  }).pipe(Effect.withSpan("Ini.loadIniFile", { attributes: { path } }))
