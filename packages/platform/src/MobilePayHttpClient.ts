/**
 * An `HttpClient` for MobilePay's APIs: every request gets the bearer token from a token
 * source, the gateway headers when configured, the merchant VAT header when the token is not
 * bound to the merchant, the client system version, and on POST an idempotency key that stays
 * the same across every retry of that request. A 401 drops the token, fetches a fresh one and
 * retries exactly once; a second 401 is `Unauthorized`.
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { AuthError, type Token, type Vat } from "@mobilepay-auth/domain"
import { Effect, Option, Redacted } from "effect"
import { AuthHttp, type Error as HttpError } from "./AuthHttp.js"
import { onApiOrigin, originOf } from "./internal/apiOrigin.js"
import { IntegratorAuth } from "./IntegratorAuth.js"
import { MerchantConsent } from "./MerchantConsent.js"
import { MobilePayConfig } from "./MobilePayConfig.js"

/**
 * Where the bearer token of an API call comes from.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenSource<E> {
  readonly token: Effect.Effect<Token.AccessToken, E>
  /** The API rejected this token: drop it, so the next `token` is a fresh one. */
  readonly invalidate: (token: Token.AccessToken) => Effect.Effect<void>
  /** Sent as `x-mobilepay-merchant-vat-number` (for tokens not bound to the merchant). */
  readonly merchantVat: Option.Option<string>
}

/**
 * The errors of an API call besides the token source's own.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = HttpError | AuthError.Unauthorized

/** The header MobilePay keys idempotent POSTs by (at most 36 characters: a UUID). */
const IDEMPOTENCY = "x-mobilepay-idempotency-key"

/**
 * An API client over a token source. Relative URLs (starting with one `/`) are resolved against
 * the environment's API base URL; a URL on any other origin is refused with `InsecureEndpoint`
 * (reason `"foreign-origin"`) before a token is fetched or a header attached.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(
  source: TokenSource<E>
): Effect.Effect<HttpClient.HttpClient.With<E | Error>, never, AuthHttp | MobilePayConfig> =>
  Effect.gen(function* () {
    const http = yield* AuthHttp
    const config = yield* MobilePayConfig
    const fixed: Record<string, string> = {
      "x-mobilepay-client-system-version": config.clientSystemVersion,
      ...Option.match(config.gateway, {
        onNone: () => ({}),
        onSome: (g) => ({
          "x-ibm-client-id": g.clientId,
          ...Option.match(g.clientSecret, {
            onNone: () => ({}),
            onSome: (secret) => ({ "x-ibm-client-secret": Redacted.value(secret) })
          })
        })
      }),
      ...Option.match(source.merchantVat, {
        onNone: () => ({}),
        onSome: (vat) => ({ "x-mobilepay-merchant-vat-number": vat })
      })
    }
    const base = config.environment.apiBaseUrl.replace(/\/$/, "")
    const apiOrigin = originOf(base)

    const send = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(source.token, (token) =>
        Effect.map(
          http.client.execute(HttpClientRequest.bearerToken(request, Redacted.value(token))),
          (response) => [token, response] as const
        )
      )

    const withRetryOn401 = (
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | Error> =>
      Effect.gen(function* () {
        const [token, first] = yield* send(request)
        if (first.status !== 401) return first
        yield* source.invalidate(token)
        const [, second] = yield* send(request)
        if (second.status !== 401) return second
        return yield* Effect.fail(
          new AuthError.Unauthorized({ method: request.method, path: new URL(request.url).pathname })
        )
      })

    return http.client.pipe(
      // Input mapping runs before AuthHttp's endpoint check, which needs the absolute URL.
      HttpClient.mapRequestInputEffect((request) =>
        Effect.gen(function* () {
          const absolute = yield* onApiOrigin(request, base, apiOrigin)
          const keyed =
            absolute.method === "POST" && absolute.headers[IDEMPOTENCY] === undefined
              ? HttpClientRequest.setHeader(absolute, IDEMPOTENCY, globalThis.crypto.randomUUID())
              : absolute
          return HttpClientRequest.setHeaders(keyed, fixed)
        })
      ),
      // The request is prepared once (above), then sent with a token, and once more after a 401.
      HttpClient.transform((_sent, request) => withRetryOn401(request))
    )
  })

/**
 * An API client on integrator tokens. With `bound`, the token is bound to `merchantVat` (the
 * `merchant_vat` claim); without, an unbound token is used and the VAT goes in the header.
 *
 * @since 0.1.0
 * @category constructors
 */
export const integrator = (options: { readonly merchantVat: Vat.Vat; readonly bound: boolean }) =>
  Effect.flatMap(IntegratorAuth, (auth) => {
    const vat = options.bound ? Option.some(options.merchantVat) : Option.none()
    return make({
      token: Effect.map(auth.accessToken(vat), (t) => t.accessToken),
      invalidate: (token) => auth.invalidate(vat, token),
      merchantVat: options.bound ? Option.none() : Option.some(options.merchantVat)
    })
  })

/**
 * An API client on behalf of a merchant who gave consent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const merchant = (merchantId: string) =>
  Effect.flatMap(MerchantConsent, (consent) => Effect.flatMap(consent.tokenSource(merchantId), make))
