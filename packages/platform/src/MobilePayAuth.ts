/**
 * A Promise API for applications that do not use Effect: the same services, the same
 * guarantees (single flight, encrypted storage, one retry on 401), the same typed errors —
 * rejections are the `AuthError` classes themselves, so `error._tag` works in a `catch`. It
 * speaks plain values: tokens are {@link SecretToken}s (read `.value` where the token goes on
 * the wire; `String`, `JSON.stringify` and `inspect` show `<redacted>`), absent values are
 * `undefined`, instants are `Date`s, and hooks are plain or async functions.
 *
 * @since 0.1.0
 */
import { FetchHttpClient } from "@effect/platform"
import { AuthError, type Environment, Vat } from "@mobilepay-auth/domain"
import {
  type Array as Arr,
  Cause,
  Clock,
  type Duration,
  Effect,
  Either,
  Exit,
  Layer,
  ManagedRuntime,
  Option,
  Redacted
} from "effect"
import * as AuthHttp from "./AuthHttp.js"
import * as ConsentCallback from "./ConsentCallback.js"
import * as IntegratorAuth from "./IntegratorAuth.js"
import * as MerchantConsent from "./MerchantConsent.js"
import * as MobilePay from "./MobilePay.js"
import * as MobilePayConfig from "./MobilePayConfig.js"
import * as MobilePayHttpClient from "./MobilePayHttpClient.js"
import type * as TokenCipher from "./TokenCipher.js"
import * as VippsAccessToken from "./VippsAccessToken.js"
import * as VippsConfig from "./VippsConfig.js"
import * as VippsHttpClient from "./VippsHttpClient.js"
import * as TokenStore from "./TokenStore.js"

/**
 * Options of {@link createMobilePayAuth}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MobilePayAuthOptions {
  readonly environment: Environment.Environment
  readonly clientId: string
  /** Wrapped in `Redacted` at once; never logged. */
  readonly clientSecret: string | Redacted.Redacted<string>
  /**
   * The PoS integrator credentials for `integratorToken` and integrator API calls, when MobilePay
   * issued them apart from the OpenID Connect client (`clientId` / `clientSecret`, the default).
   */
  readonly integrator?: {
    readonly clientId: string
    readonly clientSecret: string | Redacted.Redacted<string>
  }
  readonly redirectUri?: string
  readonly scopes?: MobilePayConfig.Options["scopes"]
  readonly gateway?: { readonly clientId: string; readonly clientSecret?: string }
  readonly clientSystemVersion?: string
  readonly sendVerifierOnRefresh?: boolean
  /**
   * Encryption keys (`id:base64,...` or a list; the first seals). Required with a durable
   * store; without one, an in-memory store with a random key is used.
   */
  readonly encryptionKeys?: string | Arr.NonEmptyReadonlyArray<TokenCipher.KeyMaterial>
  /** A durable store, e.g. `SqliteTokenStore.layer(...)` from `@mobilepay-auth/sql-sqlite`. */
  readonly store?: Layer.Layer<TokenStore.TokenStore, unknown>
  /** Per attempt. Default 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput
  /** How merchant consent authenticates at the token endpoint. Default `client_secret_post`. */
  readonly clientAuthentication?: MobilePayConfig.ClientAuthentication
  /** The `fetch` every request goes through (a proxy, an undici `Agent` wrapper). Default `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch
  /**
   * Vipps MobilePay access tokens (the migration path), on the same token manager, store and
   * HTTP client: `vippsToken` and `fetch({ vipps: ... })`. Secrets given as strings are wrapped
   * in `Redacted` at once.
   */
  readonly vipps?: Omit<VippsConfig.Options, "environment" | "clientSecret" | "subscriptionKey"> & {
    readonly environment: VippsConfig.VippsEnvironment | "test" | "production"
    readonly clientSecret: string | Redacted.Redacted<string>
    readonly subscriptionKey?: string | Redacted.Redacted<string>
  }
  /**
   * How long `dispose` lets a refresh that is underway store its rotated grant. Default 10 s;
   * see `TokenManager.Options.shutdownTimeout`.
   */
  readonly shutdownTimeout?: Duration.DurationInput
}

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom")

/**
 * A token in the Promise API. The token is read only through `value`, explicitly, where it goes
 * on the wire (`` `Bearer ${token.value}` ``); everywhere else (`String(token)`, a template
 * literal, `JSON.stringify`, `console.log`, a spread) it is `<redacted>` or absent.
 *
 * @since 0.1.0
 * @category models
 */
export class SecretToken {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }
  /** The token itself. */
  get value(): string {
    return this.#value
  }
  toString(): string {
    return "<redacted>"
  }
  toJSON(): string {
    return "<redacted>"
  }
  [Symbol.toPrimitive](): string {
    return "<redacted>"
  }
  [inspectSymbol](): string {
    return "SecretToken(<redacted>)"
  }
}

/**
 * An integrator token, in plain values.
 *
 * @since 0.1.0
 * @category models
 */
export interface IntegratorToken {
  readonly accessToken: SecretToken
  readonly tokenType: "Bearer"
  readonly issuedAt: Date
  readonly expiresAt: Date
  readonly scopes: ReadonlyArray<string>
}

/**
 * A completed consent, in plain values. Nothing here is secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsentCompleted {
  /** The identity the grant is stored under; pass it to `merchantToken`, `fetch`, `revoke`. */
  readonly merchant: string
  readonly merchantVat: string | undefined
  readonly scopes: ReadonlyArray<string>
  /** When the first access token expires. */
  readonly expiresAt: Date
}

/**
 * A stored merchant grant, in plain values. Never a secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface Merchant {
  readonly merchant: string
  readonly merchantVat: string | undefined
  readonly scopes: ReadonlyArray<string>
  /** Expiry of the current access token. */
  readonly accessTokenExpiresAt: Date
  /** When the stored tokens were last obtained. */
  readonly refreshedAt: Date
}

/**
 * What the consent callback's `onComplete` hook is told.
 *
 * @since 0.1.0
 * @category models
 */
export type ConsentOutcome =
  | { readonly _tag: "Success"; readonly consented: ConsentCompleted }
  | { readonly _tag: "Failure"; readonly error: MerchantConsent.CompleteError }

/**
 * Options of {@link MobilePayAuth.callbackHandler}, with plain or async hooks.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallbackOptions {
  /** Where to send the browser after a completed consent. Default: a short confirmation page. */
  readonly successRedirect?: string | ((consented: ConsentCompleted) => string)
  /** Build the answer to a failed callback. Default: a vague page with a status per error. */
  readonly onError?: (error: MerchantConsent.CompleteError) => Response
  /**
   * Observe the outcome: log it, audit it, record the merchant. A plain or async function. If it
   * throws (or rejects) on a success, the consent is undone (revoked and deleted) and the browser
   * is asked to start again, so there is never a stored grant your application missed.
   */
  readonly onComplete?: (outcome: ConsentOutcome) => void | PromiseLike<void>
}

const plainConsented = (consented: MerchantConsent.Consented): ConsentCompleted => ({
  merchant: consented.merchant,
  merchantVat: Option.getOrUndefined(consented.merchantVat),
  scopes: consented.scopes,
  expiresAt: new Date(consented.expiresAt)
})

/**
 * The Promise API's callback options in `ConsentCallback`'s terms (Effect hooks), for code that
 * serves the callback from the Effect `MerchantConsent` service with Promise-style hooks.
 *
 * @since 0.1.0
 * @category utils
 */
export const toConsentCallbackOptions = (options: CallbackOptions = {}): ConsentCallback.Options => {
  const { onComplete, onError, successRedirect } = options
  return {
    ...(onError === undefined ? {} : { onError }),
    ...(successRedirect === undefined
      ? {}
      : {
          successRedirect:
            typeof successRedirect === "string"
              ? successRedirect
              : (consented) => successRedirect(plainConsented(consented))
        }),
    ...(onComplete === undefined
      ? {}
      : {
          onComplete: (outcome) =>
            Effect.tryPromise(async () =>
              onComplete(
                outcome._tag === "Success"
                  ? { _tag: "Success", consented: plainConsented(outcome.consented) }
                  : outcome
              )
            )
        })
  }
}

/**
 * A started consent, in plain values.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsentStart {
  /** Where to send the merchant's browser. */
  readonly url: string
  readonly state: string
  /** After this the callback is refused. */
  readonly expiresAt: Date
  /** The user-agent binding to keep in the browser (undefined with `bindToUserAgent: false`). */
  readonly binding: string | undefined
  /** The `Set-Cookie` header value that keeps `binding` in the browser. */
  readonly setCookie: string | undefined
}

/**
 * The API call target of {@link MobilePayAuth.fetch}.
 *
 * @since 0.1.0
 * @category models
 */
export type Target =
  | { readonly merchant: string }
  | { readonly integrator: true; readonly merchantVat: string; readonly bound?: boolean }
  | { readonly vipps: VippsTarget }

/**
 * Which Vipps MobilePay token a call uses: standard (partner keys, per merchant serial number;
 * `null` for a partner-level token, absent for the configured one) or specialized (`/miami/v1/token`).
 *
 * @since 0.1.0
 * @category models
 */
export interface VippsTarget {
  readonly merchantSerialNumber?: string | null
  readonly specialized?: boolean
  readonly scope?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MobilePayAuth {
  /** A valid integrator token, bound to `merchantVat` when given. */
  readonly integratorToken: (options?: { readonly merchantVat?: string }) => Promise<IntegratorToken>
  /** A valid access token for a merchant who consented, refreshed as needed. */
  readonly merchantToken: (merchant: string) => Promise<SecretToken>
  /** A valid Vipps MobilePay access token (needs the `vipps` option). */
  readonly vippsToken: (target?: VippsTarget) => Promise<SecretToken>
  /**
   * Starts a consent. Send the merchant's browser to `url` and keep `binding` in that browser
   * (answer with `setCookie` as a `Set-Cookie` header, or use {@link MobilePayAuth.beginHandler}),
   * so that only the browser that began the consent can complete it (login CSRF).
   */
  readonly beginConsent: (options?: MerchantConsent.BeginOptions) => Promise<ConsentStart>
  /**
   * Completes a consent from its callback. `binding` is the value `beginConsent` returned, as the
   * browser presented it; a `Request` carrying the binding cookie needs none.
   */
  readonly completeConsent: (
    input: MerchantConsent.CallbackInput,
    options?: { readonly binding?: string }
  ) => Promise<ConsentCompleted>
  /**
   * The begin step as a `(Request) => Promise<Response>` handler: `303` to MobilePay with the
   * binding cookie set, for any framework that speaks Web `Request`/`Response`.
   */
  readonly beginHandler: (options?: MerchantConsent.BeginOptions) => (request: Request) => Promise<Response>
  readonly revoke: (merchant: string) => Promise<MerchantConsent.Revoked>
  readonly merchants: () => Promise<ReadonlyArray<Merchant>>
  /**
   * A `(Request) => Promise<Response>` handler for the redirect URI, for any web framework (see
   * `@mobilepay-auth/adapters` for Node, Express, Fastify and Hono).
   */
  readonly callbackHandler: (options?: CallbackOptions) => (request: Request) => Promise<Response>
  /**
   * `fetch` for MobilePay's APIs: bearer token, gateway and VAT headers, client system version,
   * idempotency key on POST, one refresh-and-retry on 401. Relative URLs resolve against the
   * environment's API base URL.
   */
  readonly fetch: (target: Target, input: string, init?: RequestInit) => Promise<Response>
  /**
   * Opens the store and builds the services now rather than on the first call, rejecting with
   * the typed error (`StoreFailure`, `InvalidConfiguration`) if that fails.
   */
  readonly ready: () => Promise<void>
  /**
   * Starts no new refresh, lets one underway store its grant (up to `shutdownTimeout`), then
   * closes the store.
   */
  readonly dispose: () => Promise<void>
}

const secret = (value: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.isRedacted(value) ? value : Redacted.make(value)

const vippsConfigOptions = ({
  environment,
  clientSecret,
  subscriptionKey,
  ...rest
}: NonNullable<MobilePayAuthOptions["vipps"]>): VippsConfig.Options => ({
  ...rest,
  environment:
    environment === "test"
      ? VippsConfig.test
      : environment === "production"
        ? VippsConfig.production
        : environment,
  clientSecret: secret(clientSecret),
  ...(subscriptionKey === undefined ? {} : { subscriptionKey: secret(subscriptionKey) })
})

// The settings in `MobilePayConfig`'s terms; secrets wrapped in `Redacted` at once.
const configOptions = (options: MobilePayAuthOptions): MobilePay.Options => ({
  environment: options.environment,
  clientId: options.clientId,
  clientSecret: Redacted.isRedacted(options.clientSecret)
    ? options.clientSecret
    : Redacted.make(options.clientSecret),
  ...(options.integrator === undefined
    ? {}
    : {
        integrator: {
          clientId: options.integrator.clientId,
          clientSecret: Redacted.isRedacted(options.integrator.clientSecret)
            ? options.integrator.clientSecret
            : Redacted.make(options.integrator.clientSecret)
        }
      }),
  ...(options.redirectUri === undefined ? {} : { redirectUri: options.redirectUri }),
  ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
  ...(options.clientSystemVersion === undefined ? {} : { clientSystemVersion: options.clientSystemVersion }),
  ...(options.sendVerifierOnRefresh === undefined
    ? {}
    : { sendVerifierOnRefresh: options.sendVerifierOnRefresh }),
  ...(options.requestTimeout === undefined ? {} : { requestTimeout: options.requestTimeout }),
  ...(options.clientAuthentication === undefined
    ? {}
    : { clientAuthentication: options.clientAuthentication }),
  ...(options.encryptionKeys === undefined ? {} : { encryptionKeys: options.encryptionKeys }),
  ...(options.gateway === undefined
    ? {}
    : {
        gateway: {
          clientId: options.gateway.clientId,
          ...(options.gateway.clientSecret === undefined
            ? {}
            : { clientSecret: Redacted.make(options.gateway.clientSecret) })
        }
      }),
  ...(options.shutdownTimeout === undefined
    ? {}
    : { tokenManager: { shutdownTimeout: options.shutdownTimeout } })
})

/**
 * Builds the services once and returns their Promise API. Settings are checked here: a
 * malformed one (an empty secret, a client system version that is not Major.Minor.Build,
 * malformed encryption keys, a durable store without keys) throws `InvalidConfiguration`
 * naming the option, instead of failing the first call. Opening the store happens on the
 * first call, or on {@link MobilePayAuth.ready}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createMobilePayAuth = (options: MobilePayAuthOptions): MobilePayAuth => {
  const settings = configOptions(options)
  const checked = MobilePayConfig.validate(settings)
  if (Either.isLeft(checked)) throw checked.left
  const config = checked.right
  if (options.store !== undefined && Option.isNone(config.encryptionKeys)) {
    throw new AuthError.InvalidConfiguration({
      setting: "encryptionKeys",
      description: "a durable token store needs encryption keys",
      hint: "pass encryptionKeys (id:base64key,...); `mobilepay-auth keygen` makes one"
    })
  }
  const http =
    options.fetch === undefined
      ? FetchHttpClient.layer
      : FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, options.fetch)))
  const services = MobilePay.layer(settings).pipe(
    Layer.provide(options.store ?? TokenStore.layerMemory),
    Layer.provide(http)
  )
  const runtime = ManagedRuntime.make(services)
  type Services = ManagedRuntime.ManagedRuntime.Context<typeof runtime>
  // Vipps MobilePay, when configured: a second runtime over the first one's services, so both
  // share the token manager, the store and the HTTP client.
  const vippsOptions = options.vipps
  const vippsRuntime =
    vippsOptions === undefined
      ? undefined
      : ManagedRuntime.make(
          Layer.effectContext(Effect.map(runtime.runtimeEffect, (rt) => rt.context)).pipe(
            MobilePay.withVipps(vippsConfigOptions(vippsOptions))
          )
        )
  const runVipps = async <A, E>(
    effect: Effect.Effect<A, E, MobilePay.VippsServices | Services>
  ): Promise<A> => {
    if (vippsRuntime === undefined) {
      throw new AuthError.InvalidConfiguration({
        setting: "vipps",
        description: "Vipps MobilePay is not configured",
        hint: "pass the vipps option to createMobilePayAuth"
      })
    }
    const exit = await vippsRuntime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  const vippsAuthentication = (target: VippsTarget) =>
    target.specialized === true
      ? VippsAccessToken.specialized(target.scope === undefined ? {} : { scope: target.scope })
      : VippsAccessToken.standard(
          target.merchantSerialNumber === undefined
            ? {}
            : { merchantSerialNumber: target.merchantSerialNumber }
        )

  // Rejects with the typed error itself (not a wrapper), so callers can switch on `_tag`.
  const run = async <A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> => {
    const exit = await runtime.runPromiseExit(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }

  return {
    integratorToken: (opts = {}) =>
      run(
        Effect.gen(function* () {
          const merchantVat =
            opts.merchantVat === undefined ? Option.none() : Option.some(yield* Vat.parse(opts.merchantVat))
          const auth = yield* IntegratorAuth.IntegratorAuth
          const tokens = yield* auth.accessToken(merchantVat)
          return {
            accessToken: new SecretToken(Redacted.value(tokens.accessToken)),
            tokenType: tokens.tokenType,
            issuedAt: new Date(tokens.issuedAt),
            expiresAt: new Date(tokens.expiresAt),
            scopes: tokens.scopes
          }
        })
      ),
    merchantToken: (merchant) =>
      run(
        Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.accessToken(merchant)).pipe(
          Effect.map((token) => new SecretToken(Redacted.value(token)))
        )
      ),
    beginConsent: (opts) =>
      run(
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const authorization = yield* consent.begin(opts)
          const now = yield* Clock.currentTimeMillis
          return {
            url: authorization.url,
            state: authorization.state,
            expiresAt: new Date(authorization.expiresAt),
            binding: Option.getOrUndefined(Option.map(authorization.binding, Redacted.value)),
            setCookie: ConsentCallback.bindingCookie(authorization, (authorization.expiresAt - now) / 1000)
          }
        })
      ),
    beginHandler: (opts) => () => run(ConsentCallback.begin(opts)),
    completeConsent: (input, opts = {}) =>
      run(
        Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.complete(input, opts)).pipe(
          Effect.map(plainConsented)
        )
      ),
    revoke: (merchant) => run(Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.revoke(merchant))),
    merchants: () =>
      run(
        Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.merchants).pipe(
          Effect.map((list) =>
            list.map(
              (m): Merchant => ({
                merchant: m.merchant,
                merchantVat: Option.getOrUndefined(m.merchantVat),
                scopes: m.scopes,
                accessTokenExpiresAt: new Date(m.accessTokenExpiresAt),
                refreshedAt: new Date(m.refreshedAt)
              })
            )
          )
        )
      ),
    callbackHandler: (opts) => {
      const options = toConsentCallbackOptions(opts)
      return (request) => run(ConsentCallback.handle(request, options))
    },
    vippsToken: (target = {}) =>
      runVipps(
        Effect.flatMap(VippsAccessToken.VippsAccessToken, (t) =>
          t.accessToken(vippsAuthentication(target))
        ).pipe(Effect.map((tokens) => new SecretToken(Redacted.value(tokens.accessToken))))
      ),
    fetch: (target, input, init) =>
      "vipps" in target
        ? runVipps(
            Effect.gen(function* () {
              const client = yield* VippsHttpClient.make(vippsAuthentication(target.vipps))
              const config = yield* VippsConfig.VippsConfig
              const request = yield* AuthHttp.fromWebRequest(
                new Request(new URL(input, config.environment.baseUrl), init)
              )
              return yield* Effect.flatMap(client.execute(request), AuthHttp.toWebResponse)
            })
          )
        : run(
            Effect.gen(function* () {
              const client =
                "merchant" in target
                  ? yield* MobilePayHttpClient.merchant(target.merchant)
                  : yield* MobilePayHttpClient.integrator({
                      merchantVat: yield* Vat.parse(target.merchantVat),
                      bound: target.bound ?? false
                    })
              const request = yield* AuthHttp.fromWebRequest(
                new Request(new URL(input, config.environment.apiBaseUrl), init)
              )
              return yield* Effect.flatMap(client.execute(request), AuthHttp.toWebResponse)
            })
          ),
    ready: () => run(Effect.void),
    dispose: async () => {
      await vippsRuntime?.dispose()
      await runtime.dispose()
    }
  }
}
