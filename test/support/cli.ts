/**
 * The `decnet` executable the CLI tests spawn: the esbuild bundle `npm install`/`npm run build`
 * ship as `bin/decnet`. The global setup (buildCli.ts) rebuilds it from src/ before every run, so the
 * tests exercise the shipped artifact and never a stale one. DECNET_TEST_CLI_BUNDLE points them at another
 * bundle (scripts/build-cli.mjs with DECNET_CLI_OUTDIR), for parallel development. Start-up is ~0.7 s, against ~3.3 s for
 * `node --import tsx src/cli/bin.ts`, which type-strips ~900 modules on every spawn.
 */
import { fileURLToPath } from "node:url"

export const CLI_BUNDLE =
  process.env.DECNET_TEST_CLI_BUNDLE ?? fileURLToPath(new URL("../../dist/bin/decnet.js", import.meta.url))

/** Arguments for `process.execPath` that run the CLI: `spawn(process.execPath, [...DECNET, "bus"])`. */
export const DECNET: ReadonlyArray<string> = [CLI_BUNDLE]
