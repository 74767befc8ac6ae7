/**
 * An `HttpClient` for the Vipps MobilePay APIs, as `MobilePayHttpClient` is for MobilePay's:
 * every request gets the bearer token, the subscription key (standard authentication), the
 * merchant serial number, the `Vipps-System-*` headers, and on writes an `Idempotency-Key`
 * generated from `SecureRandom` when absent, the same across every retry of that request. A
 * 401 drops the token, fetches a fresh one and retries once. RFC 7807 problem answers
 * (`application/problem+json`) fail as {@link ApiProblem}, with `extraDetails` and the trace id.
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { AuthError, SecureRandom } from "@mobilepay-auth/domain"
import { Effect, Either, Option, Redacted, Schema } from "effect"
import { AuthHttp, type Error as HttpError, parseRetryAfter } from "./AuthHttp.js"
import { onApiOrigin, originOf } from "./internal/apiOrigin.js"
import * as Wire from "./internal/vipps.js"
import {
  type Authentication,
  type Error as TokenError,
  standard,
  VippsAccessToken
} from "./VippsAccessToken.js"
import { systemHeaders, VippsConfig } from "./VippsConfig.js"

// Server text is shown short, printable, and without anything shaped like a token.
const clean = (text: string): string => {
  // eslint-disable-next-line no-control-regex
  const printable = text.replace(/[\u0000-\u001f\u007f]/g, " ").trim()
  const redacted = printable.replace(/[A-Za-z0-9_\-.~+/=]{40,}/g, "<redacted>")
  return redacted.length > 200 ? `${redacted.slice(0, 200)}...` : redacted
}
const traceIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

/**
 * A Vipps MobilePay API answered with an RFC 7807 problem: `status`, what went wrong (`title`,
 * `detail`), which inputs (`extraDetails`), and the `traceId` to quote to Vipps MobilePay support.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiProblem extends Schema.TaggedError<ApiProblem>("@mobilepay-auth/ApiProblem")("ApiProblem", {
  status: Schema.Number,
  type: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  instance: Schema.optional(Schema.String),
  traceId: Schema.optional(Schema.String),
  extraDetails: Schema.Array(Schema.Struct({ name: Schema.String, reason: Schema.String }))
}) {
  constructor(
    props: {
      readonly status: number
      readonly type?: string | undefined
      readonly title?: string | undefined
      readonly detail?: string | undefined
      readonly instance?: string | undefined
      readonly traceId?: string | undefined
      readonly extraDetails: ReadonlyArray<{ readonly name: string; readonly reason: string }>
    },
    options?: Schema.MakeOptions
  ) {
    const { detail, instance, title, traceId, type, ...rest } = props
    super(
      {
        ...rest,
        ...(type === undefined ? {} : { type: clean(type) }),
        ...(title === undefined ? {} : { title: clean(title) }),
        ...(detail === undefined ? {} : { detail: clean(detail) }),
        ...(instance === undefined ? {} : { instance: clean(instance) }),
        ...(traceId === undefined || !traceIdPattern.test(traceId) ? {} : { traceId }),
        extraDetails: props.extraDetails
          .slice(0, 20)
          .map((d) => ({ name: clean(d.name), reason: clean(d.reason) }))
      },
      options
    )
  }
  override get message() {
    const what = [this.title, this.detail].filter((t) => t !== undefined && t.length > 0).join(": ")
    const details = this.extraDetails.map((d) => `${d.name}: ${d.reason}`).join("; ")
    return (
      `API problem (HTTP ${this.status})${what ? `: ${what}` : ""}${details ? ` [${details}]` : ""}` +
      `${this.traceId ? ` [trace id ${this.traceId}]` : ""}`
    )
  }
}

/**
 * The errors of an API call.
 *
 * @since 0.1.0
 * @category models
 */
export type Error =
  | TokenError
  | HttpError
  | AuthError.Unauthorized
  | AuthError.RateLimited
  | AuthError.InvalidRequest
  | ApiProblem

/** The methods that change something: Vipps MobilePay wants an idempotency key on them. */
const writes: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"])
const IDEMPOTENCY = "idempotency-key"

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/** A version 4 UUID from 16 bytes of `SecureRandom`. */
const uuid = (random: SecureRandom.SecureRandom.Service) =>
  Effect.map(random.bytes(16), (bytes) => {
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
    const h = hex(bytes)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  })

const isProblem = (response: HttpClientResponse.HttpClientResponse) =>
  (response.headers["content-type"] ?? "").toLowerCase().includes("application/problem+json")

const problemOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    Effect.orElseSucceed(response.text, () => ""),
    (text) =>
      Option.flatMap(Either.getRight(Either.try(() => JSON.parse(text) as unknown)), Wire.decodeProblemBody)
  )

/**
 * An API client for `authentication` (default: standard, the configured merchant serial
 * number). Relative URLs (one leading `/`) are resolved against the environment's base URL;
 * any other origin is refused with `InsecureEndpoint` (`"foreign-origin"`) before a credential
 * is attached.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  authentication: Authentication = standard()
): Effect.Effect<
  HttpClient.HttpClient.With<Error>,
  AuthError.InvalidRequest,
  AuthHttp | VippsConfig | VippsAccessToken
> =>
  Effect.gen(function* () {
    const http = yield* AuthHttp
    const config = yield* VippsConfig
    const tokens = yield* VippsAccessToken
    const random = yield* SecureRandom.SecureRandom
    const target = yield* tokens.target(authentication)
    const base = config.environment.baseUrl
    const apiOrigin = originOf(base)
    const subscriptionKey = target.kind === "standard" ? config.subscriptionKey : Option.none()
    const fixed = (): Record<string, string> => ({
      ...systemHeaders(config.system),
      ...Option.match(target.merchantSerialNumber, {
        onNone: () => ({}),
        onSome: (msn) => ({ "merchant-serial-number": msn })
      }),
      ...Option.match(subscriptionKey, {
        onNone: () => ({}),
        onSome: (key) => ({ "ocp-apim-subscription-key": Redacted.value(key) })
      })
    })

    const send = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(tokens.accessToken(authentication), (t) =>
        Effect.map(
          http.client.execute(HttpClientRequest.bearerToken(request, Redacted.value(t.accessToken))),
          (response) => [t.accessToken, response] as const
        )
      )

    const traceIdOf = (response: HttpClientResponse.HttpClientResponse) =>
      isProblem(response)
        ? Effect.map(problemOf(response), (p) => Option.getOrUndefined(Option.flatMap(p, (b) => b.traceId)))
        : Effect.succeed(undefined)

    // Problems become typed errors; any other answer is the caller's to read.
    const checked = (
      request: HttpClientRequest.HttpClientRequest,
      response: HttpClientResponse.HttpClientResponse
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, Error> =>
      Effect.gen(function* () {
        if (response.status < 400 || !isProblem(response)) return response
        const problem = yield* problemOf(response)
        const traceId = Option.getOrUndefined(Option.flatMap(problem, (p) => p.traceId))
        if (response.status === 429) {
          const retryAfterMillis = Option.getOrUndefined(
            parseRetryAfter(
              response.headers["retry-after"],
              yield* Effect.clockWith((c) => c.currentTimeMillis)
            )
          )
          return yield* Effect.fail(
            new AuthError.RateLimited({
              endpoint: new URL(request.url).pathname,
              ...(retryAfterMillis === undefined ? {} : { retryAfterMillis }),
              ...(traceId === undefined ? {} : { traceId })
            })
          )
        }
        return yield* Effect.fail(
          new ApiProblem({
            status: response.status,
            type: Option.getOrUndefined(Option.flatMap(problem, (p) => p.type)),
            title: Option.getOrUndefined(Option.flatMap(problem, (p) => p.title)),
            detail: Option.getOrUndefined(Option.flatMap(problem, (p) => p.detail)),
            instance: Option.getOrUndefined(Option.flatMap(problem, (p) => p.instance)),
            traceId,
            extraDetails: Option.match(problem, { onNone: () => [], onSome: (p) => p.extraDetails })
          })
        )
      })

    const withRetryOn401 = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.gen(function* () {
        const [token, first] = yield* send(request)
        if (first.status !== 401) return yield* checked(request, first)
        yield* tokens.invalidate(authentication, token)
        const [, second] = yield* send(request)
        if (second.status !== 401) return yield* checked(request, second)
        const traceId = yield* traceIdOf(second)
        return yield* Effect.fail(
          new AuthError.Unauthorized({
            method: request.method,
            path: new URL(request.url).pathname,
            ...(traceId === undefined ? {} : { traceId })
          })
        )
      })

    return http.client.pipe(
      // Input mapping runs before AuthHttp's endpoint check, which needs the absolute URL.
      HttpClient.mapRequestInputEffect((request) =>
        Effect.gen(function* () {
          // Refused before a token or the subscription key is attached, if not the API's origin.
          const absolute = yield* onApiOrigin(request, base, apiOrigin)
          const keyed =
            writes.has(absolute.method) && absolute.headers[IDEMPOTENCY] === undefined
              ? HttpClientRequest.setHeader(absolute, IDEMPOTENCY, yield* uuid(random))
              : absolute
          return HttpClientRequest.setHeaders(keyed, fixed())
        })
      ),
      // Prepared once (above), so the key is the same for AuthHttp's retries and the 401 retry.
      HttpClient.transform((_sent, request) => withRetryOn401(request))
    )
  })
