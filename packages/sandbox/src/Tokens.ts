/**
 * The token endpoints: merchant (authorization code and refresh grants, rotation, scope
 * narrowing), integrator (client credentials) and revocation (RFC 7009, refresh and access
 * tokens). Client authentication is one method per request, as RFC 6749 section 2.3 requires:
 * Basic and a secret in the body together are `invalid_request`.
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import { idTokenClaims } from "./Authorize.js"
import { basicCredentials, halfHash, pkceMatches, randomId, timingSafeEqual } from "./Credentials.js"
import type { Keys } from "./Keys.js"
import { isVat } from "./Merchants.js"
import type { Resolved, SandboxClientConfig } from "./Options.js"
import { json, oauthError, type Outcome, type Params } from "./Outcome.js"
import type { Time } from "./Time.js"
import type { AuthorizeRequest, Consent, State } from "./World.js"

const seconds = (ms: number) => Math.floor(ms / 1000)

const noGrantType = oauthError(400, "invalid_request", "grant_type is required")

/** @internal */
export const make = (options: Resolved, keys: Keys, state: State, time: Time) => {
  const accessToken = (
    request: AuthorizeRequest,
    consent: Consent,
    scopes: ReadonlyArray<string>,
    at: number
  ) =>
    keys.sign({
      iss: options.issuer,
      aud: "mobilepay-api",
      sub: request.sub ?? "",
      client_id: request.client.clientId,
      scope: scopes.join(" "),
      sid: consent.id,
      jti: globalThis.crypto.randomUUID(),
      iat: seconds(at),
      exp: seconds(at) + options.accessTokenLifetime,
      ...(consent.merchant
        ? { merchant_id: consent.merchant.merchantId, merchant_vat: consent.merchant.vat }
        : {})
    })

  /** The merchant client a request authenticates as, or the error to answer. */
  const authenticateClient = (p: Params, authorization: string | undefined) => {
    const basic = basicCredentials(authorization)
    if (basic !== undefined && p.client_secret !== undefined) {
      return Either.left(oauthError(400, "invalid_request", "use one client authentication method"))
    }
    const id = basic?.id ?? p.client_id
    const secret = basic?.secret ?? p.client_secret
    const client = options.merchantClients.find((c) => c.clientId === id)
    return client !== undefined &&
      secret !== undefined &&
      (basic === undefined || p.client_id === undefined || p.client_id === basic.id) &&
      timingSafeEqual(client.clientSecret, secret)
      ? Either.right(client)
      : Either.left(oauthError(401, "invalid_client", "client authentication failed"))
  }

  const authorizationCode = (p: Params, client: SandboxClientConfig, at: number) =>
    Effect.gen(function* () {
      const code = p.code === undefined ? undefined : state.codes.get(p.code)
      if (code === undefined || p.code === undefined || code.request.client.clientId !== client.clientId) {
        return oauthError(400, "invalid_grant", "unknown code")
      }
      // Checked before anything else is decided: no await between the `used` check and its write.
      const verified = yield* pkceMatches(p.code_verifier, code.request.challenge)
      if (code.used) {
        // Replay: revoke everything the code issued.
        code.consent.revoked = true
        for (const record of state.refreshTokens.values())
          if (record.consent === code.consent) record.active = false
        return oauthError(400, "invalid_grant", "code already used")
      }
      if (at >= code.expiresAt) {
        state.codes.delete(p.code)
        return oauthError(400, "invalid_grant", "code expired")
      }
      const mismatch =
        p.redirect_uri !== code.request.redirectUri
          ? "redirect_uri mismatch"
          : !verified
            ? "PKCE verification failed"
            : undefined
      if (mismatch !== undefined) {
        if (options.quirks.failedCodeExchangeBurnsCode) code.used = true
        return oauthError(400, "invalid_grant", mismatch)
      }
      code.used = true
      const access = yield* accessToken(code.request, code.consent, code.request.scopes, at)
      const refresh = randomId()
      state.refreshTokens.set(refresh, {
        consent: code.consent,
        request: code.request,
        expiresAt: at + options.refreshTokenLifetime * 1000,
        active: true
      })
      const idToken = yield* keys.sign({
        ...idTokenClaims(options, code.request, at, code.authTime),
        at_hash: yield* halfHash(access)
      })
      return json(200, {
        access_token: access,
        token_type: "Bearer",
        expires_in: options.accessTokenLifetime,
        refresh_token: refresh,
        id_token: idToken,
        scope: code.request.scopes.join(" ")
      })
    })

  const refreshToken = (p: Params, client: SandboxClientConfig, at: number) =>
    Effect.gen(function* () {
      const record = p.refresh_token === undefined ? undefined : state.refreshTokens.get(p.refresh_token)
      if (
        record === undefined ||
        p.refresh_token === undefined ||
        record.request.client.clientId !== client.clientId ||
        !record.active ||
        record.consent.revoked ||
        at >= record.expiresAt
      ) {
        return oauthError(400, "invalid_grant", "refresh token is invalid, expired or revoked")
      }
      // RFC 6749 section 6: `scope` may narrow what was granted, never widen it.
      const granted = record.request.scopes
      const asked = p.scope === undefined ? granted : p.scope.split(" ").filter((s) => s.length > 0)
      if (asked.length === 0 || asked.some((s) => !granted.includes(s))) {
        return oauthError(400, "invalid_scope", "the scope exceeds what was granted")
      }
      if (client.requireVerifierOnRefresh === true) {
        if (!(yield* pkceMatches(p.code_verifier, record.request.challenge))) {
          return oauthError(400, "invalid_grant", "code_verifier required")
        }
      }
      // A concurrent refresh may have rotated the token while the verifier was being hashed.
      if (!record.active)
        return oauthError(400, "invalid_grant", "refresh token is invalid, expired or revoked")
      const access = yield* accessToken(record.request, record.consent, asked, at)
      let refresh = p.refresh_token
      if (client.rotation === "one-time") {
        record.active = false
        refresh = randomId()
        state.refreshTokens.set(refresh, {
          ...record,
          expiresAt: at + options.refreshTokenLifetime * 1000,
          active: true
        })
      } else {
        record.expiresAt = at + options.refreshTokenLifetime * 1000 // sliding
      }
      return json(200, {
        access_token: access,
        token_type: "Bearer",
        expires_in: options.accessTokenLifetime,
        ...(client.rotation === "one-time" ? { refresh_token: refresh } : {}),
        scope: asked.join(" ")
      })
    })

  const merchantToken = (p: Params, authorization: string | undefined): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const client = authenticateClient(p, authorization)
      if (Either.isLeft(client)) return client.left
      const at = yield* time.now
      switch (p.grant_type) {
        case "authorization_code":
          return yield* authorizationCode(p, client.right, at)
        case "refresh_token":
          return yield* refreshToken(p, client.right, at)
        case undefined:
        case "":
          return noGrantType
        default:
          return oauthError(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token"
          )
      }
    })

  const integratorToken = (p: Params, headers: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const basic = basicCredentials(headers.authorization)
      if (basic !== undefined && p.client_secret !== undefined) {
        return oauthError(400, "invalid_request", "use one client authentication method")
      }
      // MobilePay documents Basic only for this endpoint.
      const client = options.integratorClients.find((c) => c.clientId === basic?.id)
      if (
        client === undefined ||
        basic === undefined ||
        !timingSafeEqual(client.clientSecret, basic.secret)
      ) {
        return oauthError(401, "invalid_client", "client authentication failed")
      }
      // Docs before Dec 2022 sent the gateway's x-ibm-client-id on this call too.
      const gateway = options.quirks.integratorTokenRequiresGatewayClientId ? options.gateway : undefined
      if (gateway !== undefined && headers["x-ibm-client-id"] !== gateway.clientId) {
        return oauthError(401, "invalid_client", "x-ibm-client-id is missing or unknown")
      }
      if (p.grant_type === undefined || p.grant_type === "") return noGrantType
      if (p.grant_type !== "client_credentials") {
        return oauthError(400, "unsupported_grant_type", "client_credentials only")
      }
      if (p.merchant_vat !== undefined && !isVat(p.merchant_vat)) {
        return oauthError(400, "invalid_request", "merchant_vat is malformed")
      }
      const at = yield* time.now
      const token = yield* keys.sign({
        iss: options.integratorIssuer,
        aud: "mobilepay-api",
        client_id: client.clientId,
        scope: "integrator_scope",
        jti: globalThis.crypto.randomUUID(),
        iat: seconds(at),
        exp: seconds(at) + options.integratorTokenLifetime,
        ...(p.merchant_vat ? { merchant_vat: p.merchant_vat } : {})
      })
      return json(200, {
        access_token: token,
        expires_in: options.integratorTokenLifetime,
        token_type: "Bearer",
        scope: "integrator_scope"
      })
    })

  const revocation = (p: Params, authorization: string | undefined): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const client = authenticateClient(p, authorization)
      if (Either.isLeft(client)) return client.left
      if (p.token === undefined || p.token === "")
        return oauthError(400, "invalid_request", "token is required")
      const record = state.refreshTokens.get(p.token)
      if (record !== undefined && record.request.client.clientId === client.right.clientId) {
        // Revoking the refresh token ends the consent: its access tokens stop working too.
        record.active = false
        record.consent.revoked = true
      }
      if (record === undefined) {
        // An access token of this client stops working at once (RFC 7009 section 2.1).
        const claims = yield* keys.verify(p.token, yield* time.now)
        if (
          claims !== undefined &&
          claims.client_id === client.right.clientId &&
          typeof claims.jti === "string"
        ) {
          state.revokedAccessTokens.add(claims.jti)
        }
      }
      // RFC 7009 section 2.2: 200 whether or not the token was known.
      return { _tag: "Text", status: 200, text: "" } satisfies Outcome
    })

  return { merchantToken, integratorToken, revocation }
}
