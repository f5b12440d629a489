/** Logging: the HoneypotEvent and its RFC 5424 line (format + parse), and the application Logger. */
export * from "./DecnetLogger.js"
export * from "./HoneypotEvent.js"
export * from "./Parser.js"
export * from "./Rfc5424.js"
