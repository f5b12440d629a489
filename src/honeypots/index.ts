/**
 * Public surface of the honeypot services: the module contract and harness (runtime), the lazy
 * Registry of every service by slug, and startDecky. Service modules are not re-exported here, so
 * importing this file loads none of them; get one through `loadHoneypot(slug)`.
 */
export * from "./Decky.js"
export * from "./Registry.js"
export * from "./runtime/index.js"
