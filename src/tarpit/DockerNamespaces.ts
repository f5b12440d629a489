/**
 * `DeckyNamespaces` on the Docker engine: a fleet decky's namespace is its own container's (named after
 * the decky, labelled `decnet.fleet.decky`), a MazeNET decky's is its base container's (`decnet_t_<id8>_<name>`,
 * role `base`), which its services container joins. A container that is not DECNET's, or not running, is
 * no namespace. Loaded by Namespaces.ts on the first lookup.
 */
import { Effect, Layer, Option } from "effect"
import { Docker } from "../docker/Docker.js"
import { isNotFound } from "../docker/DockerError.js"
import { DockerLive } from "../docker/DockerLive.js"
import { LABEL_DECKY } from "../fleet/DockerRuntime.js"
import { baseContainerName, LABEL_ROLE, LABEL_TOPOLOGY } from "../topology/DockerTopologyPlan.js"
import { DeckyNamespaces, NamespaceLookupFailed, TarpitTarget } from "./Namespaces.js"

export const DockerNamespaces = Layer.effect(
  DeckyNamespaces,
  Effect.map(Docker, (docker) => ({
    pidOf: (target: TarpitTarget) => {
      const name = TarpitTarget.$match(target, {
        Fleet: (t) => t.name,
        Topology: (t) => baseContainerName(t.topologyId, t.name)
      })
      const owned = (labels: Readonly<Record<string, string>>) =>
        TarpitTarget.$match(target, {
          Fleet: (t) => labels[LABEL_DECKY] === t.name,
          Topology: (t) => labels[LABEL_TOPOLOGY] === t.topologyId && labels[LABEL_ROLE] === "base"
        })
      return docker.inspectContainer(name).pipe(
        Effect.map((c) =>
          owned(c.Config.Labels) && c.State.Running && c.State.Pid > 0
            ? Option.some(c.State.Pid)
            : Option.none()
        ),
        Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<number>())),
        Effect.mapError((e) => new NamespaceLookupFailed({ message: e.message }))
      )
    }
  }))
).pipe(Layer.provide(DockerLive))
