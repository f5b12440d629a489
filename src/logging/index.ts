/** Logging: RFC 5424 event lines (format + parse) and the application Logger. */
export * from "./DecnetLogger.js"
export * from "./Parser.js"
export * from "./Rfc5424.js"
