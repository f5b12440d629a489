/**
 * Decoding a service's config against its Schema, as `decnet honeypot --config`, `decnet decky` and
 * the fleet hand it over: JSON objects only; unknown keys dropped, warned about or refused; one line
 * naming every bad key.
 */
import { Data, Effect, Either, ParseResult, Schema, type SchemaAST } from "effect"

export class HoneypotConfigError extends Data.TaggedError("HoneypotConfigError")<{
  readonly service: string
  readonly message: string
}> {}

/** What decoding needs of a module: its slug and its config Schema. */
export interface ConfigSchemaOf<C, I> {
  readonly slug: string
  readonly config: Schema.Schema<C, I>
}

export type UnknownConfigKeys = "ignore" | "warn" | "error"

const pathOf = (issue: ParseResult.ArrayFormatterIssue): string => issue.path.map(String).join(".")

/**
 * `"key": problem; unknown key "x" (…)`, one line naming every bad key. The "Expected undefined"
 * alternative an optional field adds to each failure is noise and is dropped.
 */
const formatConfigIssues = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): string => {
  const useful = issues.filter(
    (i) =>
      !(
        i.message.startsWith("Expected undefined") &&
        issues.some(
          (j) => j !== i && pathOf(j).startsWith(pathOf(i)) && !j.message.startsWith("Expected undefined")
        )
      )
  )
  return useful
    .map((issue) => {
      const path = pathOf(issue)
      if (issue._tag === "Unexpected")
        return `unknown key "${path}" (${issue.message.replace(/^is unexpected, expected: /, "valid keys: ")})`
      if (path === "")
        return /^Expected Struct/.test(issue.message) ? "expected a JSON object" : issue.message
      return `"${path}": ${issue.message}`
    })
    .join("; ")
}

const hasNoKeys = (ast: SchemaAST.AST): boolean =>
  ast._tag === "TypeLiteral" && ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0

const decodeLoose = <C, I>(
  module: ConfigSchemaOf<C, I>,
  input: unknown
): Effect.Effect<C, HoneypotConfigError> =>
  Schema.decodeUnknown(module.config, { errors: "all" })(input).pipe(
    Effect.mapError(
      (e) =>
        new HoneypotConfigError({
          service: module.slug,
          message: `invalid ${module.slug} config: ${formatConfigIssues(ParseResult.ArrayFormatter.formatErrorSync(e))}`
        })
    )
  )

export const decodeConfig = <C, I>(
  module: ConfigSchemaOf<C, I>,
  input: unknown,
  unknownKeys: UnknownConfigKeys
): Effect.Effect<C, HoneypotConfigError> =>
  Effect.gen(function* () {
    const fail = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) =>
      new HoneypotConfigError({
        service: module.slug,
        message: `invalid ${module.slug} config: ${formatConfigIssues(issues)}`
      })
    if (typeof input !== "object" || input === null || Array.isArray(input))
      return yield* new HoneypotConfigError({
        service: module.slug,
        message: `invalid ${module.slug} config: expected a JSON object`
      })
    // Schema.Struct({}) is TypeScript's `{}`: it accepts every key, even with onExcessProperty.
    if (hasNoKeys(module.config.ast)) {
      const unknown = Object.keys(input)
      if (unknown.length === 0 || unknownKeys === "ignore") return yield* decodeLoose(module, input)
      const named = unknown.map((k) => `"${k}"`).join(", ")
      if (unknownKeys === "error")
        return yield* new HoneypotConfigError({
          service: module.slug,
          message: `invalid ${module.slug} config: unknown key ${named} (${module.slug} has no config keys)`
        })
      yield* Effect.logWarning(`${module.slug} config: ignoring unknown ${named}`)
      return yield* decodeLoose(module, input)
    }
    const strict = yield* Effect.either(
      Schema.decodeUnknown(module.config, { errors: "all", onExcessProperty: "error" })(input)
    )
    if (Either.isRight(strict)) return strict.right
    const issues = ParseResult.ArrayFormatter.formatErrorSync(strict.left)
    const unexpected = issues.filter((i) => i._tag === "Unexpected")
    const others = issues.filter((i) => i._tag !== "Unexpected")
    if (unknownKeys === "error" || others.length > 0 || unexpected.length === 0)
      return yield* fail(unknownKeys === "error" ? issues : others)
    if (unknownKeys === "warn")
      yield* Effect.logWarning(
        `${module.slug} config: ignoring unknown ${unexpected.map((i) => `"${pathOf(i)}"`).join(", ")}`
      )
    return yield* decodeLoose(module, input)
  })
