/**
 * Public surface of the honeypot services: the module contract and harness (runtime) and the lazy
 * Registry of every service by slug (a whole decky is run by fleet/Decky.ts). Service modules are not re-exported here, so
 * importing this file loads none of them; get one through `loadHoneypot(slug)`.
 */
export * from "./Registry.js"
export * from "./runtime/index.js"
