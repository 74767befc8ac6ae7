/**
 * Vipps MobilePay's wire formats, decoded at the edge: the standard token response (numbers
 * sent as strings), Azure AD error bodies (`error, error_description, error_codes, trace_id`),
 * the API gateway's own `{ statusCode, message }` answers, and RFC 7807 problem details.
 * Server text is kept short and scrubbed by the error classes; bodies never reach a message.
 *
 * @internal
 */
import { AuthError, type Token } from "@mobilepay-auth/domain"
import { Either, Option, ParseResult, Schema } from "effect"

/** A count of seconds as Vipps MobilePay sends it: a string of digits (or, leniently, a number). */
const Seconds = (max: number) =>
  Schema.Union(
    Schema.Int,
    Schema.String.pipe(Schema.pattern(/^\d{1,12}$/), Schema.compose(Schema.NumberFromString))
  ).pipe(Schema.compose(Schema.Int), Schema.between(0, max))

/** 7 days: Vipps MobilePay's tokens live 1 h (test) or 24 h (production); anything longer is wrong. */
const maxLifetime = 7 * 24 * 3600
/** Epoch seconds up to the year 2100. */
const maxEpochSeconds = 4_102_444_800

/**
 * The response of `POST /accesstoken/get`.
 *
 * @internal
 */
export const StandardTokenResponse = Schema.Struct({
  token_type: Schema.String.pipe(
    Schema.filter((t) => t.toLowerCase() === "bearer", { message: () => "token_type must be Bearer" })
  ),
  expires_in: Seconds(maxLifetime).pipe(Schema.greaterThan(0)),
  ext_expires_in: Schema.optional(Seconds(maxLifetime)),
  expires_on: Schema.optional(Seconds(maxEpochSeconds)),
  not_before: Schema.optional(Seconds(maxEpochSeconds)),
  resource: Schema.optional(Schema.String),
  access_token: Schema.Redacted(Schema.NonEmptyString)
})

const decodeStandard = Schema.decodeUnknownEither(StandardTokenResponse)

/**
 * A token set from a standard token response that arrived at `now` (epoch ms). A body that
 * does not conform (a bad number string, a missing token) is `ProtocolViolation`, naming the
 * field and the kind of problem, never the value.
 *
 * @internal
 */
export const decodeStandardToken = (
  body: unknown,
  now: number
): Either.Either<Token.TokenSet, AuthError.ProtocolViolation> =>
  Either.match(decodeStandard(body), {
    onLeft: (error) =>
      Either.left(
        new AuthError.ProtocolViolation({
          reason: "token-response",
          description: ParseResult.ArrayFormatter.formatErrorSync(error)
            .map((issue) => `${issue.path.join(".") || "body"}: ${issue._tag}`)
            .join("; ")
            .slice(0, 300)
        })
      ),
    onRight: (r) =>
      Either.right({
        accessToken: r.access_token,
        tokenType: "Bearer",
        issuedAt: now,
        expiresAt: now + r.expires_in * 1000,
        refreshToken: Option.none(),
        idToken: Option.none(),
        scopes: []
      })
  })

const AzureAdError = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optional(Schema.String),
  error_codes: Schema.optional(Schema.Array(Schema.Number)),
  trace_id: Schema.optional(Schema.String)
})
const decodeAzureAd = Schema.decodeUnknownOption(AzureAdError)

/** The API gateway's own answer, e.g. for a missing or wrong subscription key. */
const GatewayError = Schema.Struct({ statusCode: Schema.Number, message: Schema.optional(Schema.String) })
const decodeGateway = Schema.decodeUnknownOption(GatewayError)

/**
 * Azure AD (AADSTS) codes that mean the credentials themselves are wrong, whatever `error`
 * says: unknown application, invalid or expired secret, application not found in the tenant.
 */
const credentialCodes: ReadonlySet<number> = new Set([70001, 700016, 7000215, 7000222, 7000216])

/**
 * Maps an error answer of a Vipps MobilePay token endpoint to the toolkit's typed errors,
 * keeping `trace_id` for support cases: wrong keys are `InvalidClient`, a 429 is
 * `RateLimited`, a 5xx is `Transport`, other OAuth codes as MobilePay's map.
 *
 * @internal
 */
export const fromTokenErrorResponse = (
  status: number,
  body: unknown,
  retryAfterMillis: number | undefined,
  endpoint: string,
  knownSecrets: ReadonlyArray<string> = []
): AuthError.OAuthEndpointError => {
  const azure = decodeAzureAd(body)
  const traceId = Option.flatMap(azure, (a) => Option.fromNullable(a.trace_id)).pipe(
    Option.map((traceId) => ({ traceId })),
    Option.getOrElse(() => ({}))
  )
  if (status === 429) {
    return new AuthError.RateLimited({
      endpoint,
      ...traceId,
      ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
    })
  }
  if (status >= 500) return new AuthError.Transport({ reason: "server-error", status, endpoint, ...traceId })
  if (Option.isSome(azure)) {
    const { error, error_codes = [] } = azure.value
    // A server that echoes a secret back (a misconfigured proxy) must not put it in a message.
    const error_description =
      azure.value.error_description === undefined
        ? undefined
        : AuthError.scrubSecrets(azure.value.error_description, knownSecrets)
    const description = error_description === undefined ? {} : { description: error_description }
    if (error === "invalid_client" || error_codes.some((code) => credentialCodes.has(code))) {
      return new AuthError.InvalidClient({ status, ...description, ...traceId })
    }
    const mapped = AuthError.fromOAuthErrorResponse(
      status,
      { error, error_description },
      retryAfterMillis,
      knownSecrets
    )
    return withTraceId(mapped, azure.value.trace_id)
  }
  const gateway = decodeGateway(body)
  if (Option.isSome(gateway) && (status === 401 || status === 403)) {
    return new AuthError.InvalidClient({ status, description: "subscription key missing or rejected" })
  }
  return AuthError.fromOAuthErrorResponse(status, undefined, retryAfterMillis)
}

const withTraceId = (
  error: AuthError.OAuthEndpointError,
  traceId: string | undefined
): AuthError.OAuthEndpointError => {
  if (traceId === undefined) return error
  switch (error._tag) {
    case "InvalidClient":
      return new AuthError.InvalidClient({ ...fieldsOf(error), status: error.status, traceId })
    case "UnauthorizedClient":
      return new AuthError.UnauthorizedClient({ ...fieldsOf(error), status: error.status, traceId })
    case "InvalidGrant":
      return new AuthError.InvalidGrant({ ...fieldsOf(error), status: error.status, traceId })
    case "InvalidScope":
      return new AuthError.InvalidScope({ ...fieldsOf(error), traceId })
    case "InvalidRequest":
      return new AuthError.InvalidRequest({
        ...fieldsOf(error),
        code: error.code,
        traceId,
        ...(error.status === undefined ? {} : { status: error.status })
      })
    case "ProtocolViolation":
      return new AuthError.ProtocolViolation({ ...fieldsOf(error), reason: error.reason, traceId })
    default:
      return error
  }
}

const fieldsOf = (error: { readonly description?: string | undefined }) =>
  error.description === undefined ? {} : { description: error.description }

/**
 * One entry of a problem's `extraDetails`: which input (`name`) and why (`reason`).
 *
 * @internal
 */
export interface ExtraDetail {
  readonly name: string
  readonly reason: string
}

const ProblemBody = Schema.Struct({
  type: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  detail: Schema.optional(Schema.String),
  instance: Schema.optional(Schema.String),
  traceId: Schema.optional(Schema.String),
  trace_id: Schema.optional(Schema.String),
  extraDetails: Schema.optional(Schema.Unknown)
})
const decodeProblem = Schema.decodeUnknownOption(ProblemBody)

// `extraDetails` comes as a list of `{ name, reason }` (ePayment) or as a map of name to reason.
const extraDetailsOf = (value: unknown): ReadonlyArray<ExtraDetail> => {
  if (Array.isArray(value)) {
    return value.flatMap((item: unknown) =>
      typeof item === "object" && item !== null && "name" in item && "reason" in item
        ? [{ name: String(item.name), reason: String(item.reason) }]
        : []
    )
  }
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).map(([name, reason]) => ({
      name,
      reason: typeof reason === "string" ? reason : JSON.stringify(reason)
    }))
  }
  return []
}

/**
 * An RFC 7807 body, decoded leniently: every field optional, `traceId` or `trace_id`.
 *
 * @internal
 */
export const decodeProblemBody = (body: unknown) =>
  Option.map(decodeProblem(body), (p) => ({
    type: Option.fromNullable(p.type),
    title: Option.fromNullable(p.title),
    detail: Option.fromNullable(p.detail),
    instance: Option.fromNullable(p.instance),
    traceId: Option.fromNullable(p.traceId ?? p.trace_id),
    extraDetails: extraDetailsOf(p.extraDetails)
  }))
