/**
 * The typed failures of MobilePay authentication: one class per situation a caller can act on.
 * Every field is safe to log: no error carries a secret, a token or a credential, so
 * `toString`, `JSON.stringify` and `inspect` of any of them are safe too.
 *
 * @since 0.1.0
 */
import { Duration, Option, Predicate, Schema } from "effect"

/**
 * Marks every error of this module: {@link isAuthError} checks for it.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@mobilepay-auth/domain/AuthError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

interface Unbranded {
  readonly _: unique symbol
}

/**
 * The base of every error here: a `Schema.TaggedError` whose constructor sanitises what it is
 * given (token-like runs in `description` redacted, a `traceId` that is not an id dropped), so
 * a caller that passes server text straight in cannot leak a token through `message`, JSON or
 * inspect, and which carries {@link TypeId}.
 */
const AuthErrorClass =
  <Self>() =>
  <Tag extends string, Fields extends Schema.Struct.Fields>(
    tag: Tag,
    fields: Fields
  ): Schema.TaggedErrorClass<Self, Tag, { readonly _tag: Schema.tag<Tag> } & Fields> => {
    // Built over the erased fields (a class cannot extend a type that depends on `Fields`), then
    // given back its precise type: the constructor and schema are those of `Base`.
    const erased: Schema.Struct.Fields = fields
    const Base = Schema.TaggedError<Unbranded>(`@mobilepay-auth/${tag}`)(tag, erased)
    class AuthErrorBase extends Base {
      declare readonly [TypeId]: TypeId
      constructor(props: ConstructorParameters<typeof Base>[0], options?: Schema.MakeOptions) {
        super(safe(props), options)
      }
    }
    // On the prototype, as Effect's own type ids: a copy of the fields is not an error.
    Object.defineProperty(AuthErrorBase.prototype, TypeId, { value: TypeId })
    return AuthErrorBase as unknown as Schema.TaggedErrorClass<
      Self,
      Tag,
      { readonly _tag: Schema.tag<Tag> } & Fields
    >
  }

const Description = Schema.optional(Schema.String)
/**
 * The server's trace id of a failed call (Vipps MobilePay's `trace_id` / `traceId`), kept so a
 * support case can name the request. Not secret; kept only when it looks like an id.
 */
const TraceId = Schema.optional(Schema.String)

/**
 * The OAuth client was not recognised or its secret was wrong (`invalid_client`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidClient extends AuthErrorClass<InvalidClient>()("InvalidClient", {
  status: Schema.Number,
  description: Description,
  traceId: TraceId
}) {
  override get message() {
    return `invalid_client (HTTP ${this.status}): check the client id and secret${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * The client may not use this grant type (`unauthorized_client`).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnauthorizedClient extends AuthErrorClass<UnauthorizedClient>()("UnauthorizedClient", {
  status: Schema.Number,
  description: Description,
  traceId: TraceId
}) {
  override get message() {
    return `unauthorized_client (HTTP ${this.status})${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * The grant (code or refresh token) was rejected (`invalid_grant`). The token manager turns
 * this into {@link ConsentRequired} for merchant grants.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidGrant extends AuthErrorClass<InvalidGrant>()("InvalidGrant", {
  status: Schema.Number,
  description: Description,
  traceId: TraceId
}) {
  override get message() {
    return `invalid_grant (HTTP ${this.status})${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * A requested scope is unknown or not allowed for this client (`invalid_scope`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidScope extends AuthErrorClass<InvalidScope>()("InvalidScope", {
  description: Description,
  scope: Schema.optional(Schema.String),
  traceId: TraceId
}) {
  override get message() {
    return `invalid_scope${this.scope ? ` (${this.scope})` : ""}${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * The request was malformed (`invalid_request`, `unsupported_grant_type`, or a bad argument).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends AuthErrorClass<InvalidRequest>()("InvalidRequest", {
  status: Schema.optional(Schema.Number),
  code: Schema.String,
  description: Description,
  traceId: TraceId
}) {
  override get message() {
    return `${this.code}${this.status === undefined ? "" : ` (HTTP ${this.status})`}${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * The merchant's consent is gone (revoked in the portal, refresh token expired, or never
 * given): run the consent flow again.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConsentRequired extends AuthErrorClass<ConsentRequired>()("ConsentRequired", {
  merchant: Schema.optional(Schema.String),
  /** `declined`: the merchant said no at MobilePay (`access_denied`), nothing was ever stored. */
  reason: Schema.Literal("revoked", "missing", "declined")
}) {
  override get message() {
    const who = this.merchant ? ` for merchant ${this.merchant}` : ""
    switch (this.reason) {
      case "missing":
        return `no consent is stored${who}: run the consent flow`
      case "declined":
        return `the merchant declined consent${who}`
      case "revoked":
        return `consent was revoked or has expired${who}: run the consent flow again`
    }
  }
}

/**
 * The API answered 401 twice (once more after a fresh token). MobilePay keeps the reason
 * vague on purpose: check scopes, consent and gateway keys.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends AuthErrorClass<Unauthorized>()("Unauthorized", {
  method: Schema.optional(Schema.String),
  path: Schema.optional(Schema.String),
  traceId: TraceId
}) {
  override get message() {
    const where = this.method && this.path ? ` on ${this.method} ${this.path}` : ""
    return `unauthorized${where}, even with a fresh token: check consent, scopes and gateway keys${traced(this.traceId)}`
  }
}

/**
 * The server asked us to slow down (HTTP 429), or a refresh is cooling down after a
 * failure. `retryAfterMillis` says when to try again, if known.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends AuthErrorClass<RateLimited>()("RateLimited", {
  /**
   * Absent: the server answered 429. `cooling-down`: our own pause after a failed refresh, so a
   * failing endpoint is not hammered; `retryAfterMillis` is then counted from now.
   */
  reason: Schema.optional(Schema.Literal("cooling-down")),
  retryAfterMillis: Schema.optional(Schema.Number),
  endpoint: Schema.optional(Schema.String),
  traceId: TraceId
}) {
  override get message() {
    const after =
      this.retryAfterMillis === undefined
        ? ""
        : `, retry after ${Duration.format(Duration.millis(this.retryAfterMillis))}`
    const what =
      this.reason === "cooling-down"
        ? "cooling down after a failed token request"
        : `rate limited${this.endpoint ? ` by ${this.endpoint}` : ""}`
    return `${what}${after}${traced(this.traceId)}`
  }
}

/**
 * The request did not complete: connection failure, timeout, a 5xx answer after retries, or
 * (`tls`) a server certificate that does not validate, which is not retried: trying again will
 * not make an untrusted certificate trusted, and it may be an interception.
 *
 * @since 0.1.0
 * @category errors
 */
export class Transport extends AuthErrorClass<Transport>()("Transport", {
  reason: Schema.Literal("connection", "timeout", "server-error", "tls"),
  status: Schema.optional(Schema.Number),
  endpoint: Schema.optional(Schema.String),
  retryAfterMillis: Schema.optional(Schema.Number),
  traceId: TraceId
}) {
  override get message() {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `transport failure: ${this.reason}${status}${this.endpoint ? ` at ${this.endpoint}` : ""}${traced(this.traceId)}`
  }
}

/**
 * What was wrong with a non-conforming answer.
 *
 * - `not-json`, `malformed-json`: the body is not JSON, or is broken JSON.
 * - `token-response`: a token response missing or mistyping a field.
 * - `error-response-not-oauth`: an error status whose body is not an OAuth error.
 * - `unexpected-status`: a status the protocol step does not allow.
 * - `invalid-response`: any other answer oauth4webapi refuses.
 * - `issuer-mismatch`: discovery names another issuer than the configured one.
 * - `server-metadata`: discovery lacks an endpoint or names one that is not a URL.
 * - `merchant-identity`: the grant names no usable merchant.
 * - `response-too-large`: the body exceeds the bound, and was not read further.
 * - `unsupported`: the provider uses an algorithm or feature we do not support.
 * - `unexpected-failure`: our own error, of a kind this step cannot produce, came back.
 * - `no-refresh-token`: `offline_access` was requested, and no refresh token came back (a
 *   provider that follows OpenID Connect Core section 11 drops it without `prompt=consent`).
 *
 * @since 0.1.0
 * @category models
 */
export const ProtocolViolationReason = Schema.Literal(
  "not-json",
  "malformed-json",
  "token-response",
  "error-response-not-oauth",
  "unexpected-status",
  "invalid-response",
  "issuer-mismatch",
  "server-metadata",
  "merchant-identity",
  "response-too-large",
  "unsupported",
  "unexpected-failure",
  "no-refresh-token"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ProtocolViolationReason = typeof ProtocolViolationReason.Type

/**
 * The server's answer does not conform to the protocol (malformed JSON, HTML instead of JSON,
 * missing fields, wrong token type).
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolViolation extends AuthErrorClass<ProtocolViolation>()("ProtocolViolation", {
  reason: ProtocolViolationReason,
  description: Description,
  traceId: TraceId
}) {
  override get message() {
    return `protocol violation: ${this.reason}${suffix(this.description)}${traced(this.traceId)}`
  }
}

/**
 * The checks an ID token can fail.
 *
 * @since 0.1.0
 * @category models
 */
export const IdTokenCheck = Schema.Literal(
  "signature",
  "issuer",
  "audience",
  "nonce",
  "c_hash",
  "at_hash",
  "expired",
  "subject",
  "malformed"
)

/**
 * @since 0.1.0
 * @category models
 */
export type IdTokenCheck = typeof IdTokenCheck.Type

/**
 * An ID token failed validation; `check` names which check.
 *
 * @since 0.1.0
 * @category errors
 */
export class IdTokenRejected extends AuthErrorClass<IdTokenRejected>()("IdTokenRejected", {
  check: IdTokenCheck,
  description: Description
}) {
  override get message() {
    return `ID token rejected: ${this.check} check failed${suffix(this.description)}`
  }
}

/**
 * The `state` of a callback is unknown, expired, already used, or absent.
 *
 * @since 0.1.0
 * @category errors
 */
export class StateMismatch extends AuthErrorClass<StateMismatch>()("StateMismatch", {
  /**
   * `binding`: the callback did not come from the user agent that began the authorization (its
   * binding cookie is missing or different), as in a login CSRF.
   */
  reason: Schema.Literal("unknown", "expired", "replayed", "missing", "binding")
}) {
  override get message() {
    return this.reason === "binding"
      ? "state mismatch: the callback did not come from the browser that began the consent; start again"
      : `state mismatch: ${this.reason}; start the consent flow again`
  }
}

/**
 * Why an endpoint was refused.
 *
 * @since 0.1.0
 * @category models
 */
export const InsecureEndpointReason = Schema.Literal("insecure", "redirect", "foreign-origin", "credentials")

/**
 * An endpoint is not `https:` (or `http:` on loopback without the explicit opt-in).
 *
 * @since 0.1.0
 * @category errors
 */
export class InsecureEndpoint extends AuthErrorClass<InsecureEndpoint>()("InsecureEndpoint", {
  url: Schema.String,
  /**
   * Absent or `insecure`: not `https:`. `redirect`: the endpoint answered with a redirect, which is
   * never followed. `foreign-origin`: an API call aimed at another origin than the environment's
   * API. `credentials`: the URL carries a user name or password.
   */
  reason: Schema.optional(InsecureEndpointReason)
}) {
  override get message() {
    switch (this.reason) {
      case "redirect":
        return `refusing a redirect from ${this.url}: redirects are never followed`
      case "foreign-origin":
        return `refusing to send credentials to ${this.url}: not the environment's API origin`
      case "credentials":
        return `refusing ${this.url}: a URL must not carry a user name or password`
      default:
        return `refusing insecure endpoint ${this.url}: https is required (loopback http needs allowInsecureLoopback)`
    }
  }
}

/**
 * Why a VAT number was rejected.
 *
 * @since 0.1.0
 * @category models
 */
export const InvalidVatReason = Schema.Literal("empty", "country", "format", "check-digit")

/**
 * A VAT number could not be parsed. `input` is what was given (VAT numbers are public data).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidVat extends AuthErrorClass<InvalidVat>()("InvalidVat", {
  input: Schema.String,
  reason: InvalidVatReason
}) {
  override get message() {
    const why = {
      empty: "it is empty",
      country: "it must start with DK or FI",
      format: "it must be DK or FI followed by 8 digits",
      "check-digit": "its check digit is wrong"
    }[this.reason]
    return `invalid VAT number ${JSON.stringify(this.input.slice(0, 40))}: ${why}`
  }
}

/**
 * The token store failed. `operation` names what was attempted.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreFailure extends AuthErrorClass<StoreFailure>()("StoreFailure", {
  operation: Schema.String,
  /** `incompatible`: the database was migrated by a newer version of this toolkit. */
  reason: Schema.Literal("unavailable", "conflict", "corrupt", "decrypt", "lease", "incompatible", "other"),
  description: Description
}) {
  override get message() {
    return `token store ${this.operation} failed: ${this.reason}${suffix(this.description)}`
  }
}

/**
 * A setting is missing or malformed (an option of `createMobilePayAuth`, a field of
 * `MobilePayConfig`, an environment variable). Names the setting as the caller wrote it and
 * says what is wrong, never echoing its value; `hint` says how to fix it when there is a
 * known way. Raised when the instance or layer is built, not on first use.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfiguration extends AuthErrorClass<InvalidConfiguration>()("InvalidConfiguration", {
  setting: Schema.String,
  description: Schema.String,
  hint: Schema.optional(Schema.String)
}) {
  override get message() {
    return `${this.setting}: ${this.description}${this.hint === undefined ? "" : ` (${this.hint})`}`
  }
}

/**
 * Every error of the toolkit.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthError =
  | InvalidClient
  | UnauthorizedClient
  | InvalidGrant
  | InvalidScope
  | InvalidRequest
  | ConsentRequired
  | Unauthorized
  | RateLimited
  | Transport
  | ProtocolViolation
  | IdTokenRejected
  | StateMismatch
  | InsecureEndpoint
  | InvalidVat
  | StoreFailure
  | InvalidConfiguration

/**
 * True for any error of this module, whatever its tag (as `@effect/platform`'s
 * `isHttpClientError`): errors that come back through a `Promise` or a `fetch` bridge are
 * recognised without a hand-kept list of tags.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isAuthError = (u: unknown): u is AuthError => Predicate.hasProperty(u, TypeId)

/**
 * The errors an OAuth token endpoint can answer with, as {@link fromOAuthErrorResponse} maps them.
 *
 * @since 0.1.0
 * @category models
 */
export type OAuthEndpointError =
  | InvalidClient
  | UnauthorizedClient
  | InvalidGrant
  | InvalidScope
  | InvalidRequest
  | RateLimited
  | Transport
  | ProtocolViolation

const OAuthErrorBody = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optional(Schema.String)
})
const decodeOAuthErrorBody = Schema.decodeUnknownOption(OAuthErrorBody)

/**
 * Maps an error answer of an OAuth endpoint (HTTP status and the decoded JSON body, or
 * `undefined` when the body was not JSON) to the typed error a caller can act on.
 * `retryAfterMillis` is the parsed `Retry-After` header, if any.
 *
 * Pure: the same answer always maps to the same error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromOAuthErrorResponse = (
  status: number,
  body: unknown,
  retryAfterMillis?: number,
  knownSecrets: ReadonlyArray<string> = []
): OAuthEndpointError => {
  const cleanDescription = (text: string | undefined) => clean(text, knownSecrets)
  if (status === 429) {
    return new RateLimited(retryAfterMillis === undefined ? {} : { retryAfterMillis })
  }
  if (status >= 500) return new Transport({ reason: "server-error", status })
  return Option.match(decodeOAuthErrorBody(body), {
    onNone: () =>
      status === 401
        ? new InvalidClient({ status })
        : new ProtocolViolation({ reason: "error-response-not-oauth", description: `HTTP ${status}` }),
    onSome: ({ error, error_description }) => {
      const description = cleanDescription(error_description)
      const fields = description === undefined ? { status } : { status, description }
      switch (error) {
        case "invalid_client":
          return new InvalidClient(fields)
        case "unauthorized_client":
          return new UnauthorizedClient(fields)
        case "invalid_grant":
          return new InvalidGrant(fields)
        case "invalid_scope":
          return new InvalidScope(description === undefined ? {} : { description })
        default:
          return new InvalidRequest({ ...fields, code: cleanDescription(error) ?? "invalid_request" })
      }
    }
  })
}

/**
 * True for errors worth retrying after a delay (connection failures, timeouts, 5xx, 429); a
 * certificate that does not validate (`Transport` with reason `tls`) is not one.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (error: unknown): error is Transport | RateLimited =>
  (error instanceof Transport && error.reason !== "tls") || Predicate.isTagged(error, "RateLimited")

// Server-provided text is kept short and printable so it cannot smuggle a token into logs; the
// secrets we know (a client secret a server echoes back, whatever its length) are removed by value.
const clean = (text: string | undefined, knownSecrets: ReadonlyArray<string>): string | undefined => {
  if (text === undefined) return undefined
  const printable = scrubSecrets(text, knownSecrets).replace(controlCharacters, " ").trim()
  const redacted = printable.replace(/[A-Za-z0-9_\-.~+/=]{40,}/g, "<redacted>")
  return redacted.length > 200 ? `${redacted.slice(0, 200)}...` : redacted || undefined
}

/**
 * Removes every occurrence of each known secret from `text`, as it is and in the encodings a
 * server may echo it in (URL-encoded, form-encoded). Secrets shorter than 4 characters are
 * skipped: scrubbing them would erase ordinary words, and no real secret is that short.
 *
 * @since 0.1.0
 * @category utils
 */
export const scrubSecrets = (text: string, knownSecrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of knownSecrets) {
    if (secret.length < 4) continue
    for (const form of new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2)
    ])) {
      out = out.split(form).join("<redacted>")
    }
  }
  return out
}

// Any description, whoever builds the error, is scrubbed of token-like runs, so a caller that
// passes server text straight in cannot leak a token through `message`, JSON or inspect.
// Lower-case paths (endpoint URLs) are kept: tokens are mixed case or have no slashes.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/g

const redactSecrets = (text: string): string =>
  text
    .replace(controlCharacters, " ")
    .replace(/[A-Za-z0-9_\-.~+/=]{40,}/g, (run) =>
      run.includes("/") && !/[A-Z]/.test(run) && run.split("/").every((part) => part.length < 40)
        ? run
        : "<redacted>"
    )

// A trace id is an opaque id (a GUID, hex): anything else from a server is dropped, not shown.
const traceIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

const safe = <P>(props: P): P => {
  if (!Predicate.isRecord(props)) return props
  const out: Record<string, unknown> = { ...props }
  if (typeof out["description"] === "string") out["description"] = redactSecrets(out["description"])
  const traceId = out["traceId"]
  if (traceId !== undefined && !(typeof traceId === "string" && traceIdPattern.test(traceId))) {
    delete out["traceId"]
  }
  // The same fields, sanitised.
  return out as P
}

const suffix = (description: string | undefined) => (description ? `: ${description}` : "")

const traced = (traceId: string | undefined) => (traceId ? ` [trace id ${traceId}]` : "")
