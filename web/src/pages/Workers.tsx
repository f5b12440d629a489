export const WorkersPage = () => null
