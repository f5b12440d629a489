import { Link, useLocation } from "react-router"
import { Empty } from "../components/ui"

export const NotFoundPage = () => {
  const { pathname } = useLocation()
  return (
    <Empty title="No such page">
      <p>
        <code>{pathname}</code> is not a page of this dashboard. <Link to="/">Go to the overview.</Link>
      </p>
    </Empty>
  )
}
