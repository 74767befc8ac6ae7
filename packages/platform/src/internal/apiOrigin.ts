/**
 * Where an API client may send credentials: the environment's API origin and nowhere else.
 * Shared by the MobilePay and Vipps MobilePay clients, which check every request before a token
 * or a key is attached.
 *
 * @internal
 */
import { HttpClientRequest } from "@effect/platform"
import { AuthError } from "@mobilepay-auth/domain"
import { Effect } from "effect"
import { endpointOf } from "./endpoint.js"

/** @internal */
export const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/**
 * The request with an absolute URL on the environment's API origin, or a refusal. Credentials
 * (the bearer token, the gateway secret) are attached only after this check, so they never go
 * to another host: not for an absolute URL elsewhere, not for a protocol-relative `//host/x`,
 * not for `\\host` or `/\\host` (which URL parsers read as `//host`), not for `@host` tricks.
 * A relative URL must start with a single `/`; the resolved URL must then name exactly the
 * API origin and no user name or password.
 *
 * @internal
 */
export const onApiOrigin = (
  request: HttpClientRequest.HttpClientRequest,
  base: string,
  apiOrigin: string | undefined
): Effect.Effect<HttpClientRequest.HttpClientRequest, AuthError.InsecureEndpoint> => {
  const refuse = (url: string) =>
    Effect.fail(new AuthError.InsecureEndpoint({ url: endpointOf(url), reason: "foreign-origin" }))
  const raw = request.url
  const isAbsolute = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(raw)
  if (!isAbsolute && !/^\/(?![/\\])/.test(raw)) return refuse(raw)
  const resolved = isAbsolute ? raw : `${base}${raw}`
  let url: URL
  try {
    url = new URL(resolved)
  } catch {
    return refuse(raw)
  }
  if (url.username !== "" || url.password !== "") {
    return Effect.fail(new AuthError.InsecureEndpoint({ url: endpointOf(resolved), reason: "credentials" }))
  }
  if (apiOrigin === undefined || url.origin !== apiOrigin) return refuse(resolved)
  return Effect.succeed(isAbsolute ? request : HttpClientRequest.setUrl(request, url.href))
}
