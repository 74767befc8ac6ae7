/**
 * The authorization server's state and rules: pending logins, codes, refresh tokens,
 * consents, single-use nonces, idempotent API responses. Transport-free: every function takes
 * the request's parameters and answers an `Outcome` that the HTTP layer writes out. Time from
 * Effect's `Clock`, so a test can run the sandbox under `TestClock`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Encoding } from "effect"
import type * as jose from "jose"
import type { Keys } from "./Keys.js"
import type { Resolved, SandboxClientConfig, SandboxMerchant } from "./Options.js"
import * as Pages from "./Pages.js"

/** @internal */
export type Outcome =
  | {
      readonly _tag: "Json"
      readonly status: number
      readonly body: unknown
      readonly headers?: Record<string, string>
    }
  | { readonly _tag: "Html"; readonly status: number; readonly html: string }
  | { readonly _tag: "Redirect"; readonly location: string }
  | { readonly _tag: "Text"; readonly status: number; readonly text: string }

type Params = Readonly<Record<string, string | undefined>>

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

const json = (status: number, body: unknown, headers?: Record<string, string>): Outcome =>
  headers === undefined ? { _tag: "Json", status, body } : { _tag: "Json", status, body, headers }
const oauthError = (status: number, error: string, description: string) =>
  json(status, { error, error_description: description })
const vague = (): Outcome => ({ _tag: "Html", status: 400, html: Pages.vagueError() })
const unauthorized = (): Outcome => ({ _tag: "Text", status: 401, text: "Unauthorized" })

const randomId = (bytes = 32) =>
  Encoding.encodeBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)))
const vatPattern = /^(DK|FI)\d{8}$/

const sha256url = (text: string) =>
  Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))).pipe(
    Effect.map((d) => new Uint8Array(d))
  )
const halfHash = (text: string) =>
  Effect.map(sha256url(text), (d) => Encoding.encodeBase64Url(d.slice(0, d.length / 2)))

const timingSafeEqual = (a: string, b: string) => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** Client authentication from `Authorization: Basic` or the form body. */
const basicCredentials = (authorization: string | undefined) => {
  if (authorization === undefined || !/^basic /i.test(authorization)) return undefined
  const decoded = Encoding.decodeBase64String(authorization.slice(6).trim())
  if (decoded._tag === "Left") return undefined
  const at = decoded.right.indexOf(":")
  if (at < 0) return undefined
  return {
    id: decodeURIComponent(decoded.right.slice(0, at)),
    secret: decodeURIComponent(decoded.right.slice(at + 1))
  }
}

/** @internal */
export const make = (options: Resolved, keys: Keys) => {
  const pending = new Map<string, AuthorizeRequest>()
  const usedNonces = new Set<string>()
  const codes = new Map<string, Code>()
  const refreshTokens = new Map<string, RefreshRecord>()
  const consents: Array<Consent> = []
  const subjects = new Map<string, string>()
  const idempotent = new Map<string, Outcome>()
  const now = Clock.currentTimeMillis
  const seconds = (ms: number) => Math.floor(ms / 1000)

  const merchantByVat = (vat: string): SandboxMerchant => {
    const known = options.merchants.find((m) => m.vat === vat)
    if (known) return known
    // Unknown but well-formed VATs get a stable generated merchant, as any test VAT should work.
    const id = [...vat]
      .reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7)
      .toString(16)
      .padStart(8, "0")
    return { vat, merchantId: `${id}-0000-4000-8000-${id}${id.slice(0, 4)}`, name: `Merchant ${vat}` }
  }

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
      if (usedNonces.has(`${client.clientId}:${p.nonce}`))
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
        if (!vatPattern.test(p.merchant_vat)) return fail("invalid_request", "merchant_vat is malformed")
        merchant = merchantByVat(p.merchant_vat)
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
      return { _tag: "Html", status: 200, html: Pages.login(id, merchant?.name) }
    })

  const login = (p: Params): Effect.Effect<Outcome> =>
    Effect.sync(() => {
      const request = p.request === undefined ? undefined : pending.get(p.request)
      if (request === undefined || p.request === undefined) return vague()
      if (!p.username || !p.password)
        return { _tag: "Html", status: 200, html: Pages.login(p.request, request.merchant?.name) }
      let sub = subjects.get(p.username)
      if (sub === undefined) {
        sub = globalThis.crypto.randomUUID()
        subjects.set(p.username, sub)
      }
      request.sub = sub
      return {
        _tag: "Html",
        status: 200,
        html: Pages.consent(p.request, request.client.clientId, request.scopes, request.merchant?.name)
      }
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
        if (
          p.code_verifier === undefined ||
          Encoding.encodeBase64Url(yield* sha256url(p.code_verifier)) !== code.request.challenge
        ) {
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
          if (
            p.code_verifier === undefined ||
            Encoding.encodeBase64Url(yield* sha256url(p.code_verifier)) !== record.request.challenge
          ) {
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

  const integratorToken = (p: Params, authorization: string | undefined): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const basic = basicCredentials(authorization)
      const client = options.integratorClients.find((c) => c.clientId === basic?.id)
      if (
        client === undefined ||
        basic === undefined ||
        !timingSafeEqual(client.clientSecret, basic.secret)
      ) {
        return oauthError(401, "invalid_client", "client authentication failed")
      }
      if (p.grant_type !== "client_credentials")
        return oauthError(400, "unsupported_grant_type", "client_credentials only")
      if (p.merchant_vat !== undefined && !vatPattern.test(p.merchant_vat)) {
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

  const isRevoked = (claims: jose.JWTPayload) =>
    typeof claims.sid === "string" && consents.some((c) => c.id === claims.sid && c.revoked)

  /** The bearer token's claims, or undefined for anything that should be a vague 401. */
  const bearer = (authorization: string | undefined) =>
    Effect.gen(function* () {
      if (authorization === undefined || !/^bearer /i.test(authorization)) return undefined
      const claims = yield* keys.verify(authorization.slice(7).trim(), yield* now)
      return claims === undefined || isRevoked(claims) ? undefined : claims
    })

  const gatewayOk = (headers: Params) =>
    options.gateway === undefined ||
    (headers["x-ibm-client-id"] === options.gateway.clientId &&
      (options.gateway.clientSecret === undefined ||
        headers["x-ibm-client-secret"] === options.gateway.clientSecret))

  const merchantsMe = (headers: Params): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const claims = yield* bearer(headers.authorization)
      if (claims === undefined || !gatewayOk(headers)) return unauthorized()
      const id = typeof claims.merchant_id === "string" ? claims.merchant_id : undefined
      const merchant =
        options.merchants.find((m) => m.merchantId === id) ??
        (typeof claims.merchant_vat === "string" ? merchantByVat(claims.merchant_vat) : undefined)
      if (merchant === undefined)
        return json(403, { code: "forbidden", message: "token is not bound to a merchant" })
      return json(200, { merchantId: merchant.merchantId, vatNumber: merchant.vat, name: merchant.name })
    })

  const payment = (headers: Params, body: unknown): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const claims = yield* bearer(headers.authorization)
      if (claims === undefined || !gatewayOk(headers)) return unauthorized()
      const version = headers["x-mobilepay-client-system-version"]
      if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
        return json(400, {
          code: "missing_client_system_version",
          message: "x-mobilepay-client-system-version is required"
        })
      }
      const bound = typeof claims.merchant_vat === "string" ? claims.merchant_vat : undefined
      const header = headers["x-mobilepay-merchant-vat-number"]
      if (bound === undefined) {
        if (header === undefined) return json(400, { code: "1151", message: "missing merchant VAT header" })
        if (!vatPattern.test(header))
          return json(400, { code: "1159", message: "invalid merchant VAT header" })
      }
      const key = headers["x-mobilepay-idempotency-key"]
      if (key === undefined || key.length === 0 || key.length > 36) {
        return json(400, {
          code: "idempotency_key",
          message: "x-mobilepay-idempotency-key (at most 36 characters) is required"
        })
      }
      const scope = `${String(claims.client_id)}:${bound ?? header}:${key}`
      const previous = idempotent.get(scope)
      if (previous !== undefined) return previous
      const outcome = json(200, {
        paymentId: globalThis.crypto.randomUUID(),
        merchantVat: bound ?? header,
        status: "Initiated",
        request: body
      })
      idempotent.set(scope, outcome)
      return outcome
    })

  return {
    authorize,
    login,
    consentDecision,
    merchantToken,
    integratorToken,
    revocation,
    revokeConsent,
    merchantsMe,
    payment
  }
}

/** @internal */
export type World = ReturnType<typeof make>
