/**
 * The seam between oauth4webapi and the toolkit: runs its promises as Effects and maps what
 * they reject with (its coded errors, or our own errors coming back through the `fetch`
 * bridge) to `AuthError`. Descriptions are our own fixed words, never the library's text or
 * a response body, so no token can leak into a message.
 *
 * @internal
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Cause, Clock, Effect, Option, Predicate, Runtime } from "effect"
import * as oauth from "oauth4webapi"
import type { FetchLike } from "../AuthHttp.js"
import { endpointOf, parseRetryAfter } from "./endpoint.js"

export {
  /**
   * @internal
   */
  endpointOf
}

/**
 * What a protocol step can fail with.
 *
 * @internal
 */
export type ProtocolError = AuthError.OAuthEndpointError | AuthError.InsecureEndpoint

/**
 * oauth4webapi's `customFetch` signature, for every method and body it sends.
 *
 * @internal
 */
export type CustomFetch = (
  url: string,
  options: oauth.CustomFetchOptions<string, URLSearchParams | string | undefined>
) => Promise<Response>

/**
 * How protocol requests reach the network: a `fetch` over the hardened client, obtained per
 * call from the calling fiber (so its span, tracer and annotations apply), and the options that
 * are the same for every call against one provider.
 *
 * @internal
 */
export interface Bridge {
  readonly fetch: Effect.Effect<FetchLike>
  readonly allowInsecureRequests: boolean
  /** oauth4webapi keeps the provider's JWKS here between calls. */
  readonly jwksCache: oauth.JWKSCacheInput
  /** Extra request headers (gateway or system headers). */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The options of one oauth4webapi call.
 *
 * @internal
 */
export interface RequestOptions {
  readonly [oauth.customFetch]: CustomFetch
  readonly [oauth.allowInsecureRequests]: boolean
  readonly [oauth.jwksCache]: oauth.JWKSCacheInput
  readonly headers: Record<string, string>
  readonly signal: AbortSignal
}

/**
 * A bridge over `fetch` with nothing cached yet.
 *
 * @internal
 */
export const bridge = (
  fetch: Effect.Effect<FetchLike>,
  allowInsecureRequests: boolean,
  headers: Readonly<Record<string, string>> = {}
): Bridge => ({ fetch, allowInsecureRequests, jwksCache: {}, headers })

const customFetchOf =
  (fetch: FetchLike): CustomFetch =>
  (url, options) =>
    fetch(url, {
      method: options.method,
      headers: options.headers,
      redirect: options.redirect,
      body: options.body ?? null,
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })

/**
 * Runs an oauth4webapi call whose requests go through `via`, on the calling fiber: its spans
 * are children of the caller's, and interrupting the caller aborts the request.
 *
 * @internal
 */
export const call = <A, E>(
  via: Bridge,
  run: (options: RequestOptions) => Promise<A>,
  onError: (error: unknown, now: number) => E
): Effect.Effect<A, E> =>
  Effect.flatMap(via.fetch, (fetch) =>
    attempt(
      (signal) =>
        run({
          [oauth.customFetch]: customFetchOf(fetch),
          [oauth.allowInsecureRequests]: via.allowInsecureRequests,
          [oauth.jwksCache]: via.jwksCache,
          headers: { ...via.headers },
          signal
        }),
      onError
    )
  )

/**
 * Runs an oauth4webapi promise, mapping its rejection with `onError` (given the time, for
 * `Retry-After` dates).
 *
 * @internal
 */
export const attempt = <A, E>(
  run: (signal: AbortSignal) => Promise<A>,
  onError: (error: unknown, now: number) => E
): Effect.Effect<A, E> =>
  Effect.catchAll(Effect.tryPromise({ try: run, catch: (error) => error }), (error) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(onError(error, now)))
  )

/**
 * Our own error, when a rejection is one coming back through the `fetch` bridge.
 *
 * @internal
 */
export const ownError = (error: unknown): Option.Option<AuthError.AuthError> => {
  if (AuthError.isAuthError(error)) return Option.some(error)
  if (Runtime.isFiberFailure(error)) {
    const squashed = Cause.squash(error[Runtime.FiberFailureCauseId])
    if (AuthError.isAuthError(squashed)) return Option.some(squashed)
  }
  // oauth4webapi does not wrap fetch rejections, but a runtime might (`TypeError: fetch failed`).
  if (error instanceof Error && error.cause !== undefined) return ownError(error.cause)
  return Option.none()
}

const statusOf = (cause: unknown): number | undefined =>
  cause instanceof Response ? cause.status : undefined

const retryAfterOf = (response: Response | undefined, now: number): number | undefined =>
  Option.getOrUndefined(parseRetryAfter(response?.headers.get("retry-after"), now))

/**
 * Maps a rejection of an oauth4webapi call at an endpoint (token, revocation, discovery).
 *
 * @internal
 */
export const toEndpointError = (
  error: unknown,
  endpoint: string,
  knownSecrets: ReadonlyArray<string>,
  now: number
): ProtocolError => {
  const own = ownError(error)
  if (Option.isSome(own)) {
    const e = own.value
    switch (e._tag) {
      case "InvalidClient":
      case "UnauthorizedClient":
      case "InvalidGrant":
      case "InvalidScope":
      case "InvalidRequest":
      case "RateLimited":
      case "Transport":
      case "ProtocolViolation":
      case "InsecureEndpoint":
        return e
      default:
        return new AuthError.ProtocolViolation({ reason: "unexpected-failure", description: e._tag })
    }
  }
  if (error instanceof oauth.ResponseBodyError) {
    return AuthError.fromOAuthErrorResponse(
      error.status,
      { error: error.error, error_description: error.error_description },
      retryAfterOf(error.response, now),
      knownSecrets
    )
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    return error.status === 401
      ? new AuthError.InvalidClient({ status: 401, description: "WWW-Authenticate challenge" })
      : AuthError.fromOAuthErrorResponse(error.status, undefined, retryAfterOf(error.response, now))
  }
  if (error instanceof oauth.OperationProcessingError) {
    switch (error.code) {
      case oauth.RESPONSE_IS_NOT_CONFORM: {
        const status = statusOf(error.cause)
        return status === undefined
          ? new AuthError.ProtocolViolation({ reason: "unexpected-status", description: endpoint })
          : AuthError.fromOAuthErrorResponse(
              status,
              undefined,
              retryAfterOf(error.cause instanceof Response ? error.cause : undefined, now)
            )
      }
      case oauth.HTTP_REQUEST_FORBIDDEN:
      case oauth.REQUEST_PROTOCOL_FORBIDDEN:
        return new AuthError.InsecureEndpoint({ url: endpoint })
      case oauth.RESPONSE_IS_NOT_JSON: {
        // An error status with an HTML or empty body (a gateway's 429 or 401 page) is still that
        // status: keep what it means and its Retry-After.
        const status = statusOf(error.cause)
        return status !== undefined && status >= 400
          ? AuthError.fromOAuthErrorResponse(
              status,
              undefined,
              retryAfterOf(error.cause instanceof Response ? error.cause : undefined, now)
            )
          : new AuthError.ProtocolViolation({ reason: "not-json", description: endpoint })
      }
      case oauth.PARSE_ERROR:
        return new AuthError.ProtocolViolation({ reason: "malformed-json", description: endpoint })
      case oauth.JSON_ATTRIBUTE_COMPARISON:
        return new AuthError.ProtocolViolation({ reason: "issuer-mismatch", description: endpoint })
      case oauth.MISSING_SERVER_METADATA:
      case oauth.INVALID_SERVER_METADATA:
        return new AuthError.ProtocolViolation({ reason: "server-metadata", description: endpoint })
      default:
        return new AuthError.ProtocolViolation({ reason: "invalid-response", description: endpoint })
    }
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    return new AuthError.ProtocolViolation({ reason: "unsupported", description: endpoint })
  }
  if (error instanceof TypeError && Predicate.hasProperty(error, "code")) {
    return new AuthError.InvalidRequest({ code: "invalid_argument", description: endpoint })
  }
  return new AuthError.Transport({ reason: "connection", endpoint })
}

const claimOf = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "claim") && typeof cause.claim === "string" ? cause.claim : undefined

const checkOfClaim = (claim: string | undefined): AuthError.IdTokenCheck => {
  switch (claim) {
    case "iss":
      return "issuer"
    case "aud":
    case "azp":
      return "audience"
    case "nonce":
      return "nonce"
    case "c_hash":
      return "c_hash"
    case "at_hash":
      return "at_hash"
    case "sub":
      return "subject"
    case "exp":
    case "iat":
    case "nbf":
    case "auth_time":
      return "expired"
    default:
      return "malformed"
  }
}

/**
 * Maps a rejection of ID token validation to `IdTokenRejected` with the failed check; transport
 * failures (fetching the JWKS) and insecure endpoints keep their own type.
 *
 * @internal
 */
export const toIdTokenError = (
  error: unknown,
  endpoint: string
): AuthError.IdTokenRejected | AuthError.Transport | AuthError.RateLimited | AuthError.InsecureEndpoint => {
  const own = ownError(error)
  if (Option.isSome(own)) {
    const e = own.value
    if (e._tag === "Transport" || e._tag === "RateLimited" || e._tag === "InsecureEndpoint") return e
    return new AuthError.IdTokenRejected({ check: "malformed", description: e._tag })
  }
  if (error instanceof oauth.OperationProcessingError) {
    switch (error.code) {
      case oauth.JWT_CLAIM_COMPARISON:
        return new AuthError.IdTokenRejected({ check: checkOfClaim(claimOf(error.cause)) })
      case oauth.JWT_TIMESTAMP_CHECK:
        return new AuthError.IdTokenRejected({
          check: "expired",
          description: `${claimOf(error.cause) ?? "timestamp"} out of range`
        })
      case oauth.KEY_SELECTION:
        return new AuthError.IdTokenRejected({ check: "signature", description: "no matching key in JWKS" })
      case oauth.HTTP_REQUEST_FORBIDDEN:
      case oauth.REQUEST_PROTOCOL_FORBIDDEN:
        return new AuthError.InsecureEndpoint({ url: endpoint })
      case oauth.RESPONSE_IS_NOT_CONFORM:
      case oauth.RESPONSE_IS_NOT_JSON:
        return new AuthError.Transport({
          reason: "server-error",
          endpoint,
          ...(statusOf(error.cause) === undefined ? {} : { status: statusOf(error.cause) ?? 0 })
        })
      default:
        // oauth4webapi reports a bad signature and an unexpected `alg` as INVALID_RESPONSE;
        // its messages are fixed strings, so matching them is stable within a pinned version.
        if (/signature|"alg"/.test(error.message)) {
          return new AuthError.IdTokenRejected({ check: "signature" })
        }
        if (/"iss" \(issuer\)/.test(error.message)) return new AuthError.IdTokenRejected({ check: "issuer" })
        return new AuthError.IdTokenRejected({ check: "malformed" })
    }
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    return new AuthError.IdTokenRejected({ check: "signature", description: "unsupported algorithm" })
  }
  return new AuthError.IdTokenRejected({ check: "malformed" })
}

/**
 * `toEndpointError` for one endpoint, as an `onError` of {@link call}.
 *
 * @internal
 */
export const endpointError =
  (endpoint: string, knownSecrets: ReadonlyArray<string> = []) =>
  (error: unknown, now: number): ProtocolError =>
    toEndpointError(error, endpoint, knownSecrets, now)
