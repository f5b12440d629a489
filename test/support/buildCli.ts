/**
 * vitest global setup: bundle src/cli/bin.ts into dist/bin/ (scripts/build-cli.mjs, the same build
 * `npm run build` runs) once per test run, before any worker starts.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url))
  const r = spawnSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], {
    cwd: root,
    encoding: "utf8"
  })
  if (r.status !== 0) throw new Error(`building the CLI bundle failed (scripts/build-cli.mjs):\n${r.stderr}`)
}
