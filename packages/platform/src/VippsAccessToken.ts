/**
 * Vipps MobilePay access tokens, the migration path from MobilePay's PoS V10 and merchant
 * consent. Standard authentication (`POST /accesstoken/get`, credentials in headers, numbers
 * sent as strings) serves ePayment, Recurring, Checkout and partner calls per merchant serial
 * number; specialized authentication (`/miami/v1/token`, OAuth 2.0 client credentials through
 * oauth4webapi) serves management and accounting keys. Both run on the `TokenManager`: one
 * request per key however many callers, refreshed ahead of expiry with jitter.
 *
 * @since 0.1.0
 */
import { HttpClientRequest } from "@effect/platform"
import { AuthError, Token } from "@mobilepay-auth/domain"
import { Clock, Context, Effect, Either, Layer, Option, Redacted } from "effect"
import * as oauth from "oauth4webapi"
import { AuthHttp, parseRetryAfter } from "./AuthHttp.js"
import * as OAuth from "./internal/oauth.js"
import * as Wire from "./internal/vipps.js"
import { type ManagerError, TokenManager, type TokenSource } from "./TokenManager.js"
import { isMerchantSerialNumber, systemHeaders as systemHeadersOf, VippsConfig } from "./VippsConfig.js"

/**
 * Which token: standard authentication for one merchant serial number (or none, for
 * partner-level calls), or specialized authentication with an optional scope.
 *
 * @since 0.1.0
 * @category models
 */
export type Authentication =
  | {
      readonly _tag: "Standard"
      /** `undefined`: the configured one (if any); `null`: none (partner-level calls). */
      readonly merchantSerialNumber: string | null | undefined
    }
  | { readonly _tag: "Specialized"; readonly scope: string | undefined }

/**
 * Standard authentication; `merchantSerialNumber` as {@link Authentication} says.
 *
 * @since 0.1.0
 * @category constructors
 */
export const standard = (
  options: { readonly merchantSerialNumber?: string | null | undefined } = {}
): Authentication => ({ _tag: "Standard", merchantSerialNumber: options.merchantSerialNumber })

/**
 * Specialized authentication (management and accounting keys).
 *
 * @since 0.1.0
 * @category constructors
 */
export const specialized = (options: { readonly scope?: string | undefined } = {}): Authentication => ({
  _tag: "Specialized",
  scope: options.scope
})

/**
 * An {@link Authentication} with the configuration applied: what the token and the API calls
 * made with it carry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly kind: "standard" | "specialized"
  readonly merchantSerialNumber: Option.Option<string>
  readonly scope: Option.Option<string>
  /** The token manager's key: names the grant, never holds a secret. */
  readonly key: string
}

/**
 * What getting a Vipps MobilePay token can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = OAuth.ProtocolError | ManagerError

/**
 * @since 0.1.0
 * @category tags
 */
export class VippsAccessToken extends Context.Tag("@mobilepay-auth/platform/VippsAccessToken")<
  VippsAccessToken,
  VippsAccessToken.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace VippsAccessToken {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** A valid token for `authentication` (default: standard, the configured merchant serial number). */
    readonly accessToken: (authentication?: Authentication) => Effect.Effect<Token.TokenSet, Error>
    /** The configuration applied to `authentication`; a malformed merchant serial number fails. */
    readonly target: (authentication?: Authentication) => Effect.Effect<Target, AuthError.InvalidRequest>
    /** The API rejected this token: drop it from the cache. */
    readonly invalidate: (authentication: Authentication, token: Token.AccessToken) => Effect.Effect<void>
  }
}

const STANDARD_PATH = "/accesstoken/get"
/** A shared token outlives its 24 hours only as a stale record: drop it from the store after two days. */
const RETENTION_MILLIS = 2 * 24 * 3600 * 1000

// Keys name the subscription key without holding it: the first 64 bits of its SHA-256.
const fingerprint = (secret: Redacted.Redacted<string>) =>
  Effect.map(
    Effect.promise(() =>
      globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(Redacted.value(secret)))
    ),
    (digest) => Buffer.from(digest).subarray(0, 8).toString("hex")
  )

const invalidMsn = (value: string) =>
  new AuthError.InvalidRequest({
    code: "invalid_merchant_serial_number",
    description: `merchant serial number ${JSON.stringify(value.slice(0, 20))}: expected digits only`
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<VippsAccessToken.Service, never, VippsConfig | AuthHttp | TokenManager> =
  Effect.gen(function* () {
    const config = yield* VippsConfig
    const http = yield* AuthHttp
    const manager = yield* TokenManager
    const environment = config.environment
    const standardUrl = `${environment.baseUrl}${STANDARD_PATH}`
    const specializedUrl = `${environment.baseUrl}${config.specializedTokenPath}`
    const subscription = yield* Effect.transposeOption(
      Option.map(config.subscriptionKey, (key) => Effect.map(fingerprint(key), (print) => ({ key, print })))
    )
    // Only when an error is built: the secrets a server might echo back, to scrub by value.
    const knownSecrets = () => [
      Redacted.value(config.clientSecret),
      ...Option.match(config.subscriptionKey, { onNone: () => [], onSome: (k) => [Redacted.value(k)] })
    ]
    const systemHeaders = systemHeadersOf(config.system)

    const target = (
      authentication: Authentication = standard()
    ): Effect.Effect<Target, AuthError.InvalidRequest> =>
      Effect.suspend(() => {
        const base = `vipps:${environment.name}:${config.clientId}`
        if (authentication._tag === "Specialized") {
          const scope = Option.fromNullable(authentication.scope).pipe(Option.filter((s) => s.length > 0))
          return Effect.succeed<Target>({
            kind: "specialized",
            merchantSerialNumber: Option.none(),
            scope,
            key: `${base}:specialized:${Option.getOrElse(scope, () => "none")}`
          })
        }
        const msn =
          authentication.merchantSerialNumber === undefined
            ? config.merchantSerialNumber
            : Option.fromNullable(authentication.merchantSerialNumber)
        if (Option.isSome(msn) && !isMerchantSerialNumber(msn.value))
          return Effect.fail(invalidMsn(msn.value))
        const print = Option.match(subscription, { onNone: () => "none", onSome: (s) => s.print })
        return Effect.succeed<Target>({
          kind: "standard",
          merchantSerialNumber: msn,
          scope: Option.none(),
          key: `${base}:standard:${print}:${Option.getOrElse(msn, () => "none")}`
        })
      })

    // Standard: a POST with no body, the credentials in headers; the answer's numbers are strings.
    const requestStandard = (msn: Option.Option<string>) =>
      Effect.gen(function* () {
        const key = yield* Option.match(subscription, {
          onNone: () =>
            Effect.fail(
              new AuthError.InvalidRequest({
                code: "missing_subscription_key",
                description: "standard authentication needs the subscription key (VIPPS_SUBSCRIPTION_KEY)"
              })
            ),
          onSome: (s) => Effect.succeed(s.key)
        })
        const request = HttpClientRequest.post(standardUrl).pipe(
          HttpClientRequest.setHeaders({
            ...systemHeaders,
            client_id: config.clientId,
            client_secret: Redacted.value(config.clientSecret),
            "ocp-apim-subscription-key": Redacted.value(key),
            ...Option.match(msn, { onNone: () => ({}), onSome: (m) => ({ "merchant-serial-number": m }) })
          }),
          HttpClientRequest.acceptJson
        )
        const response = yield* http.client.execute(request)
        const now = yield* Clock.currentTimeMillis
        const text = yield* Effect.orElseSucceed(response.text, () => "")
        const body = Either.getOrUndefined(Either.try(() => JSON.parse(text) as unknown))
        if (response.status !== 200) {
          const retryAfter = Option.getOrUndefined(parseRetryAfter(response.headers["retry-after"], now))
          return yield* Effect.fail(
            Wire.fromTokenErrorResponse(response.status, body, retryAfter, standardUrl, knownSecrets())
          )
        }
        if (body === undefined) {
          return yield* Effect.fail(
            new AuthError.ProtocolViolation({
              reason: /^\s*</.test(text) ? "not-json" : "malformed-json",
              description: standardUrl
            })
          )
        }
        return yield* Wire.decodeStandardToken(body, now)
      })

    // Specialized: OAuth 2.0 client credentials, built and checked by oauth4webapi.
    const as: oauth.AuthorizationServer = { issuer: environment.baseUrl, token_endpoint: specializedUrl }
    const client: oauth.Client = { client_id: config.clientId }
    const bridge = OAuth.bridge(
      http.fetch,
      environment.allowInsecureLoopback && http.allowInsecureLoopback,
      systemHeaders
    )
    const toError = (e: unknown, now: number): OAuth.ProtocolError =>
      e instanceof oauth.ResponseBodyError
        ? Wire.fromTokenErrorResponse(
            e.status,
            e.cause,
            Option.getOrUndefined(parseRetryAfter(e.response.headers.get("retry-after"), now)),
            specializedUrl,
            knownSecrets()
          )
        : OAuth.toEndpointError(e, OAuth.endpointOf(specializedUrl), [], now)
    const requestSpecialized = (scope: Option.Option<string>) =>
      Effect.gen(function* () {
        const response = yield* OAuth.call(
          bridge,
          (options) =>
            oauth.clientCredentialsGrantRequest(
              as,
              client,
              oauth.ClientSecretBasic(Redacted.value(config.clientSecret)),
              Option.match(scope, { onNone: () => ({}), onSome: (s) => ({ scope: s }) }),
              options
            ),
          toError
        )
        const result = yield* OAuth.attempt(
          () => oauth.processClientCredentialsResponse(as, client, response),
          toError
        )
        return yield* Token.decode(result, yield* Clock.currentTimeMillis)
      })

    const source = (t: Target): TokenSource<OAuth.ProtocolError> => ({
      key: t.key,
      kind: `vipps-${t.kind}`,
      subject: Option.match(t.merchantSerialNumber, {
        onNone: () => `vipps ${t.kind} client ${config.clientId}`,
        onSome: (msn) => `merchant serial number ${msn}`
      }),
      persistent: config.shareTokens,
      retentionMillis: RETENTION_MILLIS,
      obtain: () =>
        (t.kind === "standard" ? requestStandard(t.merchantSerialNumber) : requestSpecialized(t.scope)).pipe(
          Effect.map((tokens) => ({ tokens, attributes: {} })),
          Effect.withSpan("mobilepay_auth.vipps_token", {
            attributes: {
              authentication: t.kind,
              merchant_serial_number: Option.getOrElse(t.merchantSerialNumber, () => "none")
            }
          })
        )
    })

    return VippsAccessToken.of({
      target,
      accessToken: (authentication) => Effect.flatMap(target(authentication), (t) => manager.get(source(t))),
      invalidate: (authentication, token) =>
        Effect.flatMap(Effect.either(target(authentication)), (t) =>
          Either.isRight(t) ? manager.invalidate(t.right.key, token) : Effect.void
        )
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<VippsAccessToken, never, VippsConfig | AuthHttp | TokenManager> =
  Layer.effect(VippsAccessToken, make)
