export * from "./Der.js"
export * from "./Md4.js"
export * from "./Ntlmssp.js"
export * from "./Spnego.js"
