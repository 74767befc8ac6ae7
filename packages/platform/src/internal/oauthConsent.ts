/**
 * Pieces of the merchant-consent flow that are data, not protocol: the pending authorization
 * record, reading callback parameters from whatever form they arrive in, the authorization
 * error codes, and naming a grant from (untrusted) JWT claims.
 *
 * @internal
 */
import { AuthError, Scope } from "@mobilepay-auth/domain"
import { Effect, Encoding, Either, Option, Schema } from "effect"

/**
 * An authorization that was started and not yet completed. Sealed by the vault, so the
 * nonce and verifier are encrypted at rest.
 *
 * @internal
 */
export const Pending = Schema.TaggedStruct("Pending", {
  state: Schema.String,
  nonce: Schema.Redacted(Schema.String),
  verifier: Schema.Redacted(Schema.String),
  merchantVat: Schema.optional(Schema.String),
  scopes: Schema.Array(Scope.ProductScope),
  redirectUri: Schema.String,
  responseMode: Schema.Literal("form_post", "fragment"),
  createdAt: Schema.Number,
  expiresAt: Schema.Number
})

/**
 * @internal
 */
export type Pending = typeof Pending.Type

/**
 * What is left of a pending authorization once used: enough to call a second use a replay.
 *
 * @internal
 */
export const Used = Schema.TaggedStruct("Used", { usedAt: Schema.Number })

/**
 * @internal
 */
export const PendingRecord = Schema.Union(Pending, Used)

/**
 * The store key of a pending authorization: the state's SHA-256, so store keys (which may be
 * logged and listed) never hold the state itself.
 *
 * @internal
 */
export const pendingKey = (clientId: string, state: string): Effect.Effect<string> =>
  Effect.map(
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(state))),
    (digest) => `consent:pending:${clientId}:${Encoding.encodeBase64Url(new Uint8Array(digest))}`
  )

/**
 * The forms a callback can arrive in.
 *
 * @internal
 */
export type CallbackInput = Request | URL | string | URLSearchParams | Readonly<Record<string, string>>

const badCallback = (description: string) =>
  new AuthError.InvalidRequest({ code: "invalid_callback", description })

/**
 * The authorization response parameters of a callback: a `form_post` body, the query of a
 * GET, the fragment of a full redirect URL, or the parameters themselves.
 *
 * @internal
 */
export const callbackParameters = (
  input: CallbackInput
): Effect.Effect<URLSearchParams, AuthError.InvalidRequest> => {
  if (input instanceof URLSearchParams) return Effect.succeed(new URLSearchParams(input))
  if (typeof input === "string" || input instanceof URL) {
    return Effect.try({
      try: () => new URL(input),
      catch: () => badCallback("not a URL")
    }).pipe(
      Effect.map((url) =>
        url.hash.length > 1 ? new URLSearchParams(url.hash.slice(1)) : new URLSearchParams(url.search)
      )
    )
  }
  if (input instanceof Request) {
    if (input.method === "GET") return Effect.succeed(new URL(input.url).searchParams)
    if (input.method !== "POST") return Effect.fail(badCallback("expected GET or POST"))
    const type = (input.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase()
    if (type !== "application/x-www-form-urlencoded") {
      return Effect.fail(badCallback("form_post must be application/x-www-form-urlencoded"))
    }
    return Effect.tryPromise({ try: () => input.text(), catch: () => badCallback("unreadable body") }).pipe(
      Effect.map((body) => new URLSearchParams(body))
    )
  }
  return Effect.succeed(new URLSearchParams(Object.entries(input)))
}

/**
 * Parameters that must appear at most once; a repeated one is a malformed (or forged) callback.
 *
 * @internal
 */
export const single = (
  params: URLSearchParams,
  name: string
): Either.Either<Option.Option<string>, AuthError.InvalidRequest> => {
  const values = params.getAll(name)
  if (values.length > 1) return Either.left(badCallback(`"${name}" given more than once`))
  return Either.right(Option.fromNullable(values[0]).pipe(Option.filter((v) => v.length > 0)))
}

/**
 * The typed error of an authorization error response (`error=...` on the callback).
 *
 * @internal
 */
export const authorizationError = (
  code: string,
  merchant: string | undefined
):
  | AuthError.ConsentRequired
  | AuthError.InvalidScope
  | AuthError.UnauthorizedClient
  | AuthError.Transport
  | AuthError.InvalidRequest => {
  switch (code) {
    case "access_denied":
    case "consent_required":
    case "login_required":
    case "interaction_required":
      // The merchant declined (or could not give) consent: no consent exists to use.
      return new AuthError.ConsentRequired(
        merchant === undefined ? { reason: "missing" } : { reason: "missing", merchant }
      )
    case "invalid_scope":
      return new AuthError.InvalidScope({ description: "rejected at authorization" })
    case "unauthorized_client":
      return new AuthError.UnauthorizedClient({ status: 400, description: "rejected at authorization" })
    case "server_error":
    case "temporarily_unavailable":
      return new AuthError.Transport({ reason: "server-error", endpoint: "authorization_endpoint" })
    default:
      return new AuthError.InvalidRequest({
        code: /^[a-z_]{1,40}$/.test(code) ? code : "invalid_request",
        description: "authorization error response"
      })
  }
}

const Claims = Schema.parseJson(
  Schema.Struct({
    sub: Schema.optional(Schema.String),
    iss: Schema.optional(Schema.String),
    merchant_id: Schema.optional(Schema.Union(Schema.String, Schema.Number))
  })
)
const decodeClaims = Schema.decodeUnknownOption(Claims)

/**
 * The payload of a compact JWS, decoded but NOT verified: only for naming things (the
 * merchant of an access token, the subject of an ID token oauth4webapi already validated).
 *
 * @internal
 */
export const unverifiedClaims = (
  jwt: string
): Option.Option<{
  readonly sub?: string | undefined
  readonly iss?: string | undefined
  readonly merchant_id?: string | number | undefined
}> => {
  const parts = jwt.split(".")
  if (parts.length !== 3) return Option.none()
  return Either.match(Encoding.decodeBase64UrlString(parts[1] ?? ""), {
    onLeft: () => Option.none(),
    onRight: decodeClaims
  })
}

const identity = /^[A-Za-z0-9._-]{1,100}$/

/**
 * True for text usable as a merchant identity (it becomes part of a store key).
 *
 * @internal
 */
export const isMerchantIdentity = (text: string): boolean => identity.test(text)
