/**
 * The protocol exchanges of merchant consent, each one oauth4webapi call pair with its errors
 * mapped: validating the hybrid callback and redeeming its code, refreshing, revoking.
 *
 * @internal
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Effect, Option, Redacted } from "effect"
import * as oauth from "oauth4webapi"
import type * as Discovery from "../Discovery.js"
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
  readonly requestOptions: Discovery.RequestOptions
}

// A token endpoint answer whose ID token fails a claim check is an ID token problem.
const tokenResponseError = (endpoint: string) => (e: unknown) =>
  e instanceof oauth.OperationProcessingError &&
  (e.code === oauth.JWT_CLAIM_COMPARISON ||
    e.code === oauth.JWT_TIMESTAMP_CHECK ||
    /ID Token|JWT/.test(e.message))
    ? OAuth.toIdTokenError(e, endpoint)
    : OAuth.toEndpointError(e, endpoint)

const rejected = (check: AuthError.IdTokenCheck, description: string) =>
  Effect.fail(new AuthError.IdTokenRejected({ check, description }))

/**
 * Validates a `code id_token` callback (front-channel ID token: signature, issuer, audience,
 * nonce, `c_hash`, freshness), redeems the code with the PKCE verifier, and checks the token
 * endpoint's ID token names the same subject and issuer.
 *
 * @internal
 */
export const redeem = (peer: Peer, params: URLSearchParams, pending: Consent.Pending) =>
  Effect.gen(function* () {
    const { as, client, requestOptions } = peer
    const nonce = Redacted.value(pending.nonce)
    const frontChannel = Option.flatMap(Option.fromNullable(params.get("id_token")), Consent.unverifiedClaims)
    const validated = yield* OAuth.attempt(
      () =>
        oauth.validateCodeIdTokenResponse(
          as,
          client,
          params,
          nonce,
          pending.state,
          oauth.skipAuthTimeCheck,
          requestOptions
        ),
      (e) => OAuth.toIdTokenError(e, OAuth.endpointOf(as.jwks_uri))
    )
    const endpoint = OAuth.endpointOf(as.token_endpoint)
    const response = yield* OAuth.attempt(
      () =>
        oauth.authorizationCodeGrantRequest(
          as,
          client,
          peer.clientAuth,
          validated,
          pending.redirectUri,
          Redacted.value(pending.verifier),
          requestOptions
        ),
      (e) => OAuth.toEndpointError(e, endpoint)
    )
    const result = yield* OAuth.attempt(
      () =>
        oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: nonce,
          requireIdToken: true
        }),
      tokenResponseError(endpoint)
    )
    // Both ID tokens were validated by oauth4webapi; here they must agree on who and by whom.
    const back = oauth.getValidatedIdTokenClaims(result)
    if (back === undefined) return yield* rejected("malformed", "no ID token from the token endpoint")
    const front = Option.getOrUndefined(frontChannel)
    if (front?.sub !== back.sub) return yield* rejected("subject", "front and back channel differ")
    if (front.iss !== back.iss) return yield* rejected("issuer", "front and back channel differ")
    return { result, subject: back.sub }
  })

/**
 * A refresh-token grant; `verifier` is sent as `code_verifier` when given. An ID token in the
 * answer must name `subject`.
 *
 * @internal
 */
export const refresh = (
  peer: Peer,
  refreshToken: Redacted.Redacted<string>,
  verifier: string | undefined,
  subject: string | undefined
) =>
  Effect.gen(function* () {
    const { as, client, requestOptions } = peer
    const endpoint = OAuth.endpointOf(as.token_endpoint)
    const response = yield* OAuth.attempt(
      () =>
        oauth.refreshTokenGrantRequest(as, client, peer.clientAuth, Redacted.value(refreshToken), {
          ...requestOptions,
          ...(verifier === undefined ? {} : { additionalParameters: { code_verifier: verifier } })
        }),
      (e) => OAuth.toEndpointError(e, endpoint)
    )
    const result = yield* OAuth.attempt(
      () => oauth.processRefreshTokenResponse(as, client, response),
      tokenResponseError(endpoint)
    )
    const claims = oauth.getValidatedIdTokenClaims(result)
    if (claims !== undefined && subject !== undefined && claims.sub !== subject) {
      return yield* rejected("subject", "refresh")
    }
    return result
  })

/**
 * Revokes a refresh token (RFC 7009) at the provider's revocation endpoint.
 *
 * @internal
 */
export const revoke = (peer: Peer & { readonly endpoint: string }, refreshToken: Redacted.Redacted<string>) =>
  Effect.gen(function* () {
    const { as, client, requestOptions } = peer
    const endpoint = OAuth.endpointOf(peer.endpoint)
    const response = yield* OAuth.attempt(
      () =>
        oauth.revocationRequest(as, client, peer.clientAuth, Redacted.value(refreshToken), {
          ...requestOptions,
          additionalParameters: { token_type_hint: "refresh_token" }
        }),
      (e) => OAuth.toEndpointError(e, endpoint)
    )
    yield* OAuth.attempt(
      () => oauth.processRevocationResponse(response),
      (e) => OAuth.toEndpointError(e, endpoint)
    )
  })
