/**
 * The protocol exchanges of merchant consent, each one oauth4webapi call pair with its errors
 * mapped: validating the hybrid callback and redeeming its code, refreshing, revoking.
 *
 * @internal
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Effect, Option, Predicate, Redacted } from "effect"
import * as oauth from "oauth4webapi"
import * as OAuth from "./oauth.js"
import * as Consent from "./oauthConsent.js"

/**
 * Everything a call needs about the provider and the client.
 *
 * @internal
 */
export interface Peer {
  readonly as: oauth.AuthorizationServer
  readonly client: oauth.Client
  readonly clientAuth: oauth.ClientAuth
  /** How requests reach the provider (per call, from the calling fiber). */
  readonly bridge: OAuth.Bridge
  /** Secrets a server might echo in an error description: scrubbed from it by value. */
  readonly secrets: ReadonlyArray<string>
  /** Our clock, epoch ms: the ID token's `iat` and `exp` are bounded against it. */
  readonly now: number
}

// A token endpoint answer whose ID token fails a claim check is an ID token problem.
const tokenResponseError = (endpoint: string, secrets: ReadonlyArray<string>) => (e: unknown, now: number) =>
  e instanceof oauth.OperationProcessingError &&
  (e.code === oauth.JWT_CLAIM_COMPARISON ||
    e.code === oauth.JWT_TIMESTAMP_CHECK ||
    /ID Token|JWT/.test(e.message))
    ? OAuth.toIdTokenError(e, endpoint)
    : OAuth.toEndpointError(e, endpoint, secrets, now)

const rejected = (check: AuthError.IdTokenCheck, description: string) =>
  Effect.fail(new AuthError.IdTokenRejected({ check, description }))

/**
 * How far ahead of our clock an ID token's `iat` may be (clock skew between us and the
 * provider), in seconds.
 *
 * @internal
 */
export const maxIssuedAtSkewSeconds = 5 * 60

/**
 * How far ahead of our clock an ID token's `exp` may be, in seconds. MobilePay's live five
 * minutes; one that claims a day is forged or replayed from a broken issuer.
 *
 * @internal
 */
export const maxIdTokenLifetimeSeconds = 24 * 60 * 60

/**
 * Freshness bounds oauth4webapi leaves open: it refuses an expired token but not one issued in
 * the future or valid for years.
 *
 * @internal
 */
export const checkTimestamps = (
  claims: { readonly iat?: unknown; readonly exp?: unknown } | undefined,
  nowMillis: number,
  channel: string
) => {
  const now = nowMillis / 1000
  const iat = claims?.iat
  const exp = claims?.exp
  if (typeof iat !== "number" || typeof exp !== "number") return rejected("malformed", `${channel}: iat/exp`)
  if (iat > now + maxIssuedAtSkewSeconds) return rejected("expired", `${channel}: iat in the future`)
  if (exp > now + maxIdTokenLifetimeSeconds) return rejected("expired", `${channel}: exp too far ahead`)
  return Effect.void
}

/**
 * Verifies the signature of the ID token in a token endpoint response against the provider's
 * JWKS (oauth4webapi validates its claims but, for a response over TLS from the token endpoint,
 * not its signature; we want both ID tokens signed by the issuer's keys).
 *
 * @internal
 */
export const verifyTokenEndpointSignature = (peer: Peer, response: Response) =>
  OAuth.call(
    peer.bridge,
    (options) => oauth.validateApplicationLevelSignature(peer.as, response, options),
    (e) => OAuth.toIdTokenError(e, OAuth.endpointOf(peer.as.jwks_uri))
  )

/**
 * Revokes, best effort, the tokens a token endpoint issued in `body` (its JSON): used when the
 * answer is then refused, so tokens we will never use do not stay live at the provider.
 *
 * @internal
 */
export const discardIssued = (peer: Peer, body: unknown): Effect.Effect<void> =>
  Effect.gen(function* () {
    const endpoint = peer.as.revocation_endpoint
    if (endpoint === undefined || !Predicate.isRecord(body)) return
    for (const [field, hint] of [
      ["refresh_token", "refresh_token"],
      ["access_token", "access_token"]
    ] as const) {
      const token = body[field]
      if (typeof token !== "string" || token.length === 0) continue
      yield* Effect.ignore(revoke({ ...peer, endpoint }, Redacted.make(token), hint))
    }
  })

/**
 * The JSON of a response without consuming it (oauth4webapi reads the original).
 *
 * @internal
 */
export const peekJson = (response: Response): Effect.Effect<unknown> =>
  Effect.promise(() =>
    response
      .clone()
      .json()
      .catch(() => undefined)
  )

/**
 * Validates a `code id_token` callback (front-channel ID token: signature, issuer, audience,
 * nonce, `c_hash`, freshness), redeems the code with the PKCE verifier, and checks the token
 * endpoint's ID token (signature against the JWKS, claims, freshness) names the same subject and
 * issuer. When the token endpoint's answer is refused, the tokens in it are revoked. `discard`
 * revokes them too, for a caller that refuses the result afterwards.
 *
 * @internal
 */
export const redeem = (peer: Peer, params: URLSearchParams, pending: Consent.Pending) =>
  Effect.gen(function* () {
    const { as, bridge, client } = peer
    const nonce = Redacted.value(pending.nonce)
    const frontChannel = Option.flatMap(Option.fromNullable(params.get("id_token")), Consent.unverifiedClaims)
    const validated = yield* OAuth.call(
      bridge,
      (options) =>
        oauth.validateCodeIdTokenResponse(
          as,
          client,
          params,
          nonce,
          pending.state,
          oauth.skipAuthTimeCheck,
          options
        ),
      (e) => OAuth.toIdTokenError(e, OAuth.endpointOf(as.jwks_uri))
    )
    const front = Option.getOrUndefined(frontChannel)
    yield* checkTimestamps(front, peer.now, "front channel")
    const endpoint = OAuth.endpointOf(as.token_endpoint)
    const secrets = [...peer.secrets, Redacted.value(pending.verifier), params.get("code") ?? ""]
    const response = yield* OAuth.call(
      bridge,
      (options) =>
        oauth.authorizationCodeGrantRequest(
          as,
          client,
          peer.clientAuth,
          validated,
          pending.redirectUri,
          Redacted.value(pending.verifier),
          options
        ),
      OAuth.endpointError(endpoint, secrets)
    )
    const issued = yield* peekJson(response)
    const discard = discardIssued(peer, issued)
    return yield* Effect.gen(function* () {
      const result = yield* OAuth.attempt(
        () =>
          oauth.processAuthorizationCodeResponse(as, client, response, {
            expectedNonce: nonce,
            requireIdToken: true
          }),
        tokenResponseError(endpoint, secrets)
      )
      yield* verifyTokenEndpointSignature(peer, response)
      // Both ID tokens are now validated; here they must agree on who and by whom.
      const back = oauth.getValidatedIdTokenClaims(result)
      if (back === undefined) return yield* rejected("malformed", "no ID token from the token endpoint")
      yield* checkTimestamps(back, peer.now, "token endpoint")
      if (front?.sub !== back.sub) return yield* rejected("subject", "front and back channel differ")
      if (front.iss !== back.iss) return yield* rejected("issuer", "front and back channel differ")
      return { result, subject: back.sub, discard }
    }).pipe(Effect.tapError(() => discard))
  })

/**
 * A refresh-token grant; `verifier` is sent as `code_verifier` when given. An ID token in the
 * answer must be signed by the issuer's keys, fresh, and name `subject`.
 *
 * @internal
 */
export const refresh = (
  peer: Peer,
  refreshToken: Redacted.Redacted<string>,
  verifier: Redacted.Redacted<string> | undefined,
  subject: string | undefined
) =>
  Effect.gen(function* () {
    const { as, bridge, client } = peer
    const endpoint = OAuth.endpointOf(as.token_endpoint)
    const secrets = [
      ...peer.secrets,
      Redacted.value(refreshToken),
      ...(verifier === undefined ? [] : [Redacted.value(verifier)])
    ]
    const response = yield* OAuth.call(
      bridge,
      (options) =>
        oauth.refreshTokenGrantRequest(as, client, peer.clientAuth, Redacted.value(refreshToken), {
          ...options,
          ...(verifier === undefined
            ? {}
            : { additionalParameters: { code_verifier: Redacted.value(verifier) } })
        }),
      OAuth.endpointError(endpoint, secrets)
    )
    const result = yield* OAuth.attempt(
      () => oauth.processRefreshTokenResponse(as, client, response),
      tokenResponseError(endpoint, secrets)
    )
    const claims = oauth.getValidatedIdTokenClaims(result)
    if (claims !== undefined) {
      yield* verifyTokenEndpointSignature(peer, response)
      yield* checkTimestamps(claims, peer.now, "refresh")
      if (subject !== undefined && claims.sub !== subject) return yield* rejected("subject", "refresh")
    }
    return result
  })

/**
 * Revokes a token (RFC 7009) at the provider's revocation endpoint.
 *
 * @internal
 */
export const revoke = (
  peer: Peer & { readonly endpoint: string },
  token: Redacted.Redacted<string>,
  hint: "refresh_token" | "access_token" = "refresh_token"
) =>
  Effect.gen(function* () {
    const { as, bridge, client } = peer
    const endpoint = OAuth.endpointOf(peer.endpoint)
    const secrets = [...peer.secrets, Redacted.value(token)]
    const response = yield* OAuth.call(
      bridge,
      (options) =>
        oauth.revocationRequest(as, client, peer.clientAuth, Redacted.value(token), {
          ...options,
          additionalParameters: { token_type_hint: hint }
        }),
      OAuth.endpointError(endpoint, secrets)
    )
    yield* OAuth.attempt(
      () => oauth.processRevocationResponse(response),
      OAuth.endpointError(endpoint, secrets)
    )
  })
