// Bundles the `decnet` CLI into dist/bin/ so start-up resolves one file instead of ~900 Effect modules
// (measured: ~530 ms → ~145 ms for `decnet --version`, see docs/development.md). Effect packages are
// bundled; every other dependency stays external and loads from node_modules, lazily where the command
// modules import it dynamically (dynamic imports become split chunks).
import { readFileSync } from "node:fs"
import { build } from "esbuild"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
const bundled = (name) => name === "effect" || name.startsWith("@effect/")
// better-sqlite3 comes in through @effect/sql-sqlite-node, not our dependencies, but it is a native addon
// (its `bindings` loader needs CommonJS `__filename`): it must load from node_modules, never be bundled.
const external = [...Object.keys(pkg.dependencies ?? {}).filter((name) => !bundled(name)), "better-sqlite3"]

await build({
  entryPoints: { decnet: "src/cli/bin.ts" },
  // DECNET_CLI_OUTDIR: a second bundle inside the repository (so node_modules still resolves), for a
  // developer who runs CLI tests while another build is in progress; tests take it from DECNET_TEST_CLI_BUNDLE.
  outdir: process.env.DECNET_CLI_OUTDIR ?? "dist/bin",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: [...external, ...external.map((name) => `${name}/*`)],
  // Bundled CommonJS pieces (if any) need `require`; ESM output has none by default.
  banner: { js: "import { createRequire as __decnetRequire } from 'node:module'; const require = __decnetRequire(import.meta.url);" },
  logLevel: "warning"
})
