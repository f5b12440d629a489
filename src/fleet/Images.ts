/**
 * Decky images without a registry. The distro base comes from Debian packages: `debootstrap --variant=minbase`
 * from this machine's own apt mirror, tarred (without apt caches, lists, docs and locales) and imported as
 * `decnet-base:bookworm`. The decky image `decnet-decky:<distro>` adds the host's Node binary and the
 * self-contained decky bundle (scripts/build-decky.mjs). Both are cached by a hash of their inputs, kept
 * as the image label `decnet.image.hash`: the same inputs are never built twice.
 */
import { createHash } from "node:crypto"
import { Command, FileSystem } from "@effect/platform"
import type { CommandExecutor } from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Effect, Option, Ref, Schema, Stream } from "effect"
import { DISTRO_SLUGS, findDistro } from "../catalog/index.js"
import { Docker } from "../docker/Docker.js"
import { type DockerError, isNotFound } from "../docker/DockerError.js"
import type { ImageDetails } from "../docker/Model.js"
import { type TarEntry, type TarError, tarStream, tarText } from "../docker/Tar.js"

// ---- names -------------------------------------------------------------------------------------------

/** Bumped when the way images are built changes, so every cached image is rebuilt once. */
export const BUILDER_VERSION = "1"
export const BASE_SUITE = "bookworm"
export const BASE_VARIANT = "minbase"
export const BASE_REPO = "decnet-base"
export const BASE_IMAGE = `${BASE_REPO}:${BASE_SUITE}`
export const DECKY_REPO = "decnet-decky"
/** `decnet-decky:<distro>`: what a decky of that distro runs. */
export const deckyImage = (distro: string): string => `${DECKY_REPO}:${distro}`
/** The distro whose decky image every other distro falls back to. */
export const FALLBACK_DISTRO = "debian"

/** Image labels: what the image is, and the hash of what it was built from. */
export const LABEL_KIND = "decnet.image.kind"
export const LABEL_HASH = "decnet.image.hash"
export const LABEL_DISTRO = "decnet.image.distro"

/** Inside the decky image. */
export const IMAGE_NODE = "/usr/local/bin/node"
export const IMAGE_BUNDLE = "/opt/decnet/decky.js"

/** Distros that can be built here, from Debian packages. The rest need their image pulled from a registry. */
export const BUILDABLE_DISTROS: ReadonlyArray<string> = [FALLBACK_DISTRO]

/** Left out of the base rootfs: ~40 % of a minbase tree, none of it needed at run time. */
export const ROOTFS_EXCLUDES: ReadonlyArray<string> = [
  "./var/cache/apt/*",
  "./var/lib/apt/lists/*",
  "./usr/share/doc/*",
  "./usr/share/man/*",
  "./usr/share/info/*",
  "./usr/share/locale/*",
  "./var/log/*"
]

const BASE_CHANGES: ReadonlyArray<string> = [
  'CMD ["/bin/bash"]',
  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
]

// ---- results and errors ------------------------------------------------------------------------------

export class ImageBuildError extends Schema.TaggedError<ImageBuildError>()("ImageBuildError", {
  image: Schema.String,
  /** One line (or a line and the tool's output tail) saying what failed and what to do. */
  message: Schema.String
}) {}

export const ImageKind = Schema.Literal("base", "decky")

/** One image `decnet images build` produced or found cached; also its `--json` item. */
export class BuiltImage extends Schema.Class<BuiltImage>("BuiltImage")({
  kind: ImageKind,
  image: Schema.String,
  id: Schema.String,
  hash: Schema.String,
  /** True when an image with the same input hash was already there. */
  cached: Schema.Boolean,
  seconds: Schema.Number,
  /** Bytes, as the engine reports the image. */
  size: Schema.Number
}) {}

/** One row of `decnet images list`. */
export class ImageRow extends Schema.Class<ImageRow>("ImageRow")({
  kind: Schema.String,
  image: Schema.String,
  id: Schema.String,
  hash: Schema.String,
  distro: Schema.NullOr(Schema.String),
  size: Schema.Number,
  created: Schema.Number
}) {}

// ---- apt sources → mirror ----------------------------------------------------------------------------

export interface AptSource {
  readonly types: ReadonlyArray<string>
  readonly uris: ReadonlyArray<string>
  readonly suites: ReadonlyArray<string>
}

const words = (s: string | undefined): ReadonlyArray<string> => (s ?? "").split(/\s+/).filter((w) => w !== "")

/** deb822 `.sources` stanzas (`Types:`, `URIs:`, `Suites:`; `Enabled: no` skipped; `#` comments). */
export const parseDeb822 = (text: string): ReadonlyArray<AptSource> => {
  const out: Array<AptSource> = []
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>()
    let key: string | undefined
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#") || line.trim() === "") continue
      if (/^[ \t]/.test(line) && key !== undefined) {
        fields.set(key, `${fields.get(key) ?? ""} ${line.trim()}`)
        continue
      }
      const m = /^([A-Za-z0-9-]+):(.*)$/.exec(line)
      if (m === null) continue
      key = (m[1] ?? "").toLowerCase()
      fields.set(key, (m[2] ?? "").trim())
    }
    if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue
    if (!fields.has("uris")) continue
    out.push({
      types: words(fields.get("types")),
      uris: words(fields.get("uris")),
      suites: words(fields.get("suites"))
    })
  }
  return out
}

/** One-line `sources.list` entries: `deb [options] URI suite component…`. */
export const parseSourcesList = (text: string): ReadonlyArray<AptSource> => {
  const out: Array<AptSource> = []
  for (const raw of text.split("\n")) {
    const line = raw
      .replace(/#.*$/, "")
      .replace(/\[[^\]]*\]/, " ")
      .trim()
    const [type, uri, suite] = words(line)
    if (type === undefined || uri === undefined || suite === undefined) continue
    out.push({ types: [type], uris: [uri], suites: [suite] })
  }
  return out
}

/** The first binary (`deb`) mirror that serves `suite` exactly (not `-updates` or `-security`). */
export const pickMirror = (sources: ReadonlyArray<AptSource>, suite: string): Option.Option<string> => {
  for (const s of sources) {
    if (!s.types.includes("deb") || !s.suites.includes(suite)) continue
    const uri = s.uris.find((u) => /^(https?|file):/.test(u))
    if (uri !== undefined) return Option.some(uri.replace(/\/+$/, ""))
  }
  return Option.none()
}

/** The machine's Debian mirror for `suite`, from `<aptDir>/sources.list.d/*.sources|*.list` and `sources.list`. */
export const readAptMirror = (suite: string, aptDir = "/etc/apt") =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = `${aptDir}/sources.list.d`
    const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): Array<string> => []))
    const read = (path: string) => fs.readFileString(path).pipe(Effect.orElseSucceed(() => ""))
    const sources: Array<AptSource> = []
    for (const name of [...names].sort()) {
      if (name.endsWith(".sources")) sources.push(...parseDeb822(yield* read(`${dir}/${name}`)))
      else if (name.endsWith(".list")) sources.push(...parseSourcesList(yield* read(`${dir}/${name}`)))
    }
    sources.push(...parseSourcesList(yield* read(`${aptDir}/sources.list`)))
    return yield* Option.match(pickMirror(sources, suite), {
      onSome: Effect.succeed,
      onNone: () =>
        Effect.fail(
          new ImageBuildError({
            image: BASE_IMAGE,
            message:
              `no Debian mirror for '${suite}' in ${dir}/*.sources, ${dir}/*.list or ${aptDir}/sources.list; ` +
              "add one there, or pass --mirror URL"
          })
        )
    })
  })

// ---- hashes --------------------------------------------------------------------------------------------

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

export interface BaseInputs {
  readonly mirror: string
  readonly suite: string
  readonly variant: string
}

/** The base image's cache key: everything that decides what debootstrap + tar + import produce. */
export const baseHash = (inputs: BaseInputs): string =>
  sha256(
    JSON.stringify({
      builder: BUILDER_VERSION,
      mirror: inputs.mirror,
      suite: inputs.suite,
      variant: inputs.variant,
      excludes: ROOTFS_EXCLUDES,
      changes: BASE_CHANGES
    })
  )

export interface DeckyInputs {
  readonly distro: string
  readonly baseId: string
  readonly nodeVersion: string
  readonly nodeSha256: string
  readonly bundleSha256: string
}

/** The decky image's Dockerfile: the base, Node, the bundle, and `node decky.js` as the entrypoint. */
export const deckyDockerfile = (): string =>
  [
    `FROM ${BASE_IMAGE}`,
    `COPY node ${IMAGE_NODE}`,
    `COPY decky.js ${IMAGE_BUNDLE}`,
    "ENV NODE_ENV=production",
    `ENTRYPOINT ["${IMAGE_NODE}", "${IMAGE_BUNDLE}"]`,
    'CMD ["decky", "--help"]',
    ""
  ].join("\n")

/** The decky image's cache key: the base image id, the Node binary, the bundle and the Dockerfile. */
export const deckyHash = (inputs: DeckyInputs): string =>
  sha256(JSON.stringify({ builder: BUILDER_VERSION, ...inputs, dockerfile: deckyDockerfile() }))

// ---- helpers ---------------------------------------------------------------------------------------------

export type Progress = (line: string) => Effect.Effect<void>

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
const secondsSince = (t0: number) => Effect.map(Clock.currentTimeMillis, (t) => (t - t0) / 1000)

const fail = (image: string, message: string) => Effect.fail(new ImageBuildError({ image, message }))
const dockerFailed = (image: string) => (e: DockerError) =>
  new ImageBuildError({ image, message: `${image}: ${e.message}` })

/** The image, or None when it does not exist (any other engine error fails). */
const inspectOptional = (image: string) =>
  Effect.flatMap(Docker, (docker) =>
    docker.inspectImage(image).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<ImageDetails>())),
      Effect.mapError(dockerFailed(image))
    )
  )

/**
 * The image a rebuild replaced, now untagged, is removed so rebuilds do not pile up. An image still in
 * use (a running decky's, or the base under a decky image) stays: the engine refuses, and that is fine.
 */
const dropReplaced = (previous: Option.Option<ImageDetails>, current: string) =>
  Option.isSome(previous) && previous.value.Id !== current
    ? Effect.flatMap(Docker, (docker) => docker.removeImage(previous.value.Id).pipe(Effect.ignore))
    : Effect.void

interface ToolResult {
  readonly code: number
  /** The last lines of stdout and stderr together, for error messages. */
  readonly tail: ReadonlyArray<string>
}

const TAIL_LINES = 15

/** Run a host tool to the end, keeping the tail of its output; a missing tool is a clear error. */
const runTool = (image: string, tool: string, args: ReadonlyArray<string>, installHint: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const proc = yield* Command.start(Command.make(tool, ...args))
      const tail = yield* Ref.make<ReadonlyArray<string>>([])
      const keep = (s: Stream.Stream<Uint8Array, unknown>) =>
        s.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.runForEach((line) => Ref.update(tail, (t) => [...t, line].slice(-TAIL_LINES))),
          Effect.ignore
        )
      yield* Effect.all([keep(proc.stdout), keep(proc.stderr)], { concurrency: 2, discard: true })
      const code = yield* proc.exitCode
      return { code: Number(code), tail: yield* Ref.get(tail) } satisfies ToolResult
    })
  ).pipe(
    Effect.catchTag("SystemError", (e) =>
      e.reason === "NotFound"
        ? fail(image, `${tool} is not installed (${installHint})`)
        : fail(image, `${tool}: ${e.message}`)
    ),
    Effect.catchTag("BadArgument", (e) => fail(image, `${tool}: ${e.message}`))
  )

/** Hash a file as a stream (the Node binary is ~100 MB). */
const fileSha256 = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.stream(path, { chunkSize: 1 << 20 }).pipe(
      Stream.runFold(createHash("sha256"), (h, chunk) => h.update(chunk)),
      Effect.map((h) => h.digest("hex"))
    )
  )

/** Mount points at or under `dir` (debootstrap mounts /proc and /sys in its target while it runs). */
const mountsUnder = (dir: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.readFileString("/proc/self/mounts").pipe(
      Effect.orElseSucceed(() => ""),
      Effect.map((text) =>
        text
          .split("\n")
          .map((l) =>
            (l.split(" ")[1] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) =>
              String.fromCharCode(Number.parseInt(o, 8))
            )
          )
          .filter((m) => m === dir || m.startsWith(`${dir}/`))
          .sort((a, b) => b.length - a.length)
      )
    )
  )

/**
 * A scratch directory for a rootfs, removed at the end. Anything still mounted inside it is unmounted
 * first; if a mount will not go, the directory is left in place (with a warning) rather than risk a
 * recursive delete walking into a mounted /proc or /dev.
 */
const scratchDirectory = (prefix: string) =>
  Effect.acquireRelease(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectory({ prefix })),
    (dir) =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        for (const m of yield* mountsUnder(dir))
          yield* Command.exitCode(Command.make("umount", "-l", m)).pipe(Effect.ignore)
        const left = yield* mountsUnder(dir)
        if (left.length > 0) {
          yield* Effect.logWarning(`left ${dir} in place: still mounted there: ${left.join(", ")}`)
          return
        }
        yield* fs.remove(dir, { recursive: true }).pipe(Effect.ignore)
      })
  )

// ---- the base image --------------------------------------------------------------------------------

export interface BaseOptions {
  /** The Debian mirror; default: the machine's apt sources. */
  readonly mirror?: string | undefined
  /** Rebuild even when an image with the same hash exists. */
  readonly force?: boolean | undefined
  /** Where the scratch rootfs goes (default: the OS temp directory). */
  readonly workDir?: string | undefined
  readonly progress: Progress
}

const builtFrom =
  (kind: "base" | "decky", image: string, hash: string, cached: boolean, seconds: number) =>
  (details: ImageDetails) =>
    new BuiltImage({ kind, image, id: details.Id, hash, cached, seconds, size: details.Size })

/** `decnet-base:bookworm` from debootstrap, or the cached one with the same input hash. */
export const buildBase = (
  options: BaseOptions
): Effect.Effect<BuiltImage, ImageBuildError, Docker | FileSystem.FileSystem | CommandExecutor> =>
  Effect.gen(function* () {
    const docker = yield* Docker
    const fs = yield* FileSystem.FileSystem
    const image = BASE_IMAGE
    const t0 = yield* Clock.currentTimeMillis
    const mirror = options.mirror ?? (yield* readAptMirror(BASE_SUITE))
    const hash = baseHash({ mirror, suite: BASE_SUITE, variant: BASE_VARIANT })
    const existing = yield* inspectOptional(image)
    if (
      Option.isSome(existing) &&
      existing.value.Config.Labels[LABEL_HASH] === hash &&
      options.force !== true
    ) {
      yield* options.progress(`${image}: cached (hash ${hash.slice(0, 12)}, ${mb(existing.value.Size)})`)
      return builtFrom("base", image, hash, true, yield* secondsSince(t0))(existing.value)
    }
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const scratch = yield* scratchDirectory("decnet-rootfs-").pipe(
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.mapError(
            (e) => new ImageBuildError({ image, message: `${image}: a scratch directory: ${e.message}` })
          )
        )
        const rootfs = `${scratch}/rootfs`
        yield* options.progress(
          `${image}: debootstrap --variant=${BASE_VARIANT} ${BASE_SUITE} from ${mirror}`
        )
        const tBoot = yield* Clock.currentTimeMillis
        const boot = yield* runTool(
          image,
          "debootstrap",
          [`--variant=${BASE_VARIANT}`, BASE_SUITE, rootfs, mirror],
          "apt-get install debootstrap"
        )
        if (boot.code !== 0)
          return yield* fail(
            image,
            `${image}: debootstrap exited with ${boot.code}:\n${boot.tail.map((l) => `  ${l}`).join("\n")}`
          )
        const du = yield* Command.string(Command.make("du", "-sb", rootfs)).pipe(
          Effect.orElseSucceed(() => "0")
        )
        yield* options.progress(
          `${image}: debootstrap done in ${(yield* secondsSince(tBoot)).toFixed(1)} s (rootfs ${mb(Number.parseInt(du, 10) || 0)})`
        )

        const tImport = yield* Clock.currentTimeMillis
        const tarArgs = [
          "--numeric-owner",
          ...ROOTFS_EXCLUDES.map((x) => `--exclude=${x}`),
          "-C",
          rootfs,
          "-c",
          "."
        ]
        const tar = yield* Command.start(Command.make("tar", ...tarArgs)).pipe(
          Effect.mapError((e) => new ImageBuildError({ image, message: `${image}: tar: ${e.message}` }))
        )
        const sent = yield* Ref.make(0)
        const id = yield* docker
          .importImage(tar.stdout.pipe(Stream.tap((chunk) => Ref.update(sent, (n) => n + chunk.length))), {
            repo: BASE_REPO,
            tag: BASE_SUITE,
            changes: [
              ...BASE_CHANGES,
              `LABEL ${LABEL_KIND}=base ${LABEL_HASH}=${hash} ${LABEL_DISTRO}=${FALLBACK_DISTRO}`
            ]
          })
          .pipe(
            Effect.mapError((e) =>
              e._tag === "DockerError"
                ? dockerFailed(image)(e)
                : new ImageBuildError({ image, message: `${image}: reading tar's output: ${e.message}` })
            )
          )
        const tarCode = yield* tar.exitCode.pipe(Effect.orElseSucceed(() => -1))
        if (tarCode !== 0) return yield* fail(image, `${image}: tar exited with ${tarCode}`)
        yield* options.progress(
          `${image}: tar + import ${mb(yield* Ref.get(sent))} in ${(yield* secondsSince(tImport)).toFixed(1)} s → ${id.slice(0, 19)}`
        )
        const details = yield* docker.inspectImage(image).pipe(Effect.mapError(dockerFailed(image)))
        yield* dropReplaced(existing, details.Id)
        return builtFrom("base", image, hash, false, yield* secondsSince(t0))(details)
      })
    )
  }).pipe(Effect.withSpan("Images.buildBase"))

// ---- the decky image -------------------------------------------------------------------------------

export interface DeckyImageOptions {
  readonly distro: string
  /** The self-contained decky bundle (scripts/build-decky.mjs output, dist/decky/decky.js). */
  readonly bundlePath: string
  /** The Node binary copied into the image (default: the one running this process). */
  readonly nodePath?: string | undefined
  readonly force?: boolean | undefined
  readonly progress: Progress
}

/** Why a distro cannot be built here, naming what can. */
export const unbuildableMessage = (distro: string): string =>
  Option.match(findDistro(distro), {
    onNone: () => `unknown distro '${distro}' (known: ${DISTRO_SLUGS.join(", ")})`,
    onSome: (d) =>
      `cannot build '${distro}' here: only ${BUILDABLE_DISTROS.join(", ")} can be built (from Debian packages, ` +
      `with debootstrap). ${d.display_name} would be pulled from a registry (${d.image.split("@")[0] ?? d.image}), ` +
      "but pulling is not available in this version. Build --distro debian: deckies of other distros then run " +
      `on ${deckyImage(FALLBACK_DISTRO)} (with a warning).`
  })

const fileEntry = (name: string, path: string, mode: number) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.map(
      fs.stat(path),
      (info): TarEntry<PlatformError> => ({
        name,
        mode,
        size: Number(info.size),
        content: fs.stream(path, { chunkSize: 1 << 20 })
      })
    )
  )

/** `decnet-decky:<distro>` FROM the base, or the cached one with the same input hash. */
export const buildDeckyImage = (
  options: DeckyImageOptions
): Effect.Effect<BuiltImage, ImageBuildError, Docker | FileSystem.FileSystem | CommandExecutor> =>
  Effect.gen(function* () {
    const docker = yield* Docker
    const image = deckyImage(options.distro)
    if (!BUILDABLE_DISTROS.includes(options.distro))
      return yield* fail(image, unbuildableMessage(options.distro))
    const t0 = yield* Clock.currentTimeMillis
    const nodePath = options.nodePath ?? process.execPath
    const base = yield* inspectOptional(BASE_IMAGE)
    if (Option.isNone(base))
      return yield* fail(
        image,
        `${image}: the base image ${BASE_IMAGE} is missing (build it first: decnet images build)`
      )
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(options.bundlePath).pipe(Effect.orElseSucceed(() => false))))
      return yield* fail(
        image,
        `${image}: the decky bundle ${options.bundlePath} is missing: run \`npm run build\` (scripts/build-decky.mjs)`
      )
    const version = yield* Command.string(Command.make(nodePath, "--version")).pipe(
      Effect.map((s) => s.trim()),
      Effect.mapError(
        (e) => new ImageBuildError({ image, message: `${image}: ${nodePath} --version: ${e.message}` })
      )
    )
    const readError = (what: string) => (e: { readonly message: string }) =>
      new ImageBuildError({ image, message: `${image}: reading ${what}: ${e.message}` })
    const [nodeSha256, bundleSha256] = yield* Effect.all(
      [
        fileSha256(nodePath).pipe(Effect.mapError(readError(nodePath))),
        fileSha256(options.bundlePath).pipe(Effect.mapError(readError(options.bundlePath)))
      ],
      { concurrency: 2 }
    )
    const hash = deckyHash({
      distro: options.distro,
      baseId: base.value.Id,
      nodeVersion: version,
      nodeSha256,
      bundleSha256
    })
    const existing = yield* inspectOptional(image)
    if (
      Option.isSome(existing) &&
      existing.value.Config.Labels[LABEL_HASH] === hash &&
      options.force !== true
    ) {
      yield* options.progress(
        `${image}: cached (hash ${hash.slice(0, 12)}, node ${version}, ${mb(existing.value.Size)})`
      )
      return builtFrom("decky", image, hash, true, yield* secondsSince(t0))(existing.value)
    }
    const entries = yield* Effect.all([
      fileEntry("node", nodePath, 0o755),
      fileEntry("decky.js", options.bundlePath, 0o644)
    ]).pipe(Effect.mapError(readError("the build context")))
    const context: ReadonlyArray<TarEntry<PlatformError>> = [
      tarText("Dockerfile", deckyDockerfile()),
      ...entries
    ]
    const contextBytes = entries.reduce((n, e) => n + e.size, 0)
    yield* options.progress(
      `${image}: docker build FROM ${BASE_IMAGE} with node ${version} and the decky bundle (context ${mb(contextBytes)})`
    )
    const built = yield* docker
      .buildImage(tarStream(context), {
        tag: image,
        labels: { [LABEL_KIND]: "decky", [LABEL_HASH]: hash, [LABEL_DISTRO]: options.distro },
        networkMode: "none"
      })
      .pipe(
        Effect.mapError(
          (e: DockerError | TarError | PlatformError) =>
            new ImageBuildError({ image, message: `${image}: ${e.message}` })
        )
      )
    yield* options.progress(
      `${image}: built in ${(yield* secondsSince(t0)).toFixed(1)} s → ${built.imageId.slice(0, 19)}`
    )
    const details = yield* docker.inspectImage(image).pipe(Effect.mapError(dockerFailed(image)))
    yield* dropReplaced(existing, details.Id)
    return builtFrom("decky", image, hash, false, yield* secondsSince(t0))(details)
  }).pipe(Effect.withSpan("Images.buildDecky"))

// ---- both, and the listing ----------------------------------------------------------------------------

export interface BuildImagesOptions extends Omit<BaseOptions, "force">, Omit<DeckyImageOptions, "force"> {
  readonly force?: boolean | undefined
}

/** The base, then the decky image of `distro`; an unbuildable distro fails before any work. */
export const buildImages = (
  options: BuildImagesOptions
): Effect.Effect<
  ReadonlyArray<BuiltImage>,
  ImageBuildError,
  Docker | FileSystem.FileSystem | CommandExecutor
> =>
  Effect.gen(function* () {
    if (!BUILDABLE_DISTROS.includes(options.distro))
      return yield* fail(deckyImage(options.distro), unbuildableMessage(options.distro))
    const base = yield* buildBase(options)
    const decky = yield* buildDeckyImage(options)
    return [base, decky]
  })

/** Every image DECNET built (labelled `decnet.image.kind`). */
export const listImages: Effect.Effect<ReadonlyArray<ImageRow>, ImageBuildError, Docker> = Effect.gen(
  function* () {
    const docker = yield* Docker
    const images = yield* docker
      .listImages({ labels: { [LABEL_KIND]: true } })
      .pipe(Effect.mapError(dockerFailed("decnet images")))
    return images
      .flatMap((i) =>
        (i.RepoTags.length > 0 ? i.RepoTags : ["<none>:<none>"]).map(
          (tag) =>
            new ImageRow({
              kind: i.Labels[LABEL_KIND] ?? "",
              image: tag,
              id: i.Id,
              hash: i.Labels[LABEL_HASH] ?? "",
              distro: i.Labels[LABEL_DISTRO] ?? null,
              size: i.Size,
              created: i.Created
            })
        )
      )
      .sort((a, b) => a.image.localeCompare(b.image))
  }
)
