/**
 * The authorization server's state and rules: pending logins, codes, refresh tokens,
 * consents, single-use nonces. Transport-free: every function takes
 * the request's parameters and answers an `Outcome` that the HTTP layer writes out. Time from
 * Effect's `Clock`, so a test can run the sandbox under `TestClock`.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { Grants } from "./Api.js"
import { basicCredentials, halfHash, pkceMatches, randomId, timingSafeEqual } from "./Credentials.js"
import type { Keys } from "./Keys.js"
import { isVat, type Merchants } from "./Merchants.js"
import type { Resolved, SandboxClientConfig, SandboxMerchant } from "./Options.js"
import { html, json, oauthError, type Outcome, type Params, vague } from "./Outcome.js"
import * as Pages from "./Pages.js"

interface AuthorizeRequest {
  readonly client: SandboxClientConfig
  readonly redirectUri: string
  readonly responseMode: "form_post" | "fragment"
  readonly state: string
  readonly nonce: string
  readonly challenge: string
  readonly scopes: ReadonlyArray<string>
  readonly merchant: SandboxMerchant | undefined
  sub: string | undefined
}

interface Consent {
  readonly id: string
  readonly clientId: string
  readonly merchant: SandboxMerchant | undefined
  revoked: boolean
}

interface Code {
  readonly request: AuthorizeRequest
  readonly consent: Consent
  readonly expiresAt: number
  readonly authTime: number
  used: boolean
}

interface RefreshRecord {
  readonly consent: Consent
  readonly request: AuthorizeRequest
  expiresAt: number
  active: boolean
}

/** @internal */
export const make = (options: Resolved, keys: Keys, merchants: Merchants) => {
  const pending = new Map<string, AuthorizeRequest>()
  const usedNonces = new Set<string>()
  const codes = new Map<string, Code>()
  const refreshTokens = new Map<string, RefreshRecord>()
  const consents: Array<Consent> = []
  /** username -> sub (a GUID per user), and back. */
  const subjects = new Map<string, string>()
  const users = new Map<string, string>()
  const now = Clock.currentTimeMillis
  const seconds = (ms: number) => Math.floor(ms / 1000)

  const redirectWith = (
    request: Pick<AuthorizeRequest, "redirectUri" | "responseMode">,
    params: Record<string, string>
  ): Outcome =>
    request.responseMode === "form_post"
      ? { _tag: "Html", status: 200, html: Pages.formPost(request.redirectUri, params) }
      : { _tag: "Redirect", location: `${request.redirectUri}#${new URLSearchParams(params)}` }

  const authorize = (p: Params): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      const client = options.merchantClients.find((c) => c.clientId === p.client_id)
      // Unknown client or redirect URI: a vague page, never a redirect to an unlisted URI.
      if (
        client === undefined ||
        p.redirect_uri === undefined ||
        !client.redirectUris.includes(p.redirect_uri)
      ) {
        return vague()
      }
      const responseMode =
        p.response_mode === "fragment"
          ? "fragment"
          : p.response_mode === undefined || p.response_mode === "form_post"
            ? "form_post"
            : undefined
      const back = { redirectUri: p.redirect_uri, responseMode: responseMode ?? "fragment" } as const
      const fail = (error: string, description: string) =>
        redirectWith(back, { error, error_description: description, ...(p.state ? { state: p.state } : {}) })
      if (responseMode === undefined) return fail("invalid_request", "unsupported response_mode")
      if (p.response_type !== "code id_token")
        return fail("unsupported_response_type", "response_type must be 'code id_token'")
      if (!p.state) return fail("invalid_request", "state is required")
      if (!p.nonce) return fail("invalid_request", "nonce is required")
      if (options.quirks.singleUseNonce && usedNonces.has(`${client.clientId}:${p.nonce}`))
        return fail("invalid_request", "nonce has been used before")
      if (!p.code_challenge || p.code_challenge_method !== "S256") {
        return fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
      }
      const scopes = (p.scope ?? "").split(" ").filter((s) => s.length > 0)
      if (!scopes.includes("openid")) return fail("invalid_scope", "openid is required")
      const allowed = new Set(["openid", "offline_access", ...client.scopes])
      if (scopes.some((s) => !allowed.has(s)))
        return fail("invalid_scope", "a requested scope is not allowed")
      let merchant: SandboxMerchant | undefined
      if (p.merchant_vat !== undefined) {
        if (!isVat(p.merchant_vat)) return fail("invalid_request", "merchant_vat is malformed")
        merchant = merchants.byVat(p.merchant_vat)
      }
      usedNonces.add(`${client.clientId}:${p.nonce}`)
      const id = randomId()
      pending.set(id, {
        client,
        redirectUri: p.redirect_uri,
        responseMode,
        state: p.state,
        nonce: p.nonce,
        challenge: p.code_challenge,
        scopes,
        merchant,
        sub: undefined
      })
      return html(Pages.login(id, merchant?.name))
    })

  const login = (p: Params): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      const request = p.request === undefined ? undefined : pending.get(p.request)
      if (request === undefined || p.request === undefined) return vague()
      if (!p.username || !p.password) return html(Pages.login(p.request, request.merchant?.name))
      let sub = subjects.get(p.username)
      if (sub === undefined) {
        sub = globalThis.crypto.randomUUID()
        subjects.set(p.username, sub)
        users.set(sub, p.username)
      }
      request.sub = sub
      return html(Pages.consent(p.request, request.client.clientId, request.scopes, request.merchant?.name))
    })

  const idTokenClaims = (request: AuthorizeRequest, at: number, authTime: number) => ({
    iss: options.issuer,
    aud: request.client.clientId,
    sub: request.sub ?? "",
    nonce: request.nonce,
    iat: seconds(at),
    nbf: seconds(at),
    exp: seconds(at) + 300,
    auth_time: seconds(authTime),
    idp: "mobilepay-sandbox",
    amr: ["pwd"]
  })

  const consentDecision = (p: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const request = p.request === undefined ? undefined : pending.get(p.request)
      if (request === undefined || p.request === undefined || request.sub === undefined) return vague()
      pending.delete(p.request)
      if (p.decision !== "allow") {
        return redirectWith(request, {
          error: "access_denied",
          error_description: "the user denied consent",
          state: request.state
        })
      }
      const at = yield* now
      const consent: Consent = {
        id: randomId(16),
        clientId: request.client.clientId,
        merchant: request.merchant,
        revoked: false
      }
      consents.push(consent)
      const code = randomId()
      codes.set(code, {
        request,
        consent,
        expiresAt: at + options.codeLifetime * 1000,
        authTime: at,
        used: false
      })
      const idToken = yield* keys.sign({ ...idTokenClaims(request, at, at), c_hash: yield* halfHash(code) })
      return redirectWith(request, { code, id_token: idToken, state: request.state })
    })

  const accessToken = (request: AuthorizeRequest, consent: Consent, at: number) =>
    keys.sign({
      iss: options.issuer,
      aud: "mobilepay-api",
      sub: request.sub ?? "",
      client_id: request.client.clientId,
      scope: request.scopes.join(" "),
      sid: consent.id,
      jti: globalThis.crypto.randomUUID(),
      iat: seconds(at),
      exp: seconds(at) + options.accessTokenLifetime,
      ...(consent.merchant
        ? { merchant_id: consent.merchant.merchantId, merchant_vat: consent.merchant.vat }
        : {})
    })

  const authenticateClient = (p: Params, authorization: string | undefined) => {
    const basic = basicCredentials(authorization)
    const id = basic?.id ?? p.client_id
    const secret = basic?.secret ?? p.client_secret
    const client = options.merchantClients.find((c) => c.clientId === id)
    return client !== undefined && secret !== undefined && timingSafeEqual(client.clientSecret, secret)
      ? client
      : undefined
  }

  const merchantToken = (p: Params, authorization: string | undefined): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const client = authenticateClient(p, authorization)
      if (client === undefined) return oauthError(401, "invalid_client", "client authentication failed")
      const at = yield* now
      if (p.grant_type === "authorization_code") {
        const code = p.code === undefined ? undefined : codes.get(p.code)
        if (code === undefined || code.request.client.clientId !== client.clientId) {
          return oauthError(400, "invalid_grant", "unknown code")
        }
        if (code.used) {
          // Replay: revoke everything the code issued.
          code.consent.revoked = true
          for (const record of refreshTokens.values())
            if (record.consent === code.consent) record.active = false
          return oauthError(400, "invalid_grant", "code already used")
        }
        code.used = true
        if (at >= code.expiresAt) return oauthError(400, "invalid_grant", "code expired")
        if (p.redirect_uri !== code.request.redirectUri)
          return oauthError(400, "invalid_grant", "redirect_uri mismatch")
        if (!(yield* pkceMatches(p.code_verifier, code.request.challenge))) {
          return oauthError(400, "invalid_grant", "PKCE verification failed")
        }
        const access = yield* accessToken(code.request, code.consent, at)
        const refresh = randomId()
        refreshTokens.set(refresh, {
          consent: code.consent,
          request: code.request,
          expiresAt: at + options.refreshTokenLifetime * 1000,
          active: true
        })
        const idToken = yield* keys.sign({
          ...idTokenClaims(code.request, at, code.authTime),
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
      }
      if (p.grant_type === "refresh_token") {
        const record = p.refresh_token === undefined ? undefined : refreshTokens.get(p.refresh_token)
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
        if (client.requireVerifierOnRefresh === true) {
          if (!(yield* pkceMatches(p.code_verifier, record.request.challenge))) {
            return oauthError(400, "invalid_grant", "code_verifier required")
          }
        }
        const access = yield* accessToken(record.request, record.consent, at)
        let refresh = p.refresh_token
        if (client.rotation === "one-time") {
          record.active = false
          refresh = randomId()
          refreshTokens.set(refresh, {
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
          scope: record.request.scopes.join(" ")
        })
      }
      return oauthError(
        400,
        "unsupported_grant_type",
        "grant_type must be authorization_code or refresh_token"
      )
    })

  const integratorToken = (p: Params, headers: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const basic = basicCredentials(headers.authorization)
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
      if (p.grant_type !== "client_credentials")
        return oauthError(400, "unsupported_grant_type", "client_credentials only")
      if (p.merchant_vat !== undefined && !isVat(p.merchant_vat)) {
        return oauthError(400, "invalid_request", "merchant_vat is malformed")
      }
      const at = yield* now
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
    Effect.sync(() => {
      const client = authenticateClient(p, authorization)
      if (client === undefined) return oauthError(401, "invalid_client", "client authentication failed")
      const record = p.token === undefined ? undefined : refreshTokens.get(p.token)
      if (record !== undefined && record.request.client.clientId === client.clientId) {
        // Revoking the refresh token ends the consent: its access tokens stop working too.
        record.active = false
        record.consent.revoked = true
      }
      return { _tag: "Text", status: 200, text: "" }
    })

  const revokeConsent = (merchant: string) =>
    Effect.sync(() => {
      let n = 0
      for (const consent of consents) {
        if (
          !consent.revoked &&
          (consent.merchant?.merchantId === merchant || consent.merchant?.vat === merchant)
        ) {
          consent.revoked = true
          n++
        }
      }
      return n
    })

  const grants: Grants = {
    consentRevoked: (sid) => consents.some((c) => c.id === sid && c.revoked),
    merchantsOf: (sub) => {
      const username = users.get(sub)
      return username === undefined ? [] : merchants.ofUser(username)
    }
  }

  return {
    authorize,
    login,
    consentDecision,
    merchantToken,
    integratorToken,
    revocation,
    revokeConsent,
    grants
  }
}

/** @internal */
export type World = ReturnType<typeof make>
