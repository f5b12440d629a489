/**
 * MazeNET: multi-LAN deception topologies. The model, its errors, and the pure logic (allocators,
 * generator, status machine, validator, canonical hash). Nothing here computes at import time.
 */
export * from "./Allocators.js"
export * from "./CanonicalHash.js"
export * from "./Errors.js"
export * from "./Generator.js"
export * from "./Ipv4.js"
export * from "./Model.js"
export * from "./Order.js"
export * from "./Random.js"
export * from "./Status.js"
export * from "./Validator.js"
