// Pure pieces of the Docker service: the create-body planner for both API generations, label filters,
// version comparison, and the classification of dockerode failures into DockerError reasons.
import { Either } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { planConnect, planCreate } from "../../src/docker/CreatePlan.js"
import { amend, DockerError, fromCause } from "../../src/docker/DockerError.js"
import {
  apiAtLeast,
  endpointMacSupported,
  labelFilterValues,
  listFilters,
  matchesLabels
} from "../../src/docker/Filters.js"

const plan = (spec: Parameters<typeof planCreate>[0], api: string) => Either.getOrThrow(planCreate(spec, api))

describe("planCreate", () => {
  const spec = {
    image: "decnet-base:bookworm",
    name: "decky-01",
    cmd: ["sleep", "infinity"],
    env: { NODE_NAME: "decky-01", A: "b=c" },
    labels: { "decnet.fleet.decky": "decky-01" },
    hostname: "web-01",
    capAdd: ["NET_ADMIN"],
    sysctls: { "net.ipv4.ip_default_ttl": "128" },
    restartPolicy: "unless-stopped" as const,
    logConfig: { type: "json-file", config: { "max-size": "10m" } }
  }

  it("maps the common fields to the engine's names", () => {
    const { body, connectAfter } = plan(spec, "1.41")
    expect(connectAfter).toEqual([])
    expect(body).toMatchObject({
      Image: "decnet-base:bookworm",
      name: "decky-01",
      Cmd: ["sleep", "infinity"],
      Env: ["NODE_NAME=decky-01", "A=b=c"],
      Labels: { "decnet.fleet.decky": "decky-01" },
      Hostname: "web-01",
      HostConfig: {
        CapAdd: ["NET_ADMIN"],
        Sysctls: { "net.ipv4.ip_default_ttl": "128" },
        RestartPolicy: { Name: "unless-stopped" },
        LogConfig: { Type: "json-file", Config: { "max-size": "10m" } }
      }
    })
    expect(body.NetworkingConfig).toBeUndefined()
    expect(body.HostConfig?.NetworkMode).toBeUndefined()
  })

  it("API 1.41: one network at create, MAC at container level, the rest connected afterwards", () => {
    const { body, connectAfter } = plan(
      {
        ...spec,
        networks: [
          ["decnet_lan", { ipv4Address: "192.168.1.10", macAddress: "02:42:c0:a8:01:0a" }],
          ["lan-b", { ipv4Address: "10.1.0.5", aliases: ["db"] }]
        ]
      },
      "1.41"
    )
    expect(body.HostConfig?.NetworkMode).toBe("decnet_lan")
    expect(body.MacAddress).toBe("02:42:c0:a8:01:0a")
    expect(body.NetworkingConfig).toEqual({
      EndpointsConfig: { decnet_lan: { IPAMConfig: { IPv4Address: "192.168.1.10" } } }
    })
    expect(connectAfter).toEqual([["lan-b", { ipv4Address: "10.1.0.5", aliases: ["db"] }]])
  })

  it("API 1.44: every network in EndpointsConfig, each with its own MAC, nothing left to connect", () => {
    const { body, connectAfter } = plan(
      {
        ...spec,
        networks: [
          ["decnet_lan", { ipv4Address: "192.168.1.10", macAddress: "02:42:c0:a8:01:0a" }],
          ["lan-b", { macAddress: "02:42:0a:01:00:05" }]
        ]
      },
      "1.44"
    )
    expect(body.MacAddress).toBeUndefined()
    expect(body.NetworkingConfig).toEqual({
      EndpointsConfig: {
        decnet_lan: { IPAMConfig: { IPv4Address: "192.168.1.10" }, MacAddress: "02:42:c0:a8:01:0a" },
        "lan-b": { MacAddress: "02:42:0a:01:00:05" }
      }
    })
    expect(connectAfter).toEqual([])
  })

  it("API 1.41 refuses a MAC on a non-primary network instead of silently dropping it", () => {
    const r = planCreate(
      {
        ...spec,
        networks: [
          ["a", {}],
          ["b", { macAddress: "02:00:00:00:00:01" }]
        ]
      },
      "1.41"
    )
    expect(r).toEqual(
      Either.left(expect.stringContaining("network b (not the primary network) needs Docker API ≥ 1.44"))
    )
    const notPrimary = planCreate(
      { ...spec, networkMode: "container:base", networks: [["a", { macAddress: "02:00:00:00:00:01" }]] },
      "1.41"
    )
    expect(Either.isLeft(notPrimary)).toBe(true)
  })

  it("publishes ports only on the host address the caller named", () => {
    const { body } = plan(
      {
        image: "x",
        ports: [
          { containerPort: 22, hostIp: "127.0.0.1", hostPort: 2222 },
          { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 5353 }
        ]
      },
      "1.41"
    )
    expect(body.ExposedPorts).toEqual({ "22/tcp": {}, "53/udp": {} })
    expect(body.HostConfig?.PortBindings).toEqual({
      "22/tcp": [{ HostIp: "127.0.0.1", HostPort: "2222" }],
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }]
    })
  })

  it("networkMode none or container: is passed through untouched", () => {
    expect(plan({ image: "x", networkMode: "none" }, "1.41").body.HostConfig?.NetworkMode).toBe("none")
    expect(plan({ image: "x", networkMode: "container:abc" }, "1.44").body.HostConfig?.NetworkMode).toBe(
      "container:abc"
    )
  })
})

describe("planConnect", () => {
  it("sends a MAC only where the API honours it", () => {
    expect(planConnect("n", "c", { ipv4Address: "10.0.0.2" }, "1.41")).toEqual(
      Either.right({ Container: "c", EndpointConfig: { IPAMConfig: { IPv4Address: "10.0.0.2" } } })
    )
    expect(Either.isLeft(planConnect("n", "c", { macAddress: "02:00:00:00:00:01" }, "1.41"))).toBe(true)
    expect(planConnect("n", "c", { macAddress: "02:00:00:00:00:01" }, "1.45")).toEqual(
      Either.right({ Container: "c", EndpointConfig: { MacAddress: "02:00:00:00:00:01" } })
    )
  })
})

describe("label filters and API versions", () => {
  it("encodes key=value and bare-key selectors as the engine's label filter", () => {
    expect(labelFilterValues({ "decnet.fleet.decky": "decky-01", "decnet.fleet.service": true })).toEqual([
      "decnet.fleet.decky=decky-01",
      "decnet.fleet.service"
    ])
    expect(listFilters({})).toBeUndefined()
    expect(listFilters({ labels: {}, name: "decky" })).toEqual({ name: ["decky"] })
  })

  it("property: matchesLabels is AND of entries; a present key matches `true`; values compare exactly", () => {
    const key = fc.constantFrom("a", "b", "c", "decnet.x")
    const labels = fc.dictionary(key, fc.constantFrom("1", "2", ""))
    const selector = fc.dictionary(key, fc.oneof(fc.constant<true>(true), fc.constantFrom("1", "2", "")))
    fc.assert(
      fc.property(labels, selector, (l, s) => {
        const expected = Object.entries(s).every(([k, v]) => k in l && (v === true || l[k] === v))
        expect(matchesLabels(l, s)).toBe(expected)
        // Every label set matches the selector built from itself.
        expect(matchesLabels(l, l)).toBe(true)
      })
    )
  })

  it("compares API versions numerically (1.9 < 1.41 < 1.44 < 2.0)", () => {
    expect(apiAtLeast("1.41", "1.9")).toBe(true)
    expect(apiAtLeast("1.41", "1.44")).toBe(false)
    expect(apiAtLeast("1.44", "1.44")).toBe(true)
    expect(apiAtLeast("2.0", "1.44")).toBe(true)
    expect(endpointMacSupported("1.43")).toBe(false)
    expect(endpointMacSupported("1.47")).toBe(true)
    expect(endpointMacSupported("garbage")).toBe(false)
  })
})

describe("fromCause", () => {
  const where = "unix:///tmp/x/docker.sock"
  const sysErr = (code: string) => Object.assign(new Error(`connect ${code} /tmp/x/docker.sock`), { code })
  const httpErr = (statusCode: number, message: string) =>
    Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), {
      statusCode,
      json: { message }
    })

  it("a missing socket, a refused or unroutable connection is `unreachable` naming the address", () => {
    for (const code of ["ENOENT", "ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "ETIMEDOUT"]) {
      const e = fromCause("ping", where, sysErr(code))
      expect(e.reason).toBe("unreachable")
      expect(e.message).toBe(
        "Docker engine not reachable at unix:///tmp/x/docker.sock — is dockerd running? (start it, or set DOCKER_HOST)"
      )
    }
  })

  it("EACCES is `permission-denied` with what to do", () => {
    const e = fromCause("ping", where, sysErr("EACCES"))
    expect(e.reason).toBe("permission-denied")
    expect(e.message).toMatch(/docker group/)
  })

  it("HTTP statuses map to reasons and keep the engine's text", () => {
    const nf = fromCause("inspectContainer", where, httpErr(404, "No such container: nope"), "nope")
    expect(nf).toMatchObject({ reason: "not-found", status: 404, target: "nope", op: "inspectContainer" })
    expect(nf.message).toBe("docker inspectContainer nope: No such container: nope (HTTP 404)")
    expect(fromCause("createContainer", where, httpErr(409, "name in use")).reason).toBe("conflict")
    expect(fromCause("removeNetwork", where, httpErr(403, "has active endpoints")).reason).toBe("conflict")
    const denied = fromCause(
      "createContainer",
      where,
      httpErr(
        403,
        "authorization denied by plugin opa-docker-authz: request rejected by administrative policy"
      )
    )
    expect(denied).toMatchObject({ reason: "permission-denied", status: 403 })
    expect(denied.message).toContain("authorization denied by plugin opa-docker-authz")
    expect(fromCause("createContainer", where, httpErr(400, "bad")).reason).toBe("bad-request")
    expect(fromCause("info", where, httpErr(500, "boom")).reason).toBe("engine")
  })

  it("falls back to dockerode's text without its HTTP prefix, and to String() for odd causes", () => {
    const noJson = Object.assign(new Error("(HTTP code 500) server error - disk full "), { statusCode: 500 })
    expect(fromCause("buildImage", where, noJson, "t").message).toBe(
      "docker buildImage t: disk full (HTTP 500)"
    )
    expect(fromCause("ping", where, "weird").message).toBe("docker ping: weird")
    expect(fromCause("logs", where, sysErr("ECONNRESET")).message).toMatch(/was lost during logs/)
  })

  it("amend keeps every field but the ones it replaces, and stays a DockerError", () => {
    const e = fromCause("inspectContainer", where, httpErr(404, "No such container: x"), "x")
    const a = amend(e, { op: "containerLogs" })
    expect(a).toBeInstanceOf(DockerError)
    expect(a).toMatchObject({
      op: "containerLogs",
      reason: "not-found",
      status: 404,
      target: "x",
      message: e.message
    })
    expect(amend(e, { message: "m" }).message).toBe("m")
  })
})
