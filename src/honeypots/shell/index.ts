/**
 * The fake shell shared by the ssh and telnet honeypots: filesystem, command interpreter, line
 * discipline, asciicast recorder, the persona/motd derived from a decky, and the events both
 * transports emit.
 */
export * from "./Events.js"
export * from "./Filesystem.js"
export * from "./Persona.js"
export * from "./Recorder.js"
export * from "./Shell.js"
export * from "./Terminal.js"
