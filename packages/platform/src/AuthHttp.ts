/**
 * The one HTTP path of the toolkit. Every protocol request (oauth4webapi's included, through
 * the `fetch` bridge) and every API call passes through this client, which refuses insecure
 * endpoints, bounds each attempt with a timeout, and retries transient failures (connection
 * errors, timeouts, 5xx, 429) with exponential backoff, jitter and `Retry-After`.
 *
 * @since 0.1.0
 */
import {
  FetchHttpClient,
  Headers as HttpHeaders,
  HttpBody,
  HttpClient,
  HttpClientRequest,
  type HttpClientResponse,
  HttpMethod
} from "@effect/platform"
import { AuthError, Environment } from "@mobilepay-auth/domain"
import { Clock, Context, Duration, Effect, Layer, Option, Random, Runtime, Stream } from "effect"
import * as Endpoint from "./internal/endpoint.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Plain `http:` to loopback addresses (the offline sandbox, tests). Off by default. */
  readonly allowInsecureLoopback?: boolean
  /** Per attempt. Default 10 seconds. */
  readonly timeout?: Duration.DurationInput
  /** Retries after the first attempt. Default 2, at most 5 (MobilePay's guidance). */
  readonly maxRetries?: number
  /** Default 200 ms, doubling per retry. */
  readonly baseBackoff?: Duration.DurationInput
  /** Default 5 seconds; a longer `Retry-After` is honoured up to `maxRetryAfter`. */
  readonly maxBackoff?: Duration.DurationInput
  /** A `Retry-After` longer than this is not waited for: the 429 is returned. Default 30 s. */
  readonly maxRetryAfter?: Duration.DurationInput
}

/**
 * The errors of the hardened client.
 *
 * @since 0.1.0
 * @category models
 */
export type Error = AuthError.Transport | AuthError.InsecureEndpoint

/**
 * @since 0.1.0
 * @category models
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * @since 0.1.0
 * @category tags
 */
export class AuthHttp extends Context.Tag("@mobilepay-auth/platform/AuthHttp")<
  AuthHttp,
  AuthHttp.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace AuthHttp {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly client: HttpClient.HttpClient.With<Error>
    /**
     * A WHATWG `fetch` over `client` (for oauth4webapi's `customFetch`) that runs each request
     * on the calling fiber's runtime: its span is the caller's child, and the caller's tracer,
     * annotations and services apply. Get one per call; do not keep it.
     */
    readonly fetch: Effect.Effect<FetchLike>
    readonly allowInsecureLoopback: boolean
  }
}

/**
 * Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseRetryAfter: (value: string | null | undefined, now: number) => Option.Option<number> =
  Endpoint.parseRetryAfter

/** Request headers that carry secrets besides `authorization`: never recorded on spans. */
const secretHeaders = ["x-ibm-client-secret", "client_secret", "ocp-apim-subscription-key"]

// Node's TLS error codes for a certificate that does not validate (its chain, name or dates).
const certificateCode = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|ERR_TLS|ERR_SSL/

/**
 * True when a request failed because the server's certificate did not validate. `fetch` wraps
 * the socket's error (`TypeError: fetch failed` with a `cause`); Node's own client does not.
 */
const isCertificateFailure = (error: unknown): boolean => {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 4; depth++) {
    const code = (e as { readonly code?: unknown }).code
    if (typeof code === "string" && certificateCode.test(code)) return true
    e = (e as { readonly cause?: unknown }).cause
  }
  return false
}

const isRedirect = (status: number) => status >= 300 && status < 400 && status !== 304

/**
 * Why a URL may not be requested, if it may not: a user name or password in it (a credential
 * in a URL ends up in logs, and `fetch` refuses it anyway), or a scheme or host the environment
 * does not allow.
 */
const refusal = (
  env: { readonly allowInsecureLoopback: boolean },
  url: URL | undefined
): AuthError.InsecureEndpoint["reason"] | undefined => {
  if (url === undefined) return "insecure"
  if (url.username !== "" || url.password !== "") return "credentials"
  return Environment.allowsEndpoint(env, url) ? undefined : "insecure"
}

/**
 * Runs a request with `redirect: "manual"` when the client underneath is `fetch`, so a 3xx comes
 * back to us as it is (and is refused) instead of being followed to an unchecked URL. Other
 * clients (Node's `http`, undici) do not follow redirects in the first place.
 */
const manualRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(FetchHttpClient.Fetch), (custom) => {
    const inner = Option.getOrElse(custom, () => globalThis.fetch)
    const manual: typeof globalThis.fetch = (input, init) => inner(input, { ...init, redirect: "manual" })
    return Effect.provideService(effect, FetchHttpClient.Fetch, manual)
  })

/**
 * Hardens any `HttpClient`: endpoint check, timeout, bounded retries of transient failures.
 * The same request object is re-sent on retry, so its headers (an idempotency key) stay.
 *
 * @since 0.1.0
 * @category constructors
 */
export const harden = (
  client: HttpClient.HttpClient,
  options: Options = {}
): HttpClient.HttpClient.With<Error> => {
  const timeout = Duration.decode(options.timeout ?? "10 seconds")
  const maxRetries = Math.max(0, Math.min(5, Math.round(options.maxRetries ?? 2)))
  const base = Duration.toMillis(options.baseBackoff ?? "200 millis")
  const cap = Duration.toMillis(options.maxBackoff ?? "5 seconds")
  const maxRetryAfter = Duration.toMillis(options.maxRetryAfter ?? "30 seconds")
  const env = { allowInsecureLoopback: options.allowInsecureLoopback ?? false }

  const delay = (attempt: number, retryAfter: Option.Option<number>) =>
    Effect.map(Random.next, (r) => {
      const exponential = Math.min(cap, base * 2 ** attempt)
      const jittered = exponential / 2 + (exponential / 2) * r
      return Math.max(
        jittered,
        Option.getOrElse(retryAfter, () => 0)
      )
    })

  return client.pipe(
    HttpClient.mapRequestEffect((request) =>
      Effect.suspend(() => {
        const url = (() => {
          try {
            return new URL(request.url)
          } catch {
            return undefined
          }
        })()
        const refused = refusal(env, url)
        return refused === undefined
          ? Effect.succeed(request)
          : Effect.fail(
              new AuthError.InsecureEndpoint({ url: Endpoint.endpointOf(request.url), reason: refused })
            )
      })
    ),
    HttpClient.transform((effect, request) => {
      const endpoint = Endpoint.endpointOf(request.url)
      const attempt = (n: number): Effect.Effect<HttpClientResponse.HttpClientResponse, Error> =>
        manualRedirects(effect).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => new AuthError.Transport({ reason: "timeout", endpoint })
          }),
          Effect.catchTags({
            RequestError: (e) =>
              Effect.fail(
                new AuthError.Transport({
                  reason: isCertificateFailure(e.cause) ? "tls" : "connection",
                  endpoint
                })
              ),
            ResponseError: (e) => Effect.succeed(e.response)
          }),
          Effect.flatMap((response) => {
            // A redirect is never followed: its target was not checked, and a token endpoint,
            // JWKS or API that redirects is either misconfigured or under someone else's control.
            if (isRedirect(response.status)) {
              return Effect.fail(new AuthError.InsecureEndpoint({ url: endpoint, reason: "redirect" }))
            }
            const retriable = response.status >= 500 || response.status === 429
            if (!retriable || n >= maxRetries) return Effect.succeed(response)
            return Effect.gen(function* () {
              const now = yield* Clock.currentTimeMillis
              const retryAfter = parseRetryAfter(response.headers["retry-after"], now)
              if (Option.isSome(retryAfter) && retryAfter.value > maxRetryAfter) return response
              yield* Effect.sleep(Duration.millis(yield* delay(n, retryAfter)))
              return yield* attempt(n + 1)
            })
          }),
          Effect.catchIf(
            (e): e is AuthError.Transport => e._tag === "Transport" && e.reason !== "tls" && n < maxRetries,
            () =>
              Effect.flatMap(delay(n, Option.none()), (ms) =>
                Effect.zipRight(Effect.sleep(Duration.millis(ms)), attempt(n + 1))
              )
          )
        )
      return attempt(0)
    }),
    // The transform above already maps these; this narrows the error type.
    HttpClient.transformResponse((effect) =>
      Effect.catchTags(effect, {
        RequestError: (e) =>
          Effect.fail(
            new AuthError.Transport({ reason: "connection", endpoint: Endpoint.endpointOf(e.request.url) })
          ),
        ResponseError: (e) => Effect.succeed(e.response)
      })
    ),
    // The HTTP client's spans record request headers; only `authorization` and a few others are
    // redacted by default, so the gateway secret (and Vipps's `client_secret`) would be traced.
    HttpClient.transformResponse((effect) =>
      Effect.locallyWith(effect, HttpHeaders.currentRedactedNames, (names) => [...names, ...secretHeaders])
    )
  )
}

/**
 * A WHATWG `Request` as an Effect `HttpClientRequest` (method, URL, headers, body).
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromWebRequest = (
  request: Request
): Effect.Effect<HttpClientRequest.HttpClientRequest, AuthError.InvalidRequest> =>
  Effect.gen(function* () {
    const method = request.method.toUpperCase()
    if (!HttpMethod.isHttpMethod(method)) {
      return yield* Effect.fail(new AuthError.InvalidRequest({ code: "invalid_method", description: method }))
    }
    const outgoing = HttpClientRequest.make(method)(request.url, {
      headers: Object.fromEntries(request.headers.entries())
    })
    if (request.body === null) return outgoing
    const body = new Uint8Array(yield* Effect.promise(() => request.arrayBuffer()))
    return HttpClientRequest.setBody(
      outgoing,
      HttpBody.uint8Array(body, request.headers.get("content-type") ?? undefined)
    )
  })

/**
 * An Effect `HttpClientResponse` as a WHATWG `Response` (status, headers, body).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toWebResponse = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number = Number.POSITIVE_INFINITY
): Effect.Effect<Response, AuthError.ProtocolViolation> =>
  Effect.map(readBounded(response, maxBytes), (bytes) => {
    const copy = new Uint8Array(bytes.length)
    copy.set(bytes)
    return new Response(response.status === 204 || response.status === 304 ? null : copy, {
      status: response.status,
      headers: new Headers(Object.entries(response.headers))
    })
  })

/**
 * The largest protocol response body read through the `fetch` bridge (discovery, JWKS, token and
 * revocation answers): 1 MiB, a hundred times a real one. A larger body is a `ProtocolViolation`
 * with reason `"response-too-large"`, read no further.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxResponseBytes = 1024 * 1024

const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<Uint8Array, AuthError.ProtocolViolation> =>
  Effect.suspend(() => {
    const tooLarge = new AuthError.ProtocolViolation({
      reason: "response-too-large",
      description: `over ${maxBytes} bytes`
    })
    const declared = Number(response.headers["content-length"] ?? "0")
    if (declared > maxBytes) return Effect.fail(tooLarge)
    const chunks: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > maxBytes) return Effect.fail(tooLarge)
        chunks.push(chunk)
        return Effect.void
      }),
      // A body that breaks off is an empty body: oauth4webapi then reports what it expected.
      Effect.catchTag("ResponseError", () => Effect.sync(() => chunks.splice(0))),
      Effect.map(() => {
        const out = new Uint8Array(size > maxBytes ? 0 : chunks.reduce((n, c) => n + c.length, 0))
        let offset = 0
        for (const chunk of chunks) {
          out.set(chunk, offset)
          offset += chunk.length
        }
        return out
      })
    )
  })

const hasCredentials = (input: string | URL | Request): boolean => {
  try {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url)
    return url.username !== "" || url.password !== ""
  } catch {
    return false
  }
}

/**
 * A `fetch` that runs every request through `client`. Failures reject with the toolkit's
 * tagged errors, so callers of oauth4webapi can map them back.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toFetch = (
  client: HttpClient.HttpClient.With<Error>,
  runtime: Runtime.Runtime<never>
): FetchLike => {
  const run = Runtime.runPromise(runtime)
  return (input, init) =>
    run(
      Effect.try({
        try: () => new Request(input, init),
        // `Request` refuses a URL with credentials; any other refusal is a URL we would not send to.
        catch: () =>
          new AuthError.InsecureEndpoint({
            url: Endpoint.endpointOf(
              typeof input === "string" ? input : input instanceof URL ? input.href : input.url
            ),
            reason: hasCredentials(input) ? "credentials" : "insecure"
          })
      }).pipe(
        Effect.flatMap(fromWebRequest),
        Effect.flatMap((request) =>
          Effect.flatMap(client.execute(request), (r) => toWebResponse(r, maxResponseBytes))
        )
      ),
      init?.signal ? { signal: init.signal } : undefined
    )
}

/**
 * The hardened client over the `HttpClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<AuthHttp.Service, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = harden(yield* HttpClient.HttpClient, options)
    return AuthHttp.of({
      client,
      fetch: Effect.map(Effect.runtime<never>(), (runtime) => toFetch(client, runtime)),
      allowInsecureLoopback: options.allowInsecureLoopback ?? false
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<AuthHttp, never, HttpClient.HttpClient> =>
  Layer.effect(AuthHttp, make(options))
