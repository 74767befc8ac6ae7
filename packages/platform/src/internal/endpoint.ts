/**
 * Naming an endpoint in an error, and reading `Retry-After`: one definition each, shared by the
 * HTTP client, the protocol bridge and the API clients.
 *
 * @internal
 */
import { Option } from "effect"

/**
 * The origin and path of a URL, for error fields (never its query, which may carry a code).
 *
 * @internal
 */
export const endpointOf = (url: string | undefined): string => {
  if (url === undefined) return "unknown-endpoint"
  try {
    const u = new URL(url)
    return `${u.origin}${u.pathname}`
  } catch {
    return "invalid-url"
  }
}

/**
 * `Retry-After` (delay in seconds, or an HTTP date) as milliseconds from `now`.
 *
 * @internal
 */
export const parseRetryAfter = (value: string | null | undefined, now: number): Option.Option<number> => {
  if (value === undefined || value === null) return Option.none()
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Number(trimmed) * 1000)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Math.max(0, date - now))
}
