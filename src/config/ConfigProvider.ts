/**
 * The process-wide ConfigProvider: real environment first, then the host INI file (spec §3).
 * bin.ts installs it once, under DecnetConfig.layer; every other module reads the DecnetConfig tag.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Config, ConfigProvider, Data, Effect, Layer, Option } from "effect"
import { iniToEnv } from "./Ini.js"

export const DEFAULT_INI_PATH = "/etc/decnet/decnet.ini"

/** The INI file exists but cannot be read or decoded. A missing file is not an error. */
export class IniFileError extends Data.TaggedError("IniFileError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot read DECNET config file ${this.path}: ${this.reason}`
  }
}

const envProvider = ConfigProvider.fromEnv()

const readIni = (path: string): Effect.Effect<string | undefined, IniFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs
      .exists(path)
      .pipe(Effect.mapError((e) => new IniFileError({ path, reason: e.message })))
    if (!exists) return undefined
    const bytes = yield* fs
      .readFile(path)
      .pipe(Effect.mapError((e) => new IniFileError({ path, reason: e.message })))
    // A config file that is not UTF-8 is more likely the wrong file than a config; refuse it loudly.
    return yield* Effect.try({
      try: () => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      catch: () => new IniFileError({ path, reason: "not valid UTF-8 text" })
    })
  })

/** Build `env ⟶ INI` from an explicit base provider (tests pass `fromMap` for the "environment"). */
export const providerFromFile = (
  path: string,
  base: ConfigProvider.ConfigProvider = envProvider
): Effect.Effect<ConfigProvider.ConfigProvider, IniFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const text = yield* readIni(path)
    if (text === undefined) return base
    const mode = yield* base
      .load(Config.option(Config.string("DECNET_MODE")))
      .pipe(Effect.orElseSucceed(() => Option.none<string>()))
    const { env, warnings } = iniToEnv(text, Option.getOrUndefined(mode))
    for (const warning of warnings) yield* Effect.logWarning(`${path}: ${warning}`)
    return base.pipe(ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map(env))))
  })

/** Install `base ⟶ INI(path)` as the ConfigProvider. */
export const layerFromFile = (
  path: string,
  base: ConfigProvider.ConfigProvider = envProvider
): Layer.Layer<never, IniFileError> =>
  Layer.unwrapEffect(
    providerFromFile(path, base).pipe(
      Effect.map(Layer.setConfigProvider),
      Effect.provide(NodeFileSystem.layer)
    )
  )

/** The INI path itself comes from the real environment only (`DECNET_CONFIG`). */
export const iniPath = (base: ConfigProvider.ConfigProvider = envProvider): Effect.Effect<string> =>
  base
    .load(Config.string("DECNET_CONFIG").pipe(Config.withDefault(DEFAULT_INI_PATH)))
    .pipe(Effect.orElseSucceed(() => DEFAULT_INI_PATH))

export const DecnetConfigProvider = {
  /** Real environment wins; INI from `DECNET_CONFIG` (default /etc/decnet/decnet.ini) fills the gaps. */
  layer: Layer.unwrapEffect(Effect.map(iniPath(), (path) => layerFromFile(path))),
  layerFromFile,
  providerFromFile
} as const
