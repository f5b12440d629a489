// Shared by the bench scripts: each one runs its measured code in a child process on an esbuild bundle of
// itself, bundled like scripts/build-cli.mjs bundles the shipped CLI (effect inlined, the other runtime
// dependencies external). Measured processes then look like a deployed DECNET process, not like a tsx
// process carrying a TypeScript loader and its caches (~120–170 MiB more RSS, 3–5× slower scavenges).
import { readFileSync } from "node:fs"

/** Bundle `entryUrl` (a bench file's `import.meta.url`) to node_modules/.cache/decnet-bench/<name>.js. */
export const bundleBench = (entryUrl: string, name: string): Promise<string> =>
  bundleFile(
    new URL(entryUrl).pathname,
    name,
    new URL("../node_modules/.cache/decnet-bench/", import.meta.url).pathname
  )

/** Bundle the TypeScript file `entry` to `<outdir><name>.js`, as the shipped CLI is bundled. */
export const bundleFile = async (entry: string, name: string, outdir: string): Promise<string> => {
  const { build } = await import("esbuild")
  const pkg: { dependencies?: Record<string, string> } = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.url), "utf8")
  )
  // better-sqlite3 (a native addon whose loader needs CommonJS `__filename`) and mysql2 come in through
  // the @effect/sql drivers, not our dependencies: they load from node_modules, as in the shipped CLI.
  const external = [
    ...Object.keys(pkg.dependencies ?? {}).filter((n) => n !== "effect" && !n.startsWith("@effect/")),
    "better-sqlite3",
    "mysql2"
  ]
  await build({
    entryPoints: { [name]: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: [...external, ...external.map((n) => `${n}/*`)],
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
    },
    logLevel: "warning"
  })
  return `${outdir}${name}.js`
}
