/**
 * The live `Docker` layer: dockerode on the address from DecnetConfig (`DOCKER_HOST`, default
 * `/var/run/docker.sock`).
 * dockerode is promise/callback based, so each call is wrapped here once (Effect.tryPromise / async),
 * given a `Docker.<op>` span, and its failure classified into a `DockerError`. Streamed responses are
 * scoped: the HTTP response is destroyed when the Stream ends, fails or is interrupted.
 */

import { Readable } from "node:stream"
import { NodeStream } from "@effect/platform-node"
import type DockerModem from "docker-modem"
import Dockerode from "dockerode"
import { Effect, Either, Layer, Option, Ref, Schema, type Scope, Stream } from "effect"
import { DecnetConfig } from "../config/DecnetConfig.js"
import { type DockerAddress, formatAddress } from "./Address.js"
import { planConnect, planCreate } from "./CreatePlan.js"
import { type DecodeResult, JsonLines, LogDemuxer, type LogLine, RawLogDecoder } from "./Demux.js"
import {
  BUILD_OUTPUT_TAIL,
  type BuildOptions,
  Docker,
  type DockerService,
  type EventsOptions,
  type ImportOptions,
  type LogsOptions
} from "./Docker.js"
import { amend, DockerError, fromCause } from "./DockerError.js"
import { labelFilterValues, listFilters } from "./Filters.js"
import {
  type BuildResult,
  ContainerDetails,
  ContainerSummary,
  EngineEvent,
  EngineInfo,
  EngineVersion,
  ImageDetails,
  ImageSummary,
  NetworkInfo,
  ProgressEvent
} from "./Model.js"

/**
 * dockerode options for one address. Every connection field is set explicitly: dockerode otherwise
 * fills the gaps from the process environment (DOCKER_HOST, DOCKER_CERT_PATH, …) behind DecnetConfig's back.
 */
export const dockerodeOptions = (address: DockerAddress): Dockerode.DockerOptions =>
  address._tag === "Unix"
    ? {
        socketPath: address.path,
        host: undefined,
        port: undefined,
        protocol: "http",
        ca: undefined,
        cert: undefined,
        key: undefined,
        timeout: undefined
      }
    : {
        socketPath: undefined,
        host: address.host,
        port: address.port,
        protocol: "http",
        ca: undefined,
        cert: undefined,
        key: undefined,
        timeout: undefined
      }

/** The engine's 304: the container was already in the state asked for. */
const isNotModified = (e: DockerError): boolean => e.status === 304

/** The failure text of a progress message, if it is one (build and import share the format). */
const progressError = (op: string, target: string, ev: ProgressEvent): string | undefined =>
  ev.error !== undefined || ev.errorDetail?.message !== undefined
    ? `docker ${op} ${target} failed: ${(ev.errorDetail?.message ?? ev.error ?? "").trim()}`
    : undefined

const SHA = /^sha256:[0-9a-f]{64}$/
const BUILT = /Successfully built ([0-9a-f]{12,64})/

export const makeDocker = (address: DockerAddress): Effect.Effect<DockerService, DockerError> =>
  Effect.gen(function* () {
    const where = formatAddress(address)
    const docker = yield* Effect.try({
      try: () => new Dockerode(dockerodeOptions(address)),
      catch: (cause) => fromCause("connect", where, cause)
    })

    const call = <A>(op: string, target: string | undefined, f: (signal: AbortSignal) => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => fromCause(op, where, cause, target) })

    const decode =
      <A, I>(op: string, target: string | undefined, schema: Schema.Schema<A, I>) =>
      (raw: unknown): Effect.Effect<A, DockerError> =>
        Schema.decodeUnknown(schema)(raw).pipe(
          Effect.mapError(
            (cause) =>
              new DockerError({
                op,
                ...(target === undefined ? {} : { target }),
                reason: "decode",
                message: `docker ${op}: unexpected answer from the engine at ${where}: ${cause.message}`,
                cause
              })
          )
        )

    const streamError = (op: string, target: string | undefined, message: string) =>
      new DockerError({ op, ...(target === undefined ? {} : { target }), reason: "stream", message })

    /** Own a response stream: destroyed when the scope closes, whatever happened. */
    const ownReadable = (r: NodeJS.ReadableStream | Readable, op: string, target: string | undefined) =>
      r instanceof Readable
        ? Effect.acquireRelease(Effect.succeed(r), (s) => Effect.sync(() => s.destroy()))
        : Effect.fail(streamError(op, target, `docker ${op}: the engine did not answer with a stream`))

    /** A raw streamed GET (logs, events) through the modem, so even a finite answer arrives as a stream. */
    const dialStream = (
      op: string,
      target: string | undefined,
      path: string,
      query: Record<string, unknown>,
      statusCodes: DockerModem.StatusCodes
    ): Effect.Effect<Readable, DockerError, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.async<Readable, DockerError>((resume, signal) => {
          docker.modem.dial(
            { path, method: "GET", options: { ...query }, isStream: true, statusCodes, abortSignal: signal },
            (err, result) => {
              if (err) resume(Effect.fail(fromCause(op, where, err, target)))
              else if (result instanceof Readable) resume(Effect.succeed(result))
              else
                resume(
                  Effect.fail(
                    streamError(op, target, `docker ${op}: the engine did not answer with a stream`)
                  )
                )
            }
          )
        }),
        (s) => Effect.sync(() => s.destroy())
      )

    const bytes = (
      op: string,
      target: string | undefined,
      r: Readable
    ): Stream.Stream<Uint8Array, DockerError> =>
      NodeStream.fromReadable<DockerError, Uint8Array>(
        () => r,
        (cause) => fromCause(op, where, cause, target)
      )

    /** Run an incremental decoder over a byte stream; lines decoded before an error are still emitted. */
    const decodeStream = <A>(
      op: string,
      target: string | undefined,
      source: Stream.Stream<Uint8Array, DockerError>,
      make: () => {
        push: (c: Uint8Array) => { readonly items: ReadonlyArray<A>; readonly error?: string | undefined }
        end: () => { readonly items: ReadonlyArray<A>; readonly error?: string | undefined }
      }
    ): Stream.Stream<A, DockerError> =>
      Stream.suspend(() => {
        const d = make()
        const emit = (r: { readonly items: ReadonlyArray<A>; readonly error?: string | undefined }) => {
          const items = Stream.fromIterable(r.items)
          return r.error === undefined
            ? items
            : Stream.concat(items, Stream.fail(streamError(op, target, `docker ${op}: ${r.error}`)))
        }
        return source.pipe(
          Stream.flatMap((c) => emit(d.push(c))),
          Stream.concat(Stream.suspend(() => emit(d.end())))
        )
      })

    const logDecoder = (tty: boolean) => () => {
      const d = tty ? new RawLogDecoder() : new LogDemuxer()
      const adapt = (r: DecodeResult) => ({ items: r.lines, error: r.error })
      return { push: (c: Uint8Array) => adapt(d.push(c)), end: () => adapt(d.end()) }
    }
    const jsonDecoder = () => {
      const d = new JsonLines()
      return {
        push: (c: Uint8Array) => {
          const r = d.push(c)
          return { items: r.values, error: r.error }
        },
        end: () => {
          const r = d.end()
          return { items: r.values, error: r.error }
        }
      }
    }

    // ---- engine ----------------------------------------------------------------------------------
    const ping = call("ping", undefined, () => docker.ping()).pipe(
      Effect.asVoid,
      Effect.withSpan("Docker.ping")
    )

    const version = call<unknown>("version", undefined, () => docker.version()).pipe(
      Effect.flatMap(decode("version", undefined, EngineVersion)),
      Effect.withSpan("Docker.version")
    )

    const info = call<unknown>("info", undefined, () => docker.info()).pipe(
      Effect.flatMap(decode("info", undefined, EngineInfo)),
      Effect.withSpan("Docker.info")
    )

    // The API version decides request shapes; ask once per layer, and again only if the first ask failed.
    const apiVersionCache = yield* Ref.make(Option.none<string>())
    const apiVersion = Ref.get(apiVersionCache).pipe(
      Effect.flatMap(
        Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            version.pipe(
              Effect.map((v) => v.ApiVersion),
              Effect.tap((v) => Ref.set(apiVersionCache, Option.some(v)))
            )
        })
      )
    )

    const unsupported = (op: string, target: string | undefined, message: string) =>
      new DockerError({ op, ...(target === undefined ? {} : { target }), reason: "unsupported", message })

    // ---- containers ------------------------------------------------------------------------------
    const listContainers: DockerService["listContainers"] = Effect.fn("Docker.listContainers")(
      function* (options) {
        const filters = listFilters({ labels: options?.labels, name: options?.name })
        const raw = yield* call<unknown>("listContainers", undefined, (signal) =>
          docker.listContainers({
            all: options?.all ?? true,
            abortSignal: signal,
            ...(filters ? { filters } : {})
          })
        )
        return yield* decode("listContainers", undefined, Schema.Array(ContainerSummary))(raw)
      }
    )

    const inspectContainer = Effect.fn("Docker.inspectContainer")(function* (id: string) {
      yield* Effect.annotateCurrentSpan("docker.container", id)
      const raw = yield* call<unknown>("inspectContainer", id, (signal) =>
        docker.getContainer(id).inspect({ abortSignal: signal })
      )
      return yield* decode("inspectContainer", id, ContainerDetails)(raw)
    })

    const removeContainer: DockerService["removeContainer"] = Effect.fn("Docker.removeContainer")(
      function* (id, options) {
        yield* Effect.annotateCurrentSpan("docker.container", id)
        yield* call("removeContainer", id, () =>
          docker.getContainer(id).remove({ force: options?.force ?? false, v: options?.volumes ?? false })
        )
      }
    )

    const connectNetwork: DockerService["connectNetwork"] = Effect.fn("Docker.connectNetwork")(
      function* (network, container, endpoint) {
        yield* Effect.annotateCurrentSpan("docker.network", network)
        yield* Effect.annotateCurrentSpan("docker.container", container)
        const api = yield* apiVersion
        const body = yield* Either.match(planConnect(network, container, endpoint ?? {}, api), {
          onLeft: (why) => Effect.fail(unsupported("connectNetwork", network, why)),
          onRight: Effect.succeed
        })
        yield* call("connectNetwork", network, () => docker.getNetwork(network).connect(body))
      }
    )

    const createContainer: DockerService["createContainer"] = Effect.fn("Docker.createContainer")(
      function* (spec) {
        const target = spec.name ?? spec.image
        yield* Effect.annotateCurrentSpan("docker.image", spec.image)
        const api = yield* apiVersion
        const plan = yield* Either.match(planCreate(spec, api), {
          onLeft: (why) => Effect.fail(unsupported("createContainer", target, why)),
          onRight: Effect.succeed
        })
        const created = yield* call("createContainer", target, (signal) =>
          docker.createContainer({ ...plan.body, abortSignal: signal })
        )
        // Old engines take one network at create; attach the rest now, and leave nothing half-made.
        yield* Effect.forEach(
          plan.connectAfter,
          ([network, endpoint]) => connectNetwork(network, created.id, endpoint),
          {
            discard: true
          }
        ).pipe(
          // onError also runs on interruption (Ctrl-C between create and connect), unlike tapError.
          Effect.onError(() => removeContainer(created.id, { force: true }).pipe(Effect.ignore))
        )
        return created.id
      }
    )

    const startContainer = Effect.fn("Docker.startContainer")(function* (id: string) {
      yield* Effect.annotateCurrentSpan("docker.container", id)
      yield* call("startContainer", id, (signal) =>
        docker.getContainer(id).start({ abortSignal: signal })
      ).pipe(
        Effect.asVoid,
        Effect.catchIf(isNotModified, () => Effect.void)
      )
    })

    const stopContainer: DockerService["stopContainer"] = Effect.fn("Docker.stopContainer")(
      function* (id, options) {
        yield* Effect.annotateCurrentSpan("docker.container", id)
        yield* call("stopContainer", id, (signal) =>
          docker.getContainer(id).stop({
            abortSignal: signal,
            ...(options?.timeoutSeconds === undefined ? {} : { t: options.timeoutSeconds })
          })
        ).pipe(
          Effect.asVoid,
          Effect.catchIf(isNotModified, () => Effect.void)
        )
      }
    )

    const waitContainer = Effect.fn("Docker.waitContainer")(function* (id: string) {
      yield* Effect.annotateCurrentSpan("docker.container", id)
      const raw = yield* call<unknown>("waitContainer", id, (signal) =>
        docker.getContainer(id).wait({ abortSignal: signal })
      )
      const r = yield* decode("waitContainer", id, Schema.Struct({ StatusCode: Schema.Number }))(raw)
      return r.StatusCode
    })

    const containerLogs = (id: string, options?: LogsOptions): Stream.Stream<LogLine, DockerError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          // TTY containers' logs are not multiplexed; the container's config says which decoder applies.
          const details = yield* inspectContainer(id).pipe(
            Effect.mapError((e) => amend(e, { op: "containerLogs" }))
          )
          const query: Record<string, unknown> = {
            follow: options?.follow ?? false,
            stdout: options?.stdout ?? true,
            stderr: options?.stderr ?? true
          }
          if (options?.tail !== undefined) query.tail = options.tail
          if (options?.since !== undefined) query.since = options.since
          if (options?.timestamps === true) query.timestamps = true
          const res = yield* dialStream(
            "containerLogs",
            id,
            `/containers/${encodeURIComponent(id)}/logs?`,
            query,
            {
              200: true,
              404: "no such container",
              500: "server error"
            }
          )
          return decodeStream(
            "containerLogs",
            id,
            bytes("containerLogs", id, res),
            logDecoder(details.Config.Tty)
          )
        })
      ).pipe(Stream.withSpan("Docker.containerLogs", { attributes: { "docker.container": id } }))

    // ---- networks --------------------------------------------------------------------------------
    const listNetworks: DockerService["listNetworks"] = Effect.fn("Docker.listNetworks")(function* (options) {
      const filters = listFilters({ labels: options?.labels, name: options?.name })
      const raw = yield* call<unknown>("listNetworks", undefined, (signal) =>
        docker.listNetworks({ abortSignal: signal, ...(filters ? { filters } : {}) })
      )
      return yield* decode("listNetworks", undefined, Schema.Array(NetworkInfo))(raw)
    })

    const inspectNetwork = Effect.fn("Docker.inspectNetwork")(function* (idOrName: string) {
      yield* Effect.annotateCurrentSpan("docker.network", idOrName)
      const raw = yield* call<unknown>("inspectNetwork", idOrName, () =>
        docker.getNetwork(idOrName).inspect()
      )
      return yield* decode("inspectNetwork", idOrName, NetworkInfo)(raw)
    })

    const createNetwork: DockerService["createNetwork"] = Effect.fn("Docker.createNetwork")(function* (spec) {
      yield* Effect.annotateCurrentSpan("docker.network", spec.name)
      const body: Dockerode.NetworkCreateOptions = {
        Name: spec.name,
        CheckDuplicate: true,
        Driver: spec.driver ?? "bridge",
        Internal: spec.internal ?? false,
        Attachable: spec.attachable ?? false,
        EnableIPv6: spec.enableIPv6 ?? false,
        Labels: { ...spec.labels },
        Options: { ...spec.options }
      }
      if (spec.ipam !== undefined) {
        body.IPAM = {
          Driver: "default",
          Config: spec.ipam.map((p) => ({
            Subnet: p.subnet,
            ...(p.gateway === undefined ? {} : { Gateway: p.gateway }),
            ...(p.ipRange === undefined ? {} : { IPRange: p.ipRange })
          }))
        }
      }
      const network = yield* call("createNetwork", spec.name, (signal) =>
        docker.createNetwork({ ...body, abortSignal: signal })
      )
      return network.id
    })

    const removeNetwork = Effect.fn("Docker.removeNetwork")(function* (idOrName: string) {
      yield* Effect.annotateCurrentSpan("docker.network", idOrName)
      yield* call("removeNetwork", idOrName, () => docker.getNetwork(idOrName).remove())
    })

    const disconnectNetwork: DockerService["disconnectNetwork"] = Effect.fn("Docker.disconnectNetwork")(
      function* (network, container, options) {
        yield* Effect.annotateCurrentSpan("docker.network", network)
        yield* Effect.annotateCurrentSpan("docker.container", container)
        yield* call("disconnectNetwork", network, () =>
          docker.getNetwork(network).disconnect({ Container: container, Force: options?.force ?? false })
        )
      }
    )

    // ---- images ----------------------------------------------------------------------------------
    const listImages: DockerService["listImages"] = Effect.fn("Docker.listImages")(function* (options) {
      const filters: Record<string, Array<string>> = {}
      if (options?.labels !== undefined && Object.keys(options.labels).length > 0) {
        filters.label = labelFilterValues(options.labels)
      }
      if (options?.reference !== undefined) filters.reference = [options.reference]
      const raw = yield* call<unknown>("listImages", undefined, (signal) =>
        docker.listImages({ abortSignal: signal, ...(Object.keys(filters).length > 0 ? { filters } : {}) })
      )
      return yield* decode("listImages", undefined, Schema.Array(ImageSummary))(raw)
    })

    const inspectImage = Effect.fn("Docker.inspectImage")(function* (ref: string) {
      yield* Effect.annotateCurrentSpan("docker.image", ref)
      const raw = yield* call<unknown>("inspectImage", ref, () => docker.getImage(ref).inspect())
      return yield* decode("inspectImage", ref, ImageDetails)(raw)
    })

    const removeImage: DockerService["removeImage"] = Effect.fn("Docker.removeImage")(
      function* (ref, options) {
        yield* Effect.annotateCurrentSpan("docker.image", ref)
        yield* call("removeImage", ref, () =>
          docker.getImage(ref).remove({ force: options?.force ?? false, noprune: options?.noPrune ?? false })
        )
      }
    )

    /**
     * Feed an upload (rootfs or build context) to dockerode as a Node Readable. If the caller's stream
     * fails, that failure (typed `E`) wins over the broken request it causes.
     */
    const upload = <E>(input: Stream.Stream<Uint8Array, E>) =>
      Effect.gen(function* () {
        const failure = yield* Ref.make(Option.none<E>())
        const readable = yield* Effect.acquireRelease(
          NodeStream.toReadable(input.pipe(Stream.tapError((e) => Ref.set(failure, Option.some(e))))),
          (r) => Effect.sync(() => r.destroy())
        )
        const preferInput = <A, R>(
          self: Effect.Effect<A, DockerError, R>
        ): Effect.Effect<A, DockerError | E, R> =>
          Effect.catchAll(self, (err) =>
            Ref.get(failure).pipe(
              Effect.flatMap(
                Option.match({ onNone: () => Effect.fail<DockerError | E>(err), onSome: Effect.fail })
              )
            )
          )
        return { readable, preferInput }
      })

    const progressStream = (
      op: string,
      target: string,
      res: Readable
    ): Stream.Stream<ProgressEvent, DockerError> =>
      decodeStream(op, target, bytes(op, target, res), jsonDecoder).pipe(
        Stream.mapEffect(decode(op, target, ProgressEvent)),
        Stream.mapEffect((ev) => {
          const failed = progressError(op, target, ev)
          return failed === undefined
            ? Effect.succeed(ev)
            : Effect.fail(new DockerError({ op, target, reason: "build-failed", message: failed }))
        })
      )

    const importImage = <E>(tar: Stream.Stream<Uint8Array, E>, options: ImportOptions) => {
      const target = `${options.repo}:${options.tag ?? "latest"}`
      return Effect.scoped(
        Effect.gen(function* () {
          const { readable, preferInput } = yield* upload(tar)
          const query = {
            repo: options.repo,
            tag: options.tag ?? "latest",
            ...(options.changes === undefined ? {} : { changes: [...options.changes] })
          }
          const res = yield* preferInput(
            call("importImage", target, (signal) =>
              docker.importImage(readable, { ...query, abortSignal: signal })
            ).pipe(Effect.flatMap((r) => ownReadable(r, "importImage", target)))
          )
          const events = yield* preferInput(Stream.runCollect(progressStream("importImage", target, res)))
          // The last status naming a digest is the image id; fall back to asking the engine.
          let id: string | undefined
          for (const ev of events)
            if (ev.status !== undefined && SHA.test(ev.status.trim())) id = ev.status.trim()
          if (id !== undefined) return id
          const details = yield* inspectImage(target)
          return details.Id
        })
      ).pipe(Effect.withSpan("Docker.importImage", { attributes: { "docker.image": target } }))
    }

    const buildImageProgress = <E>(context: Stream.Stream<Uint8Array, E>, options: BuildOptions) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const { readable, preferInput } = yield* upload(context)
          const opts: Dockerode.ImageBuildOptions = { t: options.tag, rm: true, forcerm: true }
          if (options.dockerfile !== undefined) opts.dockerfile = options.dockerfile
          if (options.buildArgs !== undefined) opts.buildargs = { ...options.buildArgs }
          if (options.labels !== undefined) opts.labels = { ...options.labels }
          if (options.noCache !== undefined) opts.nocache = options.noCache
          if (options.networkMode !== undefined) opts.networkmode = options.networkMode
          const res = yield* preferInput(
            call("buildImage", options.tag, (signal) =>
              docker.buildImage(readable, { ...opts, abortSignal: signal })
            ).pipe(Effect.flatMap((r) => ownReadable(r, "buildImage", options.tag)))
          )
          return progressStream("buildImage", options.tag, res)
        })
      ).pipe(Stream.withSpan("Docker.buildImage", { attributes: { "docker.image": options.tag } }))

    const buildImage = <E>(
      context: Stream.Stream<Uint8Array, E>,
      options: BuildOptions
    ): Effect.Effect<BuildResult, DockerError | E> =>
      Effect.gen(function* () {
        const output: Array<string> = []
        let id: string | undefined
        const keep = (ev: ProgressEvent) =>
          Effect.sync(() => {
            if (ev.aux?.ID !== undefined) id = ev.aux.ID
            for (const line of (ev.stream ?? "").split("\n")) {
              if (line.trim() === "") continue
              const built = BUILT.exec(line)
              if (built?.[1] !== undefined && id === undefined) id = built[1]
              output.push(line)
              if (output.length > BUILD_OUTPUT_TAIL) output.shift()
            }
          })
        yield* Stream.runForEach(buildImageProgress(context, options), keep).pipe(
          Effect.mapError((e) =>
            e instanceof DockerError && e.reason === "build-failed" && output.length > 0
              ? amend(e, { message: `${e.message}\n${output.slice(-10).join("\n")}` })
              : e
          )
        )
        const imageId = id ?? (yield* inspectImage(options.tag)).Id
        return { imageId, output }
      })

    // ---- events ----------------------------------------------------------------------------------
    const events = (options?: EventsOptions): Stream.Stream<EngineEvent, DockerError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const filters: Record<string, Array<string>> = {}
          if (options?.type !== undefined) filters.type = [options.type]
          if (options?.actions !== undefined && options.actions.length > 0)
            filters.event = [...options.actions]
          if (options?.labels !== undefined && Object.keys(options.labels).length > 0) {
            filters.label = labelFilterValues(options.labels)
          }
          const query: Record<string, unknown> = {}
          if (Object.keys(filters).length > 0) query.filters = filters
          if (options?.since !== undefined) query.since = options.since
          const res = yield* dialStream("events", undefined, "/events?", query, {
            200: true,
            500: "server error"
          })
          return decodeStream("events", undefined, bytes("events", undefined, res), jsonDecoder).pipe(
            Stream.mapEffect(decode("events", undefined, EngineEvent))
          )
        })
      ).pipe(Stream.withSpan("Docker.events"))

    return {
      ping,
      version,
      info,
      listContainers,
      inspectContainer,
      createContainer,
      startContainer,
      stopContainer,
      removeContainer,
      waitContainer,
      containerLogs,
      listNetworks,
      inspectNetwork,
      createNetwork,
      removeNetwork,
      connectNetwork,
      disconnectNetwork,
      listImages,
      inspectImage,
      importImage,
      buildImageProgress,
      buildImage,
      removeImage,
      events
    } satisfies DockerService
  })

/** `Docker` on the engine named by `DOCKER_HOST` (DecnetConfig's `docker.host`). Lazy: builds without
 * contacting the engine, so a missing engine surfaces as `DockerError` on the first call. */
export const DockerLive: Layer.Layer<Docker, DockerError, DecnetConfig> = Layer.effect(
  Docker,
  Effect.flatMap(DecnetConfig, (settings) => makeDocker(settings.docker.host))
)

/** `Docker` on an explicit address (tests, embedding). */
export const DockerLiveAt = (address: DockerAddress): Layer.Layer<Docker, DockerError> =>
  Layer.effect(Docker, makeDocker(address))
