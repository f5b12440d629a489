// DOCKER_HOST parsing and its DecnetConfig setting: the forms the docker CLI accepts (unix://, tcp://),
// the default socket, and a message naming the variable for anything else.
import { Effect, Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { DecnetConfig } from "../../src/config/DecnetConfig.js"
import {
  DEFAULT_DOCKER_SOCKET,
  formatAddress,
  parseDockerHost,
  tcpAddress,
  unixAddress
} from "../../src/docker/Address.js"

const load = (env: ReadonlyArray<readonly [string, string]>) =>
  Effect.runSync(
    Effect.either(
      Effect.map(DecnetConfig, (s) => s.docker.host).pipe(Effect.provide(DecnetConfig.fromMap(env)))
    )
  )

describe("parseDockerHost", () => {
  it("unset or empty means the system socket", () => {
    expect(parseDockerHost("")).toEqual(Either.right(unixAddress(DEFAULT_DOCKER_SOCKET)))
    expect(parseDockerHost("unix://")).toEqual(Either.right(unixAddress(DEFAULT_DOCKER_SOCKET)))
    expect(load([])).toEqual(Either.right(unixAddress("/var/run/docker.sock")))
  })

  it("unix:// takes an absolute socket path", () => {
    expect(parseDockerHost("unix:///run/user/1000/docker.sock")).toEqual(
      Either.right(unixAddress("/run/user/1000/docker.sock"))
    )
    expect(Either.isLeft(parseDockerHost("unix://relative.sock"))).toBe(true)
  })

  it("tcp:// takes host and port, 2375 by default, IPv6 in brackets", () => {
    expect(parseDockerHost("tcp://127.0.0.1:2376")).toEqual(Either.right(tcpAddress("127.0.0.1", 2376)))
    expect(parseDockerHost("tcp://docker.internal")).toEqual(
      Either.right(tcpAddress("docker.internal", 2375))
    )
    expect(parseDockerHost("tcp://[::1]:2375")).toEqual(Either.right(tcpAddress("::1", 2375)))
    expect(parseDockerHost("tcp://127.0.0.1:2375/")).toEqual(Either.right(tcpAddress("127.0.0.1", 2375)))
  })

  it("refuses other schemes, a missing scheme, bad ports and path prefixes with a reason", () => {
    expect(parseDockerHost("ssh://me@host")).toEqual(Either.left("the ssh:// scheme is not supported"))
    expect(parseDockerHost("npipe:////./pipe/docker_engine")).toEqual(
      Either.left("the npipe:// scheme is not supported")
    )
    expect(parseDockerHost("/var/run/docker.sock")).toEqual(Either.left("missing unix:// or tcp:// scheme"))
    expect(parseDockerHost("localhost:2375")).toEqual(Either.left("missing unix:// or tcp:// scheme"))
    expect(Either.isLeft(parseDockerHost("tcp://127.0.0.1:99999"))).toBe(true)
    expect(parseDockerHost("tcp://127.0.0.1:2375/v1.41")).toEqual(
      Either.left("a path prefix is not supported")
    )
  })

  it("a bad DOCKER_HOST is a ConfigError that names the variable and the value", () => {
    const r = load([["DOCKER_HOST", "ssh://me@host"]])
    expect(Either.isLeft(r)).toBe(true)
    if (Either.isLeft(r)) {
      expect(String(r.left)).toContain(
        "DOCKER_HOST: expected unix:///path/to/docker.sock or tcp://host:port, got 'ssh://me@host'"
      )
    }
    expect(load([["DOCKER_HOST", "tcp://10.0.0.5:2375"]])).toEqual(Either.right(tcpAddress("10.0.0.5", 2375)))
  })

  it("property: formatAddress output parses back to the same address", () => {
    const unix = fc
      .array(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), { minLength: 1, maxLength: 4 })
      .map((parts) => unixAddress(`/${parts.join("/")}`))
    const v4 = fc.ipV4().map((h) => h)
    const tcp = fc
      .tuple(
        fc.oneof(v4, fc.constantFrom("::1", "fe80::1", "docker.example")),
        fc.integer({ min: 1, max: 65535 })
      )
      .map(([h, p]) => tcpAddress(h, p))
    fc.assert(
      fc.property(fc.oneof(unix, tcp), (a) => {
        expect(parseDockerHost(formatAddress(a))).toEqual(Either.right(a))
      })
    )
  })
})
