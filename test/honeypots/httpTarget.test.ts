// The request-target mapping shared by HTTP/1 and h2 (Apache.ts parseTarget): the one-pass shortcut
// for a path that maps to itself must answer what the general mapping answers. A `?` sends any target
// down the general path without changing its mapping, which gives the property below.

import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseTarget } from "../../src/honeypots/http/Apache.js"

describe("parseTarget", () => {
  it.each([
    ["/", { _tag: "Path", path: "/" }],
    ["/index.html", { _tag: "Path", path: "/index.html" }],
    ["/a/b/", { _tag: "Path", path: "/a/b/" }],
    ["/.well-known/x", { _tag: "Path", path: "/.well-known/x" }],
    ["/a..b/c.", { _tag: "Path", path: "/a..b/c." }],
    ["/a//b", { _tag: "Path", path: "/a/b" }],
    ["//", { _tag: "Path", path: "/" }],
    ["/a/./b/.", { _tag: "Path", path: "/a/b/" }],
    ["/a/../b", { _tag: "Path", path: "/b" }],
    ["/..", { _tag: "Bad" }],
    ["/%41?x=1#y", { _tag: "Path", path: "/A" }],
    ["/%2f", { _tag: "NotFound" }],
    ["/%zz", { _tag: "Bad" }],
    ["a", { _tag: "Bad" }],
    ["*", { _tag: "Asterisk" }],
    ["http://Host:8080", { _tag: "Path", path: "/", host: "host", port: 8080 }]
  ])("%j", (target, expected) => {
    expect(parseTarget(target)).toEqual(expected)
  })

  it("property: a path maps as it would with a query appended (the shortcut agrees with the general path)", () => {
    const piece = fc.constantFrom(
      "/",
      "/",
      ".",
      "..",
      "a",
      "b.c",
      "%",
      "%2F",
      "%41",
      "%00",
      "?",
      "#",
      "é",
      " ",
      "\u0000"
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const target = `/${pieces.join("")}`
        expect(parseTarget(target)).toEqual(parseTarget(`${target}?`))
      }),
      { numRuns: 5_000 }
    )
  })
})
