/**
 * Integrator authentication for PoS V10: OAuth 2.0 client credentials with HTTP Basic
 * client authentication, optionally bound to one merchant with `merchant_vat`. Tokens are
 * cached and refreshed by the `TokenManager`, keyed by (environment, client id, merchant VAT
 * or none), so a burst of callers makes one token request.
 *
 * @since 0.1.0
 */
import { AuthError, Token, type Vat } from "@mobilepay-auth/domain"
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import * as oauth from "oauth4webapi"
import { AuthHttp } from "./AuthHttp.js"
import * as OAuth from "./internal/oauth.js"
import { MobilePayConfig } from "./MobilePayConfig.js"
import { type ManagerError, TokenManager, type TokenSource } from "./TokenManager.js"

/**
 * What getting an integrator token can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = OAuth.ProtocolError | ManagerError

/**
 * @since 0.1.0
 * @category tags
 */
export class IntegratorAuth extends Context.Tag("@mobilepay-auth/platform/IntegratorAuth")<
  IntegratorAuth,
  IntegratorAuth.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace IntegratorAuth {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * A valid token: bound to the merchant when `merchantVat` is given (the token then carries
     * the `merchant_vat` claim), else unbound (API calls must name the merchant in a header).
     */
    readonly accessToken: (merchantVat?: Option.Option<Vat.Vat>) => Effect.Effect<Token.TokenSet, Error>
    /** The API rejected this token: drop it from the cache. */
    readonly invalidate: (
      merchantVat: Option.Option<Vat.Vat>,
      token: Token.AccessToken
    ) => Effect.Effect<void>
  }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<IntegratorAuth.Service, never, MobilePayConfig | AuthHttp | TokenManager> =
  Effect.gen(function* () {
    const config = yield* MobilePayConfig
    const http = yield* AuthHttp
    const manager = yield* TokenManager
    const environment = config.environment
    const as: oauth.AuthorizationServer = {
      issuer: environment.integratorIssuer,
      token_endpoint: environment.integratorTokenUrl
    }
    const client: oauth.Client = { client_id: config.integrator.clientId }
    const endpoint = OAuth.endpointOf(environment.integratorTokenUrl)
    const gatewayHeader = Option.filter(config.gateway, () => config.gatewayOnTokenCall).pipe(
      Option.map((g): Record<string, string> => ({ "x-ibm-client-id": g.clientId })),
      Option.getOrElse(() => ({}))
    )
    const bridge = OAuth.bridge(
      http.fetch,
      environment.allowInsecureLoopback && http.allowInsecureLoopback,
      gatewayHeader
    )

    // One request to the token endpoint: oauth4webapi builds and checks it, AuthHttp carries it.
    const request = (vat: Option.Option<Vat.Vat>) =>
      Effect.gen(function* () {
        const response = yield* OAuth.call(
          bridge,
          (options) =>
            oauth.clientCredentialsGrantRequest(
              as,
              client,
              oauth.ClientSecretBasic(Redacted.value(config.integrator.clientSecret)),
              Option.match(vat, { onNone: () => ({}), onSome: (v) => ({ merchant_vat: v }) }),
              options
            ),
          OAuth.endpointError(endpoint)
        )
        const result = yield* OAuth.attempt(
          () => oauth.processClientCredentialsResponse(as, client, response),
          OAuth.endpointError(endpoint)
        )
        const tokens = yield* Token.decode(result, yield* Clock.currentTimeMillis)
        return { tokens, attributes: {} }
      }).pipe(
        Effect.withSpan("mobilepay_auth.integrator_token", { attributes: { bound: Option.isSome(vat) } })
      )

    const keyOf = (vat: Option.Option<Vat.Vat>) =>
      `integrator:${environment.name}:${config.integrator.clientId}:${Option.getOrElse(vat, () => "none")}`

    const source = (
      vat: Option.Option<Vat.Vat>
    ): TokenSource<OAuth.ProtocolError | AuthError.ProtocolViolation> => ({
      key: keyOf(vat),
      kind: "integrator",
      persistent: false,
      obtain: () => request(vat)
    })

    // One token effect per merchant VAT (and one unbound), built once: a cache hit is the
    // manager's own path plus a map lookup.
    const unbound = manager.get(source(Option.none()))
    const bound = new Map<string, Effect.Effect<Token.TokenSet, Error>>()
    const tokenOf = (vat: Option.Option<Vat.Vat>): Effect.Effect<Token.TokenSet, Error> => {
      if (Option.isNone(vat)) return unbound
      let token = bound.get(vat.value)
      if (token === undefined) {
        if (bound.size >= 10_000) bound.clear()
        token = manager.get(source(vat))
        bound.set(vat.value, token)
      }
      return token
    }

    return IntegratorAuth.of({
      accessToken: (vat = Option.none()) => tokenOf(vat),
      invalidate: (vat, token) => manager.invalidate(keyOf(vat), token)
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<IntegratorAuth, never, MobilePayConfig | AuthHttp | TokenManager> =
  Layer.effect(IntegratorAuth, make)
