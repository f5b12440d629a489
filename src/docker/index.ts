/**
 * The docker context: the `Docker` tag and its specs, results, errors and pure helpers. The live layer
 * (`./DockerLive.js`, which loads dockerode) and the fake (`./DockerTest.js`) are imported on their own
 * so that importing this module stays cheap.
 */
export * from "./Address.js"
export * from "./CreatePlan.js"
export * from "./Demux.js"
export * from "./Docker.js"
export * from "./DockerError.js"
export * from "./Filters.js"
export * from "./Model.js"
