export const CredentialsPage = () => null
