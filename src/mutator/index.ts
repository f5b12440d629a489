// The flat-fleet mutator: rotation rules, `mutateDecky`/`mutateAll`, the `decky_mutated` event and the
// watch loop (`decnet mutate --watch`, forked by `decnet up`), which also drains MazeNET's mutation queue.
export {
  DECKY_MUTATED,
  DeckyMutation,
  deckyMutatedEvent,
  emitDeckyMutated,
  MUTATION_EVENT_TYPE,
  MUTATOR_SERVICE,
  MutationTrigger
} from "./Events.js"
export {
  describeOutcome,
  type MutateAllReport,
  type MutateOptions,
  MutateOutcome,
  type MutatorContext,
  mutateAll,
  mutateAllReport,
  mutateDecky,
  mutateDeckyOutcome
} from "./Mutator.js"
export {
  canRun,
  type DueOptions,
  type Dueness,
  drawServices,
  dueness,
  MAX_DRAWS,
  MAX_SERVICES,
  pickPool
} from "./Rotation.js"
export {
  DEFAULT_POLL_SECONDS,
  MAX_PENDING_REQUESTS,
  MIN_SLEEP_SECONDS,
  MUTATE_REQUEST_PATTERN,
  MUTATOR_WORKER,
  presenceLine,
  requestedDecky,
  runWatchLoop,
  sleepSeconds,
  TOPOLOGY_ENQUEUED_PATTERN,
  type WatchOptions
} from "./Watch.js"
