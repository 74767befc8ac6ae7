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
  expiresAt: Schema.Number,
  /**
   * SHA-256 (base64url) of the user-agent binding handed out by `begin`; absent when the
   * authorization was begun with the explicit opt-out (nothing to bind, e.g. a CLI).
   */
  binding: Schema.optional(Schema.String)
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
export const Used = Schema.TaggedStruct("Used", {
  usedAt: Schema.Number,
  /** When the tombstone may go (epoch ms); absent in tombstones written before it was kept. */
  until: Schema.optional(Schema.Number)
})

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
  Effect.map(sha256(state), (digest) => `consent:pending:${clientId}:${digest}`)

/**
 * SHA-256 of a text, base64url.
 *
 * @internal
 */
export const sha256 = (text: string): Effect.Effect<string> =>
  Effect.map(
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (digest) => Encoding.encodeBase64Url(new Uint8Array(digest))
  )

/**
 * The cookie that carries the user-agent binding. `__Host-` makes the browser refuse it unless
 * it is `Secure`, host-only and `Path=/`, so a sibling subdomain cannot plant one.
 *
 * @internal
 */
export const bindingCookieName = "__Host-mobilepay-consent"

/**
 * The binding a browser presents in its `Cookie` header, if any.
 *
 * @internal
 */
export const bindingFromCookies = (cookieHeader: string | null): string | undefined => {
  if (cookieHeader === null) return undefined
  for (const part of cookieHeader.split(";")) {
    const at = part.indexOf("=")
    if (at > 0 && part.slice(0, at).trim() === bindingCookieName) {
      const value = part.slice(at + 1).trim()
      return value.length > 0 && value.length <= 256 ? value : undefined
    }
  }
  return undefined
}

/**
 * The largest callback accepted, in bytes (body) or characters (URL): 64 KiB. A real one
 * (a code, an ID token, a state) is under 4 KiB; the bound keeps a hostile POST from being
 * read whole.
 *
 * @internal
 */
export const maxCallbackBytes = 64 * 1024

/**
 * Where the parameters of a callback came from: a `form_post` body, the query of a GET, the
 * fragment of a URL, or handed over as parameters by the caller.
 *
 * @internal
 */
export type CallbackSource = "form" | "query" | "fragment" | "parameters"

/**
 * True when parameters from `source` may complete an authorization begun with `mode`. We never
 * ask for query mode, so a query is never accepted; `form_post` arrives as a form; a fragment
 * arrives in the URL or as the form our relay page posts. Parameters the caller hands over are
 * taken as they are: the caller has chosen where they came from.
 *
 * @internal
 */
export const sourceMatches = (mode: Pending["responseMode"], source: CallbackSource): boolean => {
  switch (source) {
    case "query":
      return false
    case "parameters":
    case "form":
      return true
    case "fragment":
      return mode === "fragment"
  }
}

/**
 * The forms a callback can arrive in.
 *
 * @internal
 */
export type CallbackInput = Request | URL | string | URLSearchParams | Readonly<Record<string, string>>

const badCallback = (description: string) =>
  new AuthError.InvalidRequest({ code: "invalid_callback", description })

/**
 * The authorization response parameters of a callback and where they came from: a `form_post`
 * body (read up to {@link maxCallbackBytes}), the query of a GET, the fragment of a full
 * redirect URL, or the parameters themselves.
 *
 * @internal
 */
export const callbackParameters = (
  input: CallbackInput
): Effect.Effect<
  { readonly params: URLSearchParams; readonly source: CallbackSource },
  AuthError.InvalidRequest
> => {
  if (input instanceof URLSearchParams) {
    return Effect.succeed({ params: new URLSearchParams(input), source: "parameters" })
  }
  if (typeof input === "string" || input instanceof URL) {
    const text = typeof input === "string" ? input : input.href
    if (text.length > maxCallbackBytes) return Effect.fail(badCallback("callback too large"))
    return Effect.try({
      try: () => new URL(text),
      catch: () => badCallback("not a URL")
    }).pipe(
      Effect.map((url) =>
        url.hash.length > 1
          ? { params: new URLSearchParams(url.hash.slice(1)), source: "fragment" as const }
          : { params: new URLSearchParams(url.search), source: "query" as const }
      )
    )
  }
  if (input instanceof Request) {
    if (input.url.length > maxCallbackBytes) return Effect.fail(badCallback("callback too large"))
    if (input.method === "GET") {
      return Effect.succeed({ params: new URL(input.url).searchParams, source: "query" })
    }
    if (input.method !== "POST") return Effect.fail(badCallback("expected GET or POST"))
    const type = (input.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase()
    if (type !== "application/x-www-form-urlencoded") {
      return Effect.fail(badCallback("form_post must be application/x-www-form-urlencoded"))
    }
    return Effect.map(readBody(input, maxCallbackBytes), (body) => ({
      params: new URLSearchParams(body),
      source: "form" as const
    }))
  }
  const entries = Object.entries(input)
  if (entries.reduce((n, [k, v]) => n + k.length + String(v).length, 0) > maxCallbackBytes) {
    return Effect.fail(badCallback("callback too large"))
  }
  return Effect.succeed({ params: new URLSearchParams(entries), source: "parameters" })
}

// Reads at most `limit` bytes of a body, chunk by chunk: a declared or actual size above the
// limit stops the read (and cancels the stream) instead of buffering it.
const readBody = (request: Request, limit: number): Effect.Effect<string, AuthError.InvalidRequest> =>
  Effect.tryPromise({
    try: async () => {
      const declared = Number(request.headers.get("content-length") ?? "0")
      if (declared > limit) throw badCallback("callback too large")
      if (request.body === null) return ""
      const reader = request.body.getReader()
      const chunks: Array<Uint8Array> = []
      let size = 0
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        size += value.length
        if (size > limit) {
          await reader.cancel()
          throw badCallback("callback too large")
        }
        chunks.push(value)
      }
      const bytes = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        bytes.set(chunk, offset)
        offset += chunk.length
      }
      return new TextDecoder().decode(bytes)
    },
    catch: (e) => (e instanceof AuthError.InvalidRequest ? e : badCallback("unreadable body"))
  })

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
      // The merchant said no: its own reason, so the application can tell them apart from a lost grant.
      return new AuthError.ConsentRequired(
        merchant === undefined ? { reason: "declined" } : { reason: "declined", merchant }
      )
    case "consent_required":
    case "login_required":
    case "interaction_required":
      // The merchant could not give consent: no consent exists to use.
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
    iat: Schema.optional(Schema.Number),
    exp: Schema.optional(Schema.Number),
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
  readonly iat?: number | undefined
  readonly exp?: number | undefined
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
