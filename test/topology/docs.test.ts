// docs/topology.md's worked example is what the generator makes: rendered here and compared with the page.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { generate } from "../../src/topology/Generator.js"
import { TopologyConfig } from "../../src/topology/Model.js"
import { renderPlan } from "./render.js"

describe("docs/topology.md", () => {
  it("shows the plan of depth 2, branching 2, seed 7", () => {
    const page = readFileSync(new URL("../../docs/topology.md", import.meta.url), "utf8")
    const block =
      /<!-- example: depth 2, branching 2, seed 7 -->\n```text\n([\s\S]*?)\n```\n<!-- \/example -->/.exec(
        page
      )?.[1]
    const config = Schema.decodeUnknownSync(TopologyConfig)({
      name: "example",
      depth: 2,
      branching_factor: 2
    })
    expect(block).toBe(renderPlan(Either.getOrThrow(generate({ ...config, seed: 7 }))))
  })
})
