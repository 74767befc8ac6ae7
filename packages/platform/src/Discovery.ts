/**
 * The merchant-consent provider's OpenID configuration, read at run time (MobilePay says its
 * endpoints are "prone to change") and validated against the issuer the configuration names,
 * not against the discovery URL: MobilePay serves discovery from one host and signs tokens as
 * another. Cached for a TTL on the Effect `Clock` (an Effect `Cache`: concurrent callers share
 * one fetch, a failed fetch is never cached).
 *
 * `MerchantConsent` takes this service from context: provide another layer (a fixed document in
 * tests, a different TTL) and every consent call uses it.
 *
 * @since 0.1.0
 */
import { AuthError, Environment } from "@mobilepay-auth/domain"
import { Cache, Context, Duration, Effect, Layer } from "effect"
import * as oauth from "oauth4webapi"
import { AuthHttp, type FetchLike } from "./AuthHttp.js"
import * as OAuth from "./internal/oauth.js"
import { MobilePayConfig } from "./MobilePayConfig.js"

/**
 * The provider's metadata: the fields of its OpenID configuration that the toolkit reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface Metadata {
  readonly issuer: string
  readonly authorization_endpoint: string
  readonly token_endpoint: string
  readonly jwks_uri: string
  readonly revocation_endpoint?: string | undefined
  /** How the client may authenticate at the token endpoint (`client_secret_basic`, ...). */
  readonly token_endpoint_auth_methods_supported?: ReadonlyArray<string> | undefined
  readonly id_token_signing_alg_values_supported?: ReadonlyArray<string> | undefined
  readonly response_modes_supported?: ReadonlyArray<string> | undefined
  readonly scopes_supported?: ReadonlyArray<string> | undefined
  readonly code_challenge_methods_supported?: ReadonlyArray<string> | undefined
  readonly authorization_response_iss_parameter_supported?: boolean | undefined
}

/**
 * What fetching discovery can fail with. A document naming another issuer than the configured
 * one is a `ProtocolViolation` with reason `"issuer-mismatch"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = OAuth.ProtocolError

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long a fetched document is used before it is fetched again. Default 1 hour. */
  readonly ttl?: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Discovery extends Context.Tag("@mobilepay-auth/platform/Discovery")<
  Discovery,
  Discovery.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace Discovery {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The metadata, from the cache while fresh. Concurrent callers share one fetch. */
    readonly metadata: Effect.Effect<Metadata, Error>
    /** Drops the cached document: the next `metadata` fetches again. */
    readonly invalidate: Effect.Effect<void>
  }
}

const wellKnown = "/.well-known/openid-configuration"

const strings = (value: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined

/**
 * Fetches and validates the discovery document at `discoveryUrl`, expecting `issuer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fetchMetadata = (
  environment: Pick<Environment.Environment, "discoveryUrl" | "issuer" | "allowInsecureLoopback">,
  fetch: Effect.Effect<FetchLike>
): Effect.Effect<Metadata, Error> =>
  Effect.gen(function* () {
    const endpoint = OAuth.endpointOf(environment.discoveryUrl)
    const parse = (text: string) =>
      Effect.try({
        try: () => new URL(text),
        catch: () => new AuthError.InvalidRequest({ code: "invalid_configuration", description: "not a URL" })
      })
    const discoveryUrl = yield* parse(environment.discoveryUrl)
    const issuer = yield* parse(environment.issuer)
    if (!Environment.allowsEndpoint(environment, discoveryUrl)) {
      return yield* Effect.fail(new AuthError.InsecureEndpoint({ url: endpoint }))
    }
    const via = OAuth.bridge(fetch, environment.allowInsecureLoopback)
    const response = yield* OAuth.call(
      via,
      (options) => {
        // oauth4webapi appends the well-known path to what it is given; MobilePay's documented
        // URLs already carry it, so strip it. Any other URL is fetched as it is, still via the bridge.
        if (discoveryUrl.pathname.endsWith(wellKnown) && discoveryUrl.search === "") {
          const base = new URL(discoveryUrl.href)
          base.pathname = base.pathname.slice(0, -wellKnown.length) || "/"
          return oauth.discoveryRequest(base, { ...options, algorithm: "oidc" })
        }
        return options[oauth.customFetch](discoveryUrl.href, {
          method: "GET",
          headers: { accept: "application/json" },
          redirect: "manual",
          body: undefined,
          signal: options.signal
        })
      },
      OAuth.endpointError(endpoint)
    )
    const metadata = yield* OAuth.attempt(
      () => oauth.processDiscoveryResponse(issuer, response),
      OAuth.endpointError(endpoint)
    )
    // Every endpoint the document names must be one this environment may talk to.
    for (const name of [
      "authorization_endpoint",
      "token_endpoint",
      "jwks_uri",
      "revocation_endpoint"
    ] as const) {
      const value = metadata[name]
      if (value === undefined) continue
      const url = yield* parse(value).pipe(
        Effect.mapError(
          () => new AuthError.ProtocolViolation({ reason: "server-metadata", description: name })
        )
      )
      if (!Environment.allowsEndpoint(environment, url)) {
        return yield* Effect.fail(new AuthError.InsecureEndpoint({ url: OAuth.endpointOf(value) }))
      }
    }
    const authorization_endpoint = metadata.authorization_endpoint
    const token_endpoint = metadata.token_endpoint
    const jwks_uri = metadata.jwks_uri
    if (authorization_endpoint === undefined || token_endpoint === undefined || jwks_uri === undefined) {
      const missing =
        authorization_endpoint === undefined
          ? "authorization_endpoint"
          : token_endpoint === undefined
            ? "token_endpoint"
            : "jwks_uri"
      return yield* Effect.fail(
        new AuthError.ProtocolViolation({ reason: "server-metadata", description: missing })
      )
    }
    const out: Metadata = {
      issuer: metadata.issuer,
      authorization_endpoint,
      token_endpoint,
      jwks_uri,
      revocation_endpoint: metadata.revocation_endpoint,
      token_endpoint_auth_methods_supported: strings(metadata.token_endpoint_auth_methods_supported),
      id_token_signing_alg_values_supported: strings(metadata.id_token_signing_alg_values_supported),
      response_modes_supported: strings(metadata.response_modes_supported),
      scopes_supported: strings(metadata.scopes_supported),
      code_challenge_methods_supported: strings(metadata.code_challenge_methods_supported),
      authorization_response_iss_parameter_supported:
        metadata.authorization_response_iss_parameter_supported === true ? true : undefined
    }
    return out
  })

/**
 * A discovery service for the configured environment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Discovery.Service, never, MobilePayConfig | AuthHttp> =>
  Effect.gen(function* () {
    const config = yield* MobilePayConfig
    const http = yield* AuthHttp
    const ttl = Duration.decode(options.ttl ?? "1 hour")
    const environment = {
      ...config.environment,
      allowInsecureLoopback: config.environment.allowInsecureLoopback && http.allowInsecureLoopback
    }
    const cache = yield* Cache.make({
      capacity: 1,
      timeToLive: ttl,
      lookup: (_: "metadata") => fetchMetadata(environment, http.fetch)
    })
    return Discovery.of({
      // A failure is not kept: the next caller fetches again.
      metadata: Effect.tapError(cache.get("metadata"), () => cache.invalidate("metadata")),
      invalidate: cache.invalidate("metadata")
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Discovery, never, MobilePayConfig | AuthHttp> =>
  Layer.effect(Discovery, make(options))

/**
 * A fixed document, for tests and for providers whose metadata is known in advance.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (metadata: Metadata): Layer.Layer<Discovery> =>
  Layer.succeed(Discovery, Discovery.of({ metadata: Effect.succeed(metadata), invalidate: Effect.void }))

/**
 * The document as oauth4webapi reads it.
 *
 * @internal
 */
export const authorizationServer = (m: Metadata): oauth.AuthorizationServer => ({
  issuer: m.issuer,
  authorization_endpoint: m.authorization_endpoint,
  token_endpoint: m.token_endpoint,
  jwks_uri: m.jwks_uri,
  ...(m.revocation_endpoint === undefined ? {} : { revocation_endpoint: m.revocation_endpoint }),
  ...(m.id_token_signing_alg_values_supported === undefined
    ? {}
    : { id_token_signing_alg_values_supported: [...m.id_token_signing_alg_values_supported] }),
  ...(m.authorization_response_iss_parameter_supported === undefined
    ? {}
    : { authorization_response_iss_parameter_supported: m.authorization_response_iss_parameter_supported })
})
