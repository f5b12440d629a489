/**
 * One per page: a render error or an unexpected response in a page shows here, with the error's text,
 * and the navigation and the other pages keep working (the original dashboard had none, so one bad
 * response emptied the whole app).
 */
import { Component, type ErrorInfo, type ReactNode } from "react"

interface Props {
  readonly page: string
  readonly children: ReactNode
}
interface State {
  readonly error: Error | undefined
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: undefined }

  static getDerivedStateFromError(error: Error): State {
    return { error }
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.warn(`[${this.props.page}]`, error, info.componentStack)
  }

  override render() {
    const { error } = this.state
    if (error === undefined) return this.props.children
    return (
      <section className="page-error" role="alert">
        <h2>The {this.props.page} page hit an error</h2>
        <p className="detail">{error.message}</p>
        <p>The rest of the dashboard still works: use the menu, or try this page again.</p>
        <button type="button" onClick={() => this.setState({ error: undefined })}>
          Try again
        </button>
      </section>
    )
  }
}
