export const BountyPage = () => null
