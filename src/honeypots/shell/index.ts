/**
 * The fake shell shared by the ssh and telnet honeypots: filesystem, command interpreter, line
 * discipline, asciicast recorder, and the persona/motd derived from a decky.
 */
export * from "./Filesystem.js"
export * from "./Persona.js"
export * from "./Recorder.js"
export * from "./Shell.js"
export * from "./Terminal.js"
