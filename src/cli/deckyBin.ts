// The decky image's entry (`node /opt/decnet/decky.js decky --services … --host …`), bundled with every
// dependency into one file by scripts/build-decky.mjs. Only the commands a decky container runs are here
// (no role gating, no fleet or database commands), so the image carries nothing else.
import { Command } from "@effect/cli"
import { decky, honeypot } from "./honeypot.js"
import { runProcess } from "./Process.js"

// The image has no package.json: the bundler writes the version in (scripts/build-decky.mjs `define`).
declare const __DECNET_VERSION__: string | undefined
const version = typeof __DECNET_VERSION__ === "string" ? __DECNET_VERSION__ : "0.0.0"

const root = Command.make("decnet").pipe(
  Command.withDescription("DECNET decky entrypoint"),
  Command.withSubcommands([decky, honeypot])
)

runProcess(Command.run(root, { name: "decnet", version })(process.argv))
