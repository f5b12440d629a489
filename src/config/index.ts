/** Configuration: env + host INI provider, and the typed DecnetConfig settings. */
export * from "./ConfigProvider.js"
export * from "./DecnetConfig.js"
export * from "./Ini.js"
