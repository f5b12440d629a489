/**
 * vitest global setup: bundle src/cli/bin.ts into dist/bin/ (scripts/build-cli.mjs, the same build
 * `npm run build` runs) once per test run, before any worker starts; and build the web dashboard into
 * dist/web (scripts/build-web.mjs) when it is missing or older than its sources (web/, the API contract).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const newest = (path: string): number => {
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url))
  const r = spawnSync(process.execPath, [join(root, "scripts", "build-cli.mjs")], {
    cwd: root,
    encoding: "utf8"
  })
  if (r.status !== 0) throw new Error(`building the CLI bundle failed (scripts/build-cli.mjs):\n${r.stderr}`)
  const index = join(root, "dist", "web", "index.html")
  const sources = [
    join(root, "web", "src"),
    join(root, "web", "public"),
    join(root, "web", "index.html"),
    join(root, "src", "api", "Contract.ts")
  ]
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newest))) return
  const w = spawnSync(process.execPath, [join(root, "scripts", "build-web.mjs")], {
    cwd: root,
    encoding: "utf8"
  })
  if (w.status !== 0)
    throw new Error(`building the web dashboard failed (scripts/build-web.mjs):\n${w.stdout}\n${w.stderr}`)
}
