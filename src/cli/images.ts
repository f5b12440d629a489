// `decnet images build [--distro debian]` builds the decky images without a registry (the distro base from
// Debian packages, then Node + the decky bundle on top), cached by input hash; `decnet images list` shows
// what is there. Progress goes to stderr, so `--json` on stdout stays clean. Docker and the builder load
// inside the handlers.
import { fileURLToPath } from "node:url"
import { Command, Options } from "@effect/cli"
import { Console, Data, Effect, Option, Schema } from "effect"

export class ImagesCliError extends Data.TaggedError("ImagesCliError")<{ readonly message: string }> {}

const json = Options.boolean("json").pipe(Options.withDescription("print JSON"))

// The installed bundle sits beside the CLI's: dist/bin/*.js (and dist/cli/*.js) → dist/decky/decky.js.
const defaultBundle = () => fileURLToPath(new URL("../decky/decky.js", import.meta.url))

const loadBuilder = Effect.promise(() =>
  Promise.all([import("../fleet/Images.js"), import("../docker/DockerLive.js")])
)

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

const build = Command.make(
  "build",
  {
    distro: Options.text("distro").pipe(
      Options.withDefault("debian"),
      Options.withDescription("the distro to build the decky image for (buildable here: debian)")
    ),
    mirror: Options.text("mirror").pipe(
      Options.optional,
      Options.withDescription("Debian mirror URL for debootstrap (default: this machine's apt sources)")
    ),
    bundle: Options.text("bundle").pipe(
      Options.optional,
      Options.withDescription(
        "the decky bundle to put in the image (default: dist/decky/decky.js of this install)"
      )
    ),
    force: Options.boolean("force").pipe(
      Options.withDescription("rebuild even when an image with the same input hash exists")
    ),
    json
  },
  (o) =>
    Effect.gen(function* () {
      const [images, { DockerLive }] = yield* loadBuilder
      const built = yield* images
        .buildImages({
          distro: o.distro,
          mirror: Option.getOrUndefined(o.mirror),
          bundlePath: Option.getOrElse(o.bundle, defaultBundle),
          force: o.force,
          progress: (line) => Console.error(line)
        })
        .pipe(
          Effect.provide(DockerLive),
          Effect.catchTags({
            ImageBuildError: (e) => Effect.fail(new ImagesCliError({ message: e.message })),
            DockerError: (e) => Effect.fail(new ImagesCliError({ message: e.message }))
          })
        )
      if (o.json) {
        const encoded = yield* Schema.encode(Schema.Array(images.BuiltImage))(built).pipe(Effect.orDie)
        return yield* Console.log(JSON.stringify(encoded, null, 2))
      }
      for (const b of built)
        yield* Console.log(
          `${b.image}  ${b.cached ? "cached" : "built"}  ${b.id.slice(7, 19)}  ${mb(b.size)}  ${b.seconds.toFixed(1)} s`
        )
    })
).pipe(
  Command.withDescription(
    "build the decky images without a registry: decnet-base:bookworm (debootstrap) and decnet-decky:<distro>"
  )
)

const list = Command.make("list", { json }, (o) =>
  Effect.gen(function* () {
    const [images, { DockerLive }] = yield* loadBuilder
    const rows = yield* images.listImages.pipe(
      Effect.provide(DockerLive),
      Effect.catchTags({
        ImageBuildError: (e) => Effect.fail(new ImagesCliError({ message: e.message })),
        DockerError: (e) => Effect.fail(new ImagesCliError({ message: e.message }))
      })
    )
    if (o.json) {
      const encoded = yield* Schema.encode(Schema.Array(images.ImageRow))(rows).pipe(Effect.orDie)
      return yield* Console.log(JSON.stringify(encoded, null, 2))
    }
    if (rows.length === 0) return yield* Console.log("no DECNET images; build them with: decnet images build")
    const width = Math.max(5, ...rows.map((r) => r.image.length))
    const line = (a: string, b: string, c: string, d: string, e: string) =>
      `${a.padEnd(width)}  ${b.padEnd(5)}  ${c.padEnd(12)}  ${d.padStart(9)}  ${e}`
    yield* Console.log(
      [
        line("IMAGE", "KIND", "ID", "SIZE", "HASH"),
        ...rows.map((r) => line(r.image, r.kind, r.id.slice(7, 19), mb(r.size), r.hash.slice(0, 16)))
      ].join("\n")
    )
  })
).pipe(Command.withDescription("list the images DECNET built (base and decky)"))

export const images = Command.make("images").pipe(
  Command.withDescription("build and list the decky container images (no registry needed)"),
  Command.withSubcommands([build, list])
)
