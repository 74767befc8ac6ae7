/**
 * The merchant-consent provider's OpenID configuration, read at run time (MobilePay says its
 * endpoints are "prone to change") and validated against the issuer the configuration names,
 * not against the discovery URL: MobilePay serves discovery from one host and signs tokens as
 * another. Cached for a TTL on the Effect `Clock`; a failed fetch is never cached.
 *
 * @since 0.1.0
 */
import { AuthError, Environment } from "@mobilepay-auth/domain"
import { Clock, Context, Duration, Effect, Layer, Option, Ref } from "effect"
import * as oauth from "oauth4webapi"
import { AuthHttp } from "./AuthHttp.js"
import * as OAuth from "./internal/oauth.js"
import { MobilePayConfig } from "./MobilePayConfig.js"

/**
 * The provider's metadata, as oauth4webapi consumes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Metadata = oauth.AuthorizationServer

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
    /**
     * Options for every oauth4webapi call against this provider: the `fetch` bridge (so the
     * bytes go through `AuthHttp`), the insecure-loopback opt-in, and the JWKS cache.
     */
    readonly requestOptions: RequestOptions
  }
}

/**
 * Options passed to oauth4webapi calls.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  readonly [oauth.customFetch]: CustomFetch
  readonly [oauth.allowInsecureRequests]: boolean
  readonly [oauth.jwksCache]: oauth.JWKSCacheInput
}

/**
 * oauth4webapi's `customFetch` signature, for every method and body it sends.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomFetch = (
  url: string,
  options: oauth.CustomFetchOptions<string, URLSearchParams | string | undefined>
) => Promise<Response>

/**
 * Adapts the `AuthHttp` fetch bridge to oauth4webapi's `customFetch`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const customFetchOf =
  (fetch: AuthHttp.Service["fetch"]): CustomFetch =>
  (url, options) =>
    fetch(url, {
      method: options.method,
      headers: options.headers,
      redirect: options.redirect,
      body: options.body ?? null,
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })

const wellKnown = "/.well-known/openid-configuration"

interface Cached {
  readonly metadata: Metadata
  readonly fetchedAt: number
}

/**
 * Fetches and validates the discovery document at `discoveryUrl`, expecting `issuer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fetchMetadata = (
  environment: Pick<Environment.Environment, "discoveryUrl" | "issuer" | "allowInsecureLoopback">,
  options: Pick<RequestOptions, typeof oauth.customFetch | typeof oauth.allowInsecureRequests>
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
    const response = yield* OAuth.attempt(
      () => {
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
          body: undefined
        })
      },
      (e) => OAuth.toEndpointError(e, endpoint)
    )
    const metadata = yield* OAuth.attempt(
      () => oauth.processDiscoveryResponse(issuer, response),
      (e) => OAuth.toEndpointError(e, endpoint)
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
    for (const name of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
      if (metadata[name] === undefined) {
        return yield* Effect.fail(
          new AuthError.ProtocolViolation({ reason: "server-metadata", description: name })
        )
      }
    }
    return metadata
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
    const ttl = Duration.toMillis(options.ttl ?? "1 hour")
    const allowInsecure = config.environment.allowInsecureLoopback && http.allowInsecureLoopback
    const requestOptions: RequestOptions = {
      [oauth.customFetch]: customFetchOf(http.fetch),
      [oauth.allowInsecureRequests]: allowInsecure,
      [oauth.jwksCache]: {}
    }
    const environment = { ...config.environment, allowInsecureLoopback: allowInsecure }
    const cache = yield* Ref.make(Option.none<Cached>())
    const lock = yield* Effect.makeSemaphore(1)

    const fresh = (now: number) =>
      Effect.map(
        Ref.get(cache),
        Option.filter((c) => now - c.fetchedAt < ttl)
      )

    const metadata: Effect.Effect<Metadata, Error> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(fresh(now), (hit) =>
        Option.isSome(hit)
          ? Effect.succeed(hit.value.metadata)
          : lock.withPermits(1)(
              Effect.gen(function* () {
                // Someone may have fetched while we waited for the lock.
                const again = yield* fresh(yield* Clock.currentTimeMillis)
                if (Option.isSome(again)) return again.value.metadata
                const fetched = yield* fetchMetadata(environment, requestOptions)
                yield* Ref.set(
                  cache,
                  Option.some({ metadata: fetched, fetchedAt: yield* Clock.currentTimeMillis })
                )
                return fetched
              })
            )
      )
    )

    return Discovery.of({
      metadata: Effect.withSpan(metadata, "mobilepay_auth.discovery"),
      invalidate: Ref.set(cache, Option.none()),
      requestOptions
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Discovery, never, MobilePayConfig | AuthHttp> =>
  Layer.effect(Discovery, make(options))
