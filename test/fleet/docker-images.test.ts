// The image builder's logic without an engine: apt sources → mirror, input hashes, the deterministic tar
// writer (read back by the real tar), the cache rules over the recorded Docker fake, and the decky bundle
// itself run from a directory with no node_modules (everything `decnet decky` needs must be inside it).
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Option, Stream } from "effect"
import { afterAll } from "vitest"
import { DockerTest, DockerTestControl } from "../../src/docker/DockerTest.js"
import { tarHeader, tarStream, tarText } from "../../src/docker/Tar.js"
import {
  BASE_IMAGE,
  baseHash,
  buildBase,
  buildDeckyImage,
  buildImages,
  deckyDockerfile,
  deckyHash,
  deckyImage,
  LABEL_HASH,
  LABEL_KIND,
  listImages,
  parseDeb822,
  parseSourcesList,
  pickMirror,
  readAptMirror,
  unbuildableMessage
} from "../../src/fleet/Images.js"
import { spawnAsync } from "../support/spawn.js"

const root = path.resolve(import.meta.dirname, "../..")
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-images-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`

describe("apt sources → the debootstrap mirror", () => {
  it("deb822: the first deb stanza serving the suite itself, trailing slash dropped", () => {
    const sources = parseDeb822(DEB822)
    expect(sources.map((s) => s.suites)).toEqual([["bookworm", "bookworm-updates"], ["bookworm-security"]])
    expect(pickMirror(sources, "bookworm")).toEqual(Option.some("http://mirror.example/debian"))
    expect(pickMirror(sources, "trixie")).toEqual(Option.none())
  })

  it("deb822: disabled stanzas, deb-src and folded fields", () => {
    const text = `Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Enabled: no
Types: deb
URIs: http://off.example/debian
Suites: bookworm

Types: deb
URIs:
 cdrom:/media/
 http://folded.example/debian
Suites: bookworm
`
    expect(pickMirror(parseDeb822(text), "bookworm")).toEqual(Option.some("http://folded.example/debian"))
  })

  it("one-line sources.list with options and comments", () => {
    const text = `# a comment
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] https://one.example/debian bookworm main contrib # trailing
deb http://two.example/debian bookworm main
`
    expect(pickMirror(parseSourcesList(text), "bookworm")).toEqual(Option.some("https://one.example/debian"))
  })

  it.effect(
    "readAptMirror reads sources.list.d before sources.list, and says what to do when none serves the suite",
    () =>
      Effect.gen(function* () {
        const apt = path.join(tmp, "apt")
        fs.mkdirSync(path.join(apt, "sources.list.d"), { recursive: true })
        fs.writeFileSync(path.join(apt, "sources.list"), "deb http://legacy.example/debian bookworm main\n")
        fs.writeFileSync(path.join(apt, "sources.list.d", "debian.sources"), DEB822)
        expect(yield* readAptMirror("bookworm", apt)).toBe("http://mirror.example/debian")
        fs.rmSync(path.join(apt, "sources.list.d", "debian.sources"))
        expect(yield* readAptMirror("bookworm", apt)).toBe("http://legacy.example/debian")
        const none = yield* Effect.either(readAptMirror("trixie", apt))
        expect(Either.isLeft(none) && none.left.message).toMatch(
          /no Debian mirror for 'trixie'.*--mirror URL/
        )
      }).pipe(Effect.provide(NodeContext.layer))
  )
})

describe("input hashes", () => {
  it("the base hash follows the mirror, suite and variant", () => {
    const a = baseHash({ mirror: "http://m/debian", suite: "bookworm", variant: "minbase" })
    expect(baseHash({ mirror: "http://m/debian", suite: "bookworm", variant: "minbase" })).toBe(a)
    expect(baseHash({ mirror: "http://other/debian", suite: "bookworm", variant: "minbase" })).not.toBe(a)
    expect(baseHash({ mirror: "http://m/debian", suite: "trixie", variant: "minbase" })).not.toBe(a)
  })

  it("the decky hash follows the base id, the node binary and the bundle", () => {
    const inputs = {
      distro: "debian",
      baseId: "sha256:aa",
      nodeVersion: "v20.20.2",
      nodeSha256: "11",
      bundleSha256: "22"
    }
    const h = deckyHash(inputs)
    expect(deckyHash({ ...inputs })).toBe(h)
    for (const change of [
      { baseId: "sha256:bb" },
      { nodeSha256: "12" },
      { bundleSha256: "23" },
      { nodeVersion: "v22" }
    ])
      expect(deckyHash({ ...inputs, ...change })).not.toBe(h)
    expect(deckyDockerfile()).toMatch(/^FROM decnet-base:bookworm\n/)
    expect(deckyDockerfile()).toContain('ENTRYPOINT ["/usr/local/bin/node", "/opt/decnet/decky.js"]')
  })

  it("an unbuildable distro names what can be built and that pulling is not available", () => {
    expect(unbuildableMessage("ubuntu22")).toMatch(/cannot build 'ubuntu22' here: only debian can be built/)
    expect(unbuildableMessage("ubuntu22")).toMatch(/pulling is not available/)
    expect(unbuildableMessage("plan9")).toMatch(/unknown distro 'plan9' \(known: debian, ubuntu22/)
  })
})

describe("the tar writer", () => {
  it("rejects names ustar cannot hold", () => {
    expect(Either.isLeft(tarHeader("x".repeat(101), 1))).toBe(true)
    expect(Either.isRight(tarHeader(`${"d".repeat(120)}/${"f".repeat(90)}`, 1))).toBe(true)
  })

  it.effect("writes an archive the real tar lists and extracts, byte-identical for the same input", () =>
    Effect.gen(function* () {
      const big = new Uint8Array(700_001).map((_, i) => i % 251)
      const entries = () => [
        tarText("Dockerfile", "FROM scratch\n"),
        {
          name: "bin/tool",
          mode: 0o755,
          size: big.length,
          content: Stream.fromIterable([big.subarray(0, 300_000), big.subarray(300_000)])
        }
      ]
      const bytes = (s: Stream.Stream<Uint8Array, unknown>) =>
        Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toArray(c)))
      const one = yield* bytes(tarStream(entries()))
      const two = yield* bytes(tarStream(entries()))
      expect(one.equals(two)).toBe(true)
      expect(one.length % 512).toBe(0)
      const file = path.join(tmp, "ctx.tar")
      fs.writeFileSync(file, one)
      const list = yield* Effect.promise(() => spawnAsync("tar", ["-tvf", file]))
      expect(list.status).toBe(0)
      expect(list.stdout).toMatch(/-rw-r--r-- root\/root\s+13 1970-01-01 00:00 Dockerfile/)
      expect(list.stdout).toMatch(/-rwxr-xr-x root\/root\s+700001 1970-01-01 00:00 bin\/tool/)
      const out = path.join(tmp, "x")
      fs.mkdirSync(out)
      yield* Effect.promise(() => spawnAsync("tar", ["-xf", file, "-C", out]))
      expect(fs.readFileSync(path.join(out, "bin", "tool")).equals(Buffer.from(big))).toBe(true)
    })
  )

  it.effect("a file whose size does not match fails instead of writing a corrupt archive", () =>
    Effect.gen(function* () {
      const r = yield* Effect.either(
        Stream.runDrain(tarStream([{ name: "f", size: 10, content: Stream.make(new Uint8Array(4)) }]))
      )
      expect(Either.isLeft(r) && r.left.message).toMatch(/'f' has 4 bytes, expected 10/)
    })
  )
})

describe("the cache rules (recorded Docker fake)", () => {
  const bundle = path.join(tmp, "bundle.js")
  fs.writeFileSync(bundle, "console.log('decky')\n")
  // A small stand-in for the Node binary: the builder only hashes it, reads its --version and copies it.
  const fakeNode = path.join(tmp, "node-stand-in")
  fs.writeFileSync(fakeNode, "#!/bin/sh\necho v20.99.0\n", { mode: 0o755 })
  const layer = Layer.merge(DockerTest(), NodeContext.layer)
  const quiet = () => Effect.void

  it.effect("the decky image is built once per input hash, and again when the bundle changes", () =>
    Effect.gen(function* () {
      const control = yield* DockerTestControl
      yield* control.addImage(BASE_IMAGE, { labels: { [LABEL_KIND]: "base", [LABEL_HASH]: "b" } })
      const options = { distro: "debian", bundlePath: bundle, nodePath: fakeNode, progress: quiet }
      const first = yield* buildDeckyImage(options)
      const second = yield* buildDeckyImage(options)
      expect([first.cached, second.cached]).toEqual([false, true])
      expect(second.hash).toBe(first.hash)
      fs.appendFileSync(bundle, "// changed\n")
      const third = yield* buildDeckyImage(options)
      expect(third.cached).toBe(false)
      expect(third.hash).not.toBe(first.hash)
      const builds = (yield* control.calls).filter((c) => c.op === "buildImage")
      expect(builds.length).toBe(2)
      expect(builds[0]?.args[1]).toMatchObject({
        tag: deckyImage("debian"),
        networkMode: "none",
        labels: { [LABEL_KIND]: "decky", [LABEL_HASH]: first.hash }
      })
      const rows = yield* listImages
      expect(rows.map((r) => [r.image, r.kind])).toEqual([
        [BASE_IMAGE, "base"],
        [deckyImage("debian"), "decky"]
      ])
    }).pipe(Effect.provide(layer))
  )

  it.effect("no base image: the decky image says to build it first; a cached base skips debootstrap", () =>
    Effect.gen(function* () {
      const control = yield* DockerTestControl
      const missing = yield* Effect.either(
        buildDeckyImage({ distro: "debian", bundlePath: bundle, nodePath: fakeNode, progress: quiet })
      )
      expect(Either.isLeft(missing) && missing.left.message).toMatch(/decnet-base:bookworm is missing/)
      const mirror = "http://mirror.example/debian"
      const hash = baseHash({ mirror, suite: "bookworm", variant: "minbase" })
      yield* control.addImage(BASE_IMAGE, { labels: { [LABEL_KIND]: "base", [LABEL_HASH]: hash } })
      const lines: Array<string> = []
      const base = yield* buildBase({ mirror, progress: (l) => Effect.sync(() => void lines.push(l)) })
      expect(base.cached).toBe(true)
      expect(lines).toEqual([expect.stringMatching(/^decnet-base:bookworm: cached \(hash [0-9a-f]{12}/)])
      expect((yield* control.calls).some((c) => c.op === "importImage")).toBe(false)
    }).pipe(Effect.provide(layer))
  )

  it.effect("an unbuildable distro fails before any work", () =>
    Effect.gen(function* () {
      const control = yield* DockerTestControl
      const r = yield* Effect.either(
        buildImages({ distro: "rocky9", bundlePath: bundle, nodePath: fakeNode, progress: quiet })
      )
      expect(Either.isLeft(r) && r.left.message).toMatch(/cannot build 'rocky9' here/)
      expect(yield* control.calls).toEqual([])
    }).pipe(Effect.provide(layer))
  )
})

describe("the decky bundle (scripts/build-decky.mjs)", () => {
  it("runs `decky` from a directory without node_modules: ssh2, node-forge (https) and the rest are inside", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "decnet-bundle-"))
    try {
      const file = path.join(dir, "decky.js")
      const built = await spawnAsync(
        process.execPath,
        [path.join(root, "scripts", "build-decky.mjs"), file],
        {
          cwd: root,
          timeout: 120_000
        }
      )
      expect(built.status).toBe(0)
      const child = spawn(
        process.execPath,
        [
          file,
          "decky",
          "--services",
          "ssh,redis,https",
          "--host",
          "127.0.0.1",
          "--ephemeral",
          "--name",
          "bundle-it"
        ],
        { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DECNET_ARTIFACTS_ROOT: dir } }
      )
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d
      })
      const notice = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no notice in 60 s; stderr:\n${stderr}`)), 60_000)
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
          stderr += d
          const m = /^decky bundle-it listening on (.*)$/m.exec(stderr)
          if (m?.[1] !== undefined) {
            clearTimeout(timer)
            resolve(m[1])
          }
        })
        child.on("exit", (code) => reject(new Error(`the bundle exited with ${code}:\n${stderr}`)))
      })
      try {
        const port = (slug: string) =>
          /(\d+) \(/.exec(notice.split(", ").find((s) => s.startsWith(`${slug} `)) ?? "")?.[1]
        const redis = await spawnAsync("redis-cli", ["-h", "127.0.0.1", "-p", port("redis") ?? "0", "PING"])
        expect(redis.stdout.trim()).toBe("PONG")
        // The first https connection mints the self-signed certificate with node-forge.
        const https = await spawnAsync(
          "curl",
          ["-sk", "-o", "/dev/null", "-w", "%{http_code}", `https://127.0.0.1:${port("https")}/`],
          {
            timeout: 60_000
          }
        )
        expect(https.stdout).toMatch(/^\d{3}$/)
        expect(https.stdout).not.toBe("000")
        expect(stdout).toMatch(/bundle-it ssh - startup /)
        expect(stdout).toMatch(/bundle-it https - request /)
      } finally {
        child.kill("SIGTERM")
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
