/**
 * Merchant consent: MobilePay's OpenID Connect hybrid flow (`code id_token`, PKCE S256,
 * `state`, `nonce`, `merchant_vat`), then the merchant's refresh token for as long as the
 * consent lasts. `begin` builds the authorize URL and keeps a single-use pending authorization
 * in the vault; `complete` validates the callback and installs the grant; `accessToken` serves
 * and refreshes through the `TokenManager`; `revoke` revokes and deletes.
 *
 * @since 0.1.0
 */
import {
  AuthError,
  Environment,
  Nonce,
  Pkce,
  Scope,
  SecureRandom,
  State,
  Token,
  Vat
} from "@mobilepay-auth/domain"
import { Clock, Context, Effect, Either, Layer, Option, Redacted } from "effect"
import * as oauth from "oauth4webapi"
import { AuthHttp } from "./AuthHttp.js"
import * as Discovery from "./Discovery.js"
import * as Grant from "./Grant.js"
import * as OAuth from "./internal/oauth.js"
import * as Consent from "./internal/oauthConsent.js"
import * as Exchange from "./internal/oauthMerchant.js"
import { type ClientAuthentication, MobilePayConfig } from "./MobilePayConfig.js"
import { grantKey, TokenManager, type TokenSource } from "./TokenManager.js"
import { TokenVault } from "./TokenVault.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface BeginOptions {
  /** The merchant to ask (`DK` / `FI` + 8 digits, any accepted spelling). */
  readonly merchantVat?: string
  /** Product scopes; default: the configured ones. `openid offline_access` are always added. */
  readonly scopes?: ReadonlyArray<string>
  /** Default `form_post` (MobilePay's recommendation). */
  readonly responseMode?: "form_post" | "fragment"
  /**
   * Bind the authorization to the user agent that begins it (default `true`): `begin` returns a
   * `binding` value to keep in that browser (an `HttpOnly; Secure; SameSite=None` `__Host-`
   * cookie, see `ConsentCallback.bindingCookie`), and `complete` refuses a callback that does not
   * present it with `StateMismatch` (reason `"binding"`). This stops login CSRF: an attacker's
   * own callback replayed from a victim's browser cannot complete there.
   *
   * `false` is the explicit opt-out for flows where no browser session can carry the value,
   * such as a CLI's loopback listener: then `state` alone ties the callback to the request.
   */
  readonly bindToUserAgent?: boolean
  /**
   * OpenID Connect `prompt`. A provider that follows OpenID Connect Core section 11 issues no
   * refresh token for `offline_access` unless `consent` is among them; `complete` then fails with
   * `ProtocolViolation` reason `"no-refresh-token"`. `none` cannot be combined with another value.
   */
  readonly prompt?: Prompt | ReadonlyArray<Prompt>
  /** OpenID Connect `max_age`: seconds since the user last authenticated, at most. */
  readonly maxAge?: number
  /** OpenID Connect `ui_locales`: preferred languages of the login and consent pages (`da`, `fi`, `en`). */
  readonly uiLocales?: ReadonlyArray<string>
  /** OpenID Connect `login_hint`: who is expected to log in (not a secret; sent in the URL). */
  readonly loginHint?: string
}

/**
 * The values of OpenID Connect's `prompt` parameter.
 *
 * @since 0.1.0
 * @category models
 */
export type Prompt = "none" | "login" | "consent" | "select_account"

/**
 * What `complete` is given besides the callback.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompleteOptions {
  /**
   * The binding value `begin` returned, as the browser presents it (its cookie). Required for an
   * authorization begun with `bindToUserAgent` (the default). When absent and the callback is a
   * `Request`, its `__Host-mobilepay-consent` cookie is read.
   */
  readonly binding?: string | Redacted.Redacted<string> | undefined
}

/**
 * A started authorization: send the merchant's browser to `url` before `expiresAt`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Authorization {
  readonly url: string
  readonly state: State.State
  /** Epoch ms after which the callback is refused. */
  readonly expiresAt: number
  /**
   * The user-agent binding: keep it in the browser that goes to `url` (a cookie) and pass it to
   * `complete`. `None` when begun with `bindToUserAgent: false`.
   */
  readonly binding: Option.Option<Redacted.Redacted<string>>
}

/**
 * The callback, as a `form_post` `Request`, the full redirect URL (fragment mode), or the
 * parameters.
 *
 * @since 0.1.0
 * @category models
 */
export type CallbackInput = Consent.CallbackInput

/**
 * A completed consent. Nothing here is secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface Consented {
  /** The identity the grant is stored under: `merchant_id` claim, else the VAT, else `sub`. */
  readonly merchant: string
  readonly merchantVat: Option.Option<Vat.Vat>
  readonly scopes: ReadonlyArray<string>
  /** When the first access token expires (epoch ms). */
  readonly expiresAt: number
}

/**
 * A stored merchant grant, for listings. Never a secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface MerchantInfo {
  readonly merchant: string
  readonly merchantVat: Option.Option<string>
  readonly scopes: ReadonlyArray<string>
  /** Expiry of the current access token (epoch ms). */
  readonly accessTokenExpiresAt: number
  /** When the stored tokens were last obtained (epoch ms). */
  readonly refreshedAt: number
}

/**
 * What `revoke` did at the provider; local deletion always happens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Revoked {
  readonly merchant: string
  /** A grant was stored and has been deleted. */
  readonly removed: boolean
  readonly provider: "revoked" | "no-revocation-endpoint" | "nothing-to-revoke"
}

/**
 * A token source for API calls on behalf of one merchant (see `MobilePayHttpClient`).
 *
 * @since 0.1.0
 * @category models
 */
export interface MerchantTokenSource {
  readonly token: Effect.Effect<Token.AccessToken, AccessTokenError>
  /** The API rejected this token: drop it, the next `token` refreshes. */
  readonly invalidate: (token: Token.AccessToken) => Effect.Effect<void>
  /** The VAT to send as a header when the token is not bound to the merchant. */
  readonly merchantVat: Option.Option<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export type BeginError =
  | AuthError.InvalidScope
  | AuthError.InvalidVat
  | AuthError.InvalidRequest
  | AuthError.StoreFailure
  | Discovery.Error

/**
 * @since 0.1.0
 * @category models
 */
export type CompleteError =
  | AuthError.StateMismatch
  | AuthError.ConsentRequired
  | AuthError.IdTokenRejected
  | AuthError.StoreFailure
  | OAuth.ProtocolError
  | AuthError.IdTokenRejected

/**
 * @since 0.1.0
 * @category models
 */
export type AccessTokenError =
  | AuthError.ConsentRequired
  | AuthError.IdTokenRejected
  | AuthError.StoreFailure
  | OAuth.ProtocolError

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Lifetime of a pending authorization. Default 10 minutes. */
  readonly pendingTtl?: number
  /**
   * How the client authenticates at the token and revocation endpoints. Default `auto`: chosen
   * from discovery's `token_endpoint_auth_methods_supported` (see {@link chooseClientAuthentication}).
   */
  readonly clientAuthentication?: ClientAuthentication
}

/**
 * The client authentication `auto` picks from what the provider lists: `client_secret_basic`
 * (the one RFC 6749 says servers must support) when listed or when nothing is listed (OpenID
 * Connect Discovery's default), else `client_secret_post` when listed.
 *
 * @since 0.1.0
 * @category utils
 */
export const chooseClientAuthentication = (
  supported: ReadonlyArray<string> | undefined
): "client_secret_basic" | "client_secret_post" =>
  supported === undefined ||
  supported.includes("client_secret_basic") ||
  !supported.includes("client_secret_post")
    ? "client_secret_basic"
    : "client_secret_post"

/**
 * @since 0.1.0
 * @category tags
 */
export class MerchantConsent extends Context.Tag("@mobilepay-auth/platform/MerchantConsent")<
  MerchantConsent,
  MerchantConsent.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace MerchantConsent {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly begin: (options?: BeginOptions) => Effect.Effect<Authorization, BeginError>
    readonly complete: (
      input: CallbackInput,
      options?: CompleteOptions
    ) => Effect.Effect<Consented, CompleteError>
    /** A valid access token for the merchant, refreshed as needed. */
    readonly accessToken: (merchant: string) => Effect.Effect<Token.AccessToken, AccessTokenError>
    readonly tokenSource: (
      merchant: string
    ) => Effect.Effect<MerchantTokenSource, AuthError.ConsentRequired | AuthError.StoreFailure>
    readonly revoke: (
      merchant: string
    ) => Effect.Effect<Revoked, AuthError.StoreFailure | OAuth.ProtocolError>
    readonly merchants: Effect.Effect<ReadonlyArray<MerchantInfo>, AuthError.StoreFailure>
  }
}

/**
 * The name of the cookie that carries the user-agent binding (see `BeginOptions.bindToUserAgent`).
 *
 * @since 0.1.0
 * @category constants
 */
export const bindingCookieName = Consent.bindingCookieName

const badParameter = (description: string) =>
  new AuthError.InvalidRequest({ code: "invalid_authorization_parameter", description })

const prompts: ReadonlyArray<string> = ["none", "login", "consent", "select_account"]
const locale = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/
const printable = /^[\x20-\x7e\u00a0-\uffff]+$/

// The standard OpenID Connect parameters of an authorization request, checked.
const standardParameters = (
  input: BeginOptions
): Effect.Effect<Record<string, string>, AuthError.InvalidRequest> => {
  const out: Record<string, string> = {}
  if (input.prompt !== undefined) {
    const values: ReadonlyArray<string> = typeof input.prompt === "string" ? [input.prompt] : input.prompt
    if (values.length === 0 || values.some((v) => !prompts.includes(v))) {
      return Effect.fail(badParameter("prompt: none, login, consent or select_account"))
    }
    if (values.includes("none") && values.length > 1) {
      return Effect.fail(badParameter("prompt: none cannot be combined"))
    }
    out["prompt"] = [...new Set(values)].join(" ")
  }
  if (input.maxAge !== undefined) {
    if (!Number.isSafeInteger(input.maxAge) || input.maxAge < 0) {
      return Effect.fail(badParameter("maxAge: a whole number of seconds"))
    }
    out["max_age"] = String(input.maxAge)
  }
  if (input.uiLocales !== undefined) {
    if (input.uiLocales.length === 0 || !input.uiLocales.every((l) => locale.test(l))) {
      return Effect.fail(badParameter("uiLocales: BCP 47 language tags"))
    }
    out["ui_locales"] = input.uiLocales.join(" ")
  }
  if (input.loginHint !== undefined) {
    if (input.loginHint.length === 0 || input.loginHint.length > 256 || !printable.test(input.loginHint)) {
      return Effect.fail(badParameter("loginHint: 1 to 256 printable characters"))
    }
    out["login_hint"] = input.loginHint
  }
  return Effect.succeed(out)
}

const TEN_MINUTES = 10 * 60 * 1000
// Pending records stay a while past their expiry so a late callback says "expired", not "unknown".
const GRACE = 60 * 60 * 1000

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<MerchantConsent.Service, never, MobilePayConfig | AuthHttp | TokenManager | TokenVault> =>
  Effect.gen(function* () {
    const config = yield* MobilePayConfig
    const http = yield* AuthHttp
    const manager = yield* TokenManager
    const vault = yield* TokenVault
    const random = Context.make(SecureRandom.SecureRandom, yield* SecureRandom.SecureRandom)
    // The provider's discovery from context (`MobilePay.layer` provides it; a test may provide a
    // fixed document); a hand-wired layer without one gets its own, with the default TTL.
    const discovery = yield* Effect.flatMap(Effect.serviceOption(Discovery.Discovery), (provided) =>
      Option.isSome(provided) ? Effect.succeed(provided.value) : Discovery.make()
    )
    const pendingTtl = options.pendingTtl ?? TEN_MINUTES
    const clientAuth = (metadata: Discovery.Metadata) => {
      const configured = options.clientAuthentication ?? "auto"
      const method =
        configured === "auto"
          ? chooseClientAuthentication(metadata.token_endpoint_auth_methods_supported)
          : configured
      return (method === "client_secret_basic" ? oauth.ClientSecretBasic : oauth.ClientSecretPost)(
        Redacted.value(config.clientSecret)
      )
    }
    const bridge = OAuth.bridge(
      http.fetch,
      config.environment.allowInsecureLoopback && http.allowInsecureLoopback
    )
    const keyPrefix = `merchant:${config.clientId}:`
    const keyOf = (merchant: string) => `${keyPrefix}${merchant}`
    // Merchants whose grant was never there, so their ConsentRequired says "missing".
    const missing = new Set<string>()

    // oauth4webapi reads the wall clock; tell it how far the Effect clock is from it.
    const client: Effect.Effect<oauth.Client> = Effect.map(Clock.currentTimeMillis, (now) => ({
      client_id: config.clientId,
      [oauth.clockSkew]: Math.round((now - Date.now()) / 1000)
    }))

    const checkMerchant = (merchant: string) =>
      Consent.isMerchantIdentity(merchant)
        ? Effect.void
        : Effect.fail(
            new AuthError.InvalidRequest({ code: "invalid_merchant", description: "not a merchant identity" })
          )

    const begin = (input: BeginOptions = {}) =>
      Effect.gen(function* () {
        const redirect = yield* Option.match(config.redirectUri, {
          onNone: () =>
            Effect.fail(
              new AuthError.InvalidRequest({ code: "invalid_configuration", description: "no redirect URI" })
            ),
          onSome: (uri) =>
            Effect.try({
              try: () => new URL(uri),
              catch: () =>
                new AuthError.InvalidRequest({ code: "invalid_configuration", description: "redirect URI" })
            })
        })
        if (!Environment.allowsRedirectUri(config.environment, redirect)) {
          return yield* Effect.fail(
            new AuthError.InvalidRequest({
              code: "invalid_redirect_uri",
              description: "https required; localhost only with a sandbox environment"
            })
          )
        }
        const products = yield* Scope.parseProductScopes(input.scopes ?? config.scopes)
        // Least privilege: only configured product scopes, and none when none are configured.
        const notConfigured = products.filter((s) => !config.scopes.includes(s))
        if (notConfigured.length > 0) {
          return yield* Effect.fail(
            new AuthError.InvalidScope({ scope: notConfigured.join(" "), description: "not configured" })
          )
        }
        const merchantVat = input.merchantVat === undefined ? undefined : yield* Vat.parse(input.merchantVat)
        const metadata = yield* discovery.metadata
        const responseMode = input.responseMode ?? "form_post"
        const bind = input.bindToUserAgent ?? true
        const [pkce, state, nonce, binding] = yield* Effect.all([
          Pkce.generate,
          State.generate,
          Nonce.generate,
          SecureRandom.base64url(32)
        ]).pipe(Effect.provide(random))
        const url = new URL(metadata.authorization_endpoint ?? "")
        const params: Record<string, string> = {
          client_id: config.clientId,
          response_type: "code id_token",
          response_mode: responseMode,
          redirect_uri: redirect.href,
          scope: Scope.format(Scope.forConsent(products)),
          state,
          nonce,
          code_challenge: pkce.challenge,
          code_challenge_method: pkce.method
        }
        if (merchantVat !== undefined) params["merchant_vat"] = merchantVat
        Object.assign(params, yield* standardParameters(input))
        for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
        const createdAt = yield* Clock.currentTimeMillis
        const expiresAt = createdAt + pendingTtl
        const pending: Consent.Pending = {
          _tag: "Pending",
          state,
          nonce: Redacted.make(nonce),
          verifier: pkce.verifier,
          ...(merchantVat === undefined ? {} : { merchantVat }),
          scopes: products,
          redirectUri: redirect.href,
          responseMode,
          createdAt,
          expiresAt,
          ...(bind ? { binding: yield* Consent.sha256(binding) } : {})
        }
        const key = yield* Consent.pendingKey(config.clientId, state)
        yield* vault.put(Consent.PendingRecord, key, pending, {
          expectedVersion: 0,
          expiresAt: expiresAt + GRACE
        })
        return {
          url: url.href,
          state,
          expiresAt,
          binding: bind ? Option.some(Redacted.make(binding)) : Option.none()
        }
      }).pipe(Effect.withSpan("mobilepay_auth.consent.begin"))

    // The pending authorization of a state, consumed: a second use is a replay.
    const consume = (state: string) =>
      Effect.gen(function* () {
        const key = yield* Consent.pendingKey(config.clientId, state)
        const record = yield* vault.take(Consent.PendingRecord, key)
        const now = yield* Clock.currentTimeMillis
        if (Option.isNone(record))
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "unknown" }))
        const pending = record.value
        if (pending._tag === "Used") {
          // Taking the tombstone removed it: put it back, so every later replay is named as one too.
          yield* Effect.ignore(
            vault.put(Consent.PendingRecord, key, pending, {
              expectedVersion: 0,
              expiresAt: pending.until ?? pending.usedAt + GRACE
            })
          )
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "replayed" }))
        }
        if (pending.state !== state)
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "unknown" }))
        // Best effort: a tombstone lets a replay be named as one.
        yield* Effect.ignore(
          vault.put(
            Consent.PendingRecord,
            key,
            { _tag: "Used", usedAt: now, until: pending.expiresAt + GRACE },
            {
              expectedVersion: 0,
              expiresAt: pending.expiresAt + GRACE
            }
          )
        )
        if (now >= pending.expiresAt)
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "expired" }))
        return pending
      })

    // The provider, as of now, and this client (with oauth4webapi's clock set to ours).
    const peer = Effect.all({ as: discovery.metadata, client, now: Clock.currentTimeMillis }).pipe(
      Effect.map(
        ({ as, client, now }): Exchange.Peer => ({
          as: Discovery.authorizationServer(as),
          client,
          clientAuth: clientAuth(as),
          bridge,
          secrets: [Redacted.value(config.clientSecret)],
          now
        })
      )
    )

    // The callback must come from the browser that began the authorization (login CSRF).
    const checkBinding = (pending: Consent.Pending, presented: CompleteOptions["binding"]) =>
      Effect.gen(function* () {
        if (pending.binding === undefined) return
        const value =
          presented === undefined
            ? ""
            : Redacted.isRedacted(presented)
              ? Redacted.value(presented)
              : presented
        if (value === "" || (yield* Consent.sha256(value)) !== pending.binding) {
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "binding" }))
        }
      })

    const complete = (input: CallbackInput, options: CompleteOptions = {}) =>
      Effect.gen(function* () {
        const { params, source } = yield* Consent.callbackParameters(input)
        const state = yield* Consent.single(params, "state")
        if (Option.isNone(state))
          return yield* Effect.fail(new AuthError.StateMismatch({ reason: "missing" }))
        const pending = yield* consume(state.value)
        yield* checkBinding(
          pending,
          options.binding ??
            (input instanceof Request ? Consent.bindingFromCookies(input.headers.get("cookie")) : undefined)
        )
        if (!Consent.sourceMatches(pending.responseMode, source)) {
          return yield* Effect.fail(
            new AuthError.InvalidRequest({
              code: "invalid_response_mode",
              description: `expected ${pending.responseMode}, got the ${source}`
            })
          )
        }
        const error = yield* Consent.single(params, "error")
        if (Option.isSome(error)) {
          return yield* Effect.fail(Consent.authorizationError(error.value, pending.merchantVat))
        }
        yield* Consent.single(params, "id_token")
        const { discard, result, subject } = yield* Effect.flatMap(peer, (p) =>
          Exchange.redeem(p, params, pending)
        )

        // Everything below may still refuse the answer: then its tokens are revoked, not left live.
        return yield* Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const tokens = yield* Token.decode(result, now)
          // We always ask for offline_access: a grant without a refresh token would be stored and
          // then fail as "consent required" at its first refresh. Refuse it now, saying why.
          if (Option.isNone(tokens.refreshToken)) {
            return yield* Effect.fail(
              new AuthError.ProtocolViolation({
                reason: "no-refresh-token",
                description: 'offline_access was not granted; begin with prompt: "consent"'
              })
            )
          }
          const merchantId = Consent.unverifiedClaims(Redacted.value(tokens.accessToken)).pipe(
            Option.flatMap((c) => Option.fromNullable(c.merchant_id)),
            Option.map(String),
            Option.filter(Consent.isMerchantIdentity)
          )
          const merchant = Option.getOrElse(merchantId, () => pending.merchantVat ?? subject)
          if (!Consent.isMerchantIdentity(merchant)) {
            return yield* Effect.fail(
              new AuthError.ProtocolViolation({ reason: "merchant-identity", description: "sub" })
            )
          }
          // Least privilege: a grant broader than the request is refused (and revoked), never stored.
          const requested = Scope.forConsent(pending.scopes)
          const broader = tokens.scopes.filter((s) => !requested.includes(s as Scope.Scope))
          if (broader.length > 0) {
            return yield* Effect.fail(
              new AuthError.InvalidScope({
                scope: broader.join(" ").slice(0, 200),
                description: "granted beyond the request"
              })
            )
          }
          const scopes = tokens.scopes.length > 0 ? tokens.scopes : requested
          const grant: Grant.Grant = {
            tokens: { ...tokens, scopes },
            attributes: {
              merchant,
              subject,
              merchantBound: String(Option.isSome(merchantId)),
              codeVerifier: pending.verifier,
              ...(pending.merchantVat === undefined ? {} : { merchantVat: pending.merchantVat })
            }
          }
          yield* manager.install(keyOf(merchant), grant, { persistent: true })
          missing.delete(keyOf(merchant))
          return {
            merchant,
            merchantVat: Option.fromNullable(pending.merchantVat).pipe(
              Option.flatMap((v) => Either.getRight(Vat.parseEither(v)))
            ),
            scopes,
            expiresAt: tokens.expiresAt
          }
        }).pipe(Effect.tapError(() => discard))
      }).pipe(Effect.withSpan("mobilepay_auth.consent.complete"))

    const refresh = (merchant: string, current: Option.Option<Grant.Grant>) =>
      Effect.gen(function* () {
        const key = keyOf(merchant)
        const refreshToken = Option.flatMap(current, (g) => g.tokens.refreshToken)
        if (Option.isNone(current) || Option.isNone(refreshToken)) {
          missing.add(key)
          return yield* Effect.fail(new AuthError.ConsentRequired({ merchant, reason: "missing" }))
        }
        const attributes = current.value.attributes
        const verifier = config.sendVerifierOnRefresh ? Grant.secret(attributes, "codeVerifier") : undefined
        const result = yield* Effect.flatMap(peer, (p) =>
          Exchange.refresh(p, refreshToken.value, verifier, Grant.text(attributes, "subject"))
        ).pipe(
          // The endpoint may have moved: read discovery again before the next attempt.
          Effect.tapErrorTag("Transport", (e) =>
            e.reason === "connection" ? discovery.invalidate : Effect.void
          )
        )
        const tokens = yield* Token.decode(result, yield* Clock.currentTimeMillis)
        const scopes = tokens.scopes.length > 0 ? tokens.scopes : current.value.tokens.scopes
        return { tokens: { ...tokens, scopes }, attributes }
      })

    const sourceOf = (merchant: string): TokenSource<AccessTokenError> => ({
      key: keyOf(merchant),
      kind: "merchant",
      persistent: true,
      obtain: (current) => refresh(merchant, current)
    })

    // "No consent here" recovery: this process may have recorded it while another one completed
    // the consent: adopt the stored grant. Only on failure, so a cache hit has no span and no read.
    const recover =
      (merchant: string, source: TokenSource<AccessTokenError>) => (error: AuthError.ConsentRequired) =>
        Effect.gen(function* () {
          const stored = yield* manager.stored(source.key)
          if (Option.isSome(stored) && Option.isSome(stored.value.tokens.refreshToken)) {
            missing.delete(source.key)
            yield* manager.install(source.key, stored.value, { persistent: false })
            return (yield* manager.get(source)).accessToken
          }
          return yield* Effect.fail(
            new AuthError.ConsentRequired({
              merchant,
              reason: missing.has(source.key) ? "missing" : error.reason
            })
          )
        }).pipe(Effect.withSpan("mobilepay_auth.consent.recover"))

    // One token effect per merchant, built once: a cache hit is the manager's own path plus a map.
    const tokens = new Map<string, Effect.Effect<Token.AccessToken, AccessTokenError>>()
    const maxMemoized = 10_000
    const accessToken = (merchant: string): Effect.Effect<Token.AccessToken, AccessTokenError> => {
      const memoized = tokens.get(merchant)
      if (memoized !== undefined) return memoized
      if (!Consent.isMerchantIdentity(merchant)) {
        return Effect.fail(
          new AuthError.InvalidRequest({ code: "invalid_merchant", description: "not a merchant identity" })
        )
      }
      const source = sourceOf(merchant)
      const recovery = recover(merchant, source)
      const token: Effect.Effect<Token.AccessToken, AccessTokenError> = Effect.catchAll(
        Effect.map(manager.get(source), (set) => set.accessToken),
        (error) => (error._tag === "ConsentRequired" ? recovery(error) : Effect.fail(error))
      )
      if (tokens.size >= maxMemoized) tokens.clear()
      tokens.set(merchant, token)
      return token
    }

    // Served from the manager's memory when it holds the grant: no store read, no decryption.
    const tokenSource = (merchant: string) =>
      Effect.gen(function* () {
        const attributes = yield* manager.attributes(keyOf(merchant))
        if (Option.isNone(attributes))
          return yield* Effect.fail(new AuthError.ConsentRequired({ merchant, reason: "missing" }))
        const bound = Grant.text(attributes.value, "merchantBound") === "true"
        return {
          token: accessToken(merchant),
          invalidate: (token: Token.AccessToken) => manager.invalidate(keyOf(merchant), token),
          merchantVat: bound
            ? Option.none()
            : Option.fromNullable(Grant.text(attributes.value, "merchantVat"))
        }
      })

    const revoke = (merchant: string) =>
      Effect.gen(function* () {
        const key = keyOf(merchant)
        const stored = yield* manager.stored(key)
        const refreshToken = Option.flatMap(stored, (g) => g.tokens.refreshToken)
        const provider = yield* Option.match(refreshToken, {
          onNone: () => Effect.succeed("nothing-to-revoke" as const),
          onSome: (token) =>
            Effect.gen(function* () {
              const p = yield* peer
              const endpoint = p.as.revocation_endpoint
              if (endpoint === undefined) return "no-revocation-endpoint" as const
              yield* Exchange.revoke({ ...p, endpoint }, token)
              return "revoked" as const
            })
        }).pipe(
          // Whatever the provider says, nothing of this merchant stays here.
          Effect.ensuring(Effect.ignore(manager.remove(key)))
        )
        missing.delete(key)
        return { merchant, removed: Option.isSome(stored), provider }
      }).pipe(Effect.withSpan("mobilepay_auth.consent.revoke"))

    // One unreadable record (corrupted, sealed with a retired key) must not hide every other
    // merchant: it is skipped and reported as a warning naming its key (never its content).
    const merchants = Effect.gen(function* () {
      const keys = yield* vault.store.list(grantKey(keyPrefix))
      const out: Array<MerchantInfo> = []
      for (const storeKey of keys) {
        const key = storeKey.slice(grantKey("").length)
        const read = yield* Effect.either(manager.stored(key))
        if (Either.isLeft(read)) {
          yield* Effect.logWarning("skipping an unreadable merchant grant").pipe(
            Effect.annotateLogs({ key: storeKey, reason: read.left.reason })
          )
          continue
        }
        const stored = read.right
        if (Option.isNone(stored)) continue
        const { attributes, tokens } = stored.value
        out.push({
          merchant: Grant.text(attributes, "merchant") ?? key.slice(keyPrefix.length),
          merchantVat: Option.fromNullable(Grant.text(attributes, "merchantVat")),
          scopes: tokens.scopes,
          accessTokenExpiresAt: tokens.expiresAt,
          refreshedAt: tokens.issuedAt
        })
      }
      return out
    })

    return MerchantConsent.of({
      begin,
      complete,
      accessToken,
      tokenSource,
      revoke: (merchant) => Effect.zipRight(checkMerchant(merchant), revoke(merchant)),
      merchants
    })
  })

/**
 * Merchant consent over the configured environment, the hardened HTTP client, the token
 * manager and the vault. The provider's `Discovery` is taken from context when provided.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<MerchantConsent, never, MobilePayConfig | AuthHttp | TokenManager | TokenVault> =>
  Layer.effect(MerchantConsent, make(options))
