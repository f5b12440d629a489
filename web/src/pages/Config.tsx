export const ConfigPage = () => null
