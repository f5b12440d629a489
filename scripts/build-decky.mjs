// Bundles the decky container's entrypoint (src/cli/deckyBin.ts: `decnet decky` and `decnet honeypot`)
// into ONE self-contained file, dist/decky/decky.js, with every dependency inside: the decky image has a
// Node binary and this file, and no node_modules. (scripts/build-cli.mjs keeps dependencies external and
// splits chunks, which suits a host install, not an image.)
//
// Two things cannot be bundled as written:
// - ssh2's optional native pieces (`cpu-features`, its `sshcrypto.node` binding) stay external; ssh2
//   requires them inside try/catch and falls back to pure JS when they are missing.
// - src/honeypots/runtime/Tls.ts loads node-forge lazily with `createRequire(import.meta.url)(…)`, which a
//   bundler cannot see. For this bundle only, that call becomes a plain `require("node-forge")` (still
//   lazy: esbuild wraps CommonJS modules in an on-first-require initialiser). If the pattern is gone the
//   build fails rather than producing an image whose https service dies at the first certificate.
//
// Usage: node scripts/build-decky.mjs [outfile]   (default dist/decky/decky.js); prints the output path.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const root = fileURLToPath(new URL("..", import.meta.url))
const outfile = process.argv[2] ?? `${root}dist/decky/decky.js`
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"))

const FORGE_LAZY = 'createRequire(import.meta.url)("node-forge")'

/** Rewrites runtime `createRequire(import.meta.url)("x")` loads that esbuild cannot follow. */
const inlineLazyRequires = {
  name: "decnet-inline-lazy-requires",
  setup(b) {
    b.onLoad({ filter: /src[\\/]honeypots[\\/]runtime[\\/]Tls\.ts$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      if (!source.includes(FORGE_LAZY)) {
        return {
          errors: [
            {
              text: `${args.path} no longer loads node-forge with ${FORGE_LAZY}: update scripts/build-decky.mjs so node-forge stays inside the decky bundle`
            }
          ]
        }
      }
      return { contents: source.replace(FORGE_LAZY, 'require("node-forge")'), loader: "ts" }
    })
  }
}

await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/deckyBin.ts"],
  outfile,
  bundle: true,
  splitting: false,
  format: "esm",
  platform: "node",
  target: "node20",
  // Optional native add-ons, required inside try/catch by ssh2 (and absent from the image on purpose).
  external: ["cpu-features", "*.node"],
  // Stable output for the same sources: no absolute paths in comments, no build time.
  legalComments: "none",
  sourcemap: false,
  minify: false,
  plugins: [inlineLazyRequires],
  define: { __DECNET_VERSION__: JSON.stringify(pkg.version) },
  // Bundled CommonJS needs `require`, `__dirname` and `__filename`, which ESM output lacks (ssh2's agent
  // module reads __dirname at load; require serves the node: builtins and the try/catch optionals).
  banner: {
    js: [
      "import { createRequire as __decnetRequire } from 'node:module';",
      "import { dirname as __decnetDirname } from 'node:path';",
      "import { fileURLToPath as __decnetFileUrl } from 'node:url';",
      "const require = __decnetRequire(import.meta.url);",
      "const __filename = __decnetFileUrl(import.meta.url);",
      "const __dirname = __decnetDirname(__filename);"
    ].join(" ")
  },
  logLevel: "warning"
})
process.stdout.write(`${outfile}\n`)
