/**
 * Tokens as the rest of the toolkit sees them: secrets stay `Redacted`, expiry is an
 * absolute instant computed from the clock when the token arrived.
 *
 * @since 0.1.0
 */
import { Either, Option, ParseResult, Redacted, Schema } from "effect"
import { ProtocolViolation } from "./AuthError.js"
import * as Scope from "./Scope.js"

/**
 * A bearer access token.
 *
 * @since 0.1.0
 * @category models
 */
export type AccessToken = Redacted.Redacted<string>

/**
 * A refresh token: for merchant consent it lives 13 months and is worth a merchant's consent.
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshToken = Redacted.Redacted<string>

/**
 * The tokens of one grant, with absolute times in epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenSet {
  readonly accessToken: AccessToken
  readonly tokenType: "Bearer"
  /** When the token arrived (epoch ms, from `Clock`). */
  readonly issuedAt: number
  /** When the server says it expires (epoch ms): `issuedAt + expires_in`. */
  readonly expiresAt: number
  readonly refreshToken: Option.Option<RefreshToken>
  readonly idToken: Option.Option<Redacted.Redacted<string>>
  readonly scopes: ReadonlyArray<string>
}

/**
 * The longest lifetime a token response may claim, in seconds (24 hours: Vipps MobilePay's
 * production tokens, the longest-lived access tokens we talk to). A longer `expires_in` is
 * clamped to it, so a hostile or broken `expires_in: 1e300` cannot cache a token forever.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxLifetimeSeconds = 24 * 60 * 60

/**
 * The longest token (access, refresh or ID) accepted, in characters. MobilePay's JWTs are about
 * a kilobyte; anything near this bound is not a token but an attempt to fill the store.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxTokenLength = 16 * 1024

/**
 * The longest `scope` accepted, in characters.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxScopeLength = 1024

/**
 * `expires_in` as providers send it: a number, or a numeric string (Vipps MobilePay sends
 * `"86398"`). Must be a positive finite number of seconds; clamped to {@link maxLifetimeSeconds}.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExpiresIn = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.compose(Schema.Number),
  // At least a millisecond: a smaller positive number vanishes when added to the clock, and the
  // token would be born expired.
  Schema.filter((n) => Number.isFinite(n) && n >= 0.001, {
    message: () => "expires_in must be a positive number of seconds (at least 0.001)"
  }),
  Schema.transform(Schema.Number, {
    strict: true,
    decode: (n) => Math.min(n, maxLifetimeSeconds),
    encode: (n) => n
  })
)

const TokenString = Schema.NonEmptyString.pipe(Schema.maxLength(maxTokenLength))

/**
 * The JSON body of a successful token response. Lenient where providers are sloppy
 * (`expires_in` as a string, `token_type` in any case), strict where it matters (an access
 * token must be a non-empty string of bounded length; the type must be Bearer).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct({
  access_token: Schema.Redacted(TokenString),
  token_type: Schema.String.pipe(
    Schema.filter((t) => t.toLowerCase() === "bearer", { message: () => "token_type must be Bearer" })
  ),
  expires_in: ExpiresIn,
  refresh_token: Schema.optional(Schema.Redacted(TokenString)),
  id_token: Schema.optional(Schema.Redacted(TokenString)),
  scope: Schema.optional(Schema.String.pipe(Schema.maxLength(maxScopeLength)))
})

/**
 * @since 0.1.0
 * @category models
 */
export type TokenResponse = typeof TokenResponse.Type

const decodeResponse = Schema.decodeUnknownEither(TokenResponse)

/**
 * A {@link TokenSet} from a decoded token response that arrived at `now` (epoch ms).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResponse = (response: TokenResponse, now: number): TokenSet => ({
  accessToken: response.access_token,
  tokenType: "Bearer",
  issuedAt: now,
  expiresAt: now + response.expires_in * 1000,
  refreshToken: Option.fromNullable(response.refresh_token),
  idToken: Option.fromNullable(response.id_token),
  scopes: Scope.split(response.scope)
})

/**
 * Decodes a token response body and builds a {@link TokenSet}; a body that does not conform
 * fails with {@link ProtocolViolation} (whose text never includes the body).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (body: unknown, now: number): Either.Either<TokenSet, ProtocolViolation> =>
  Either.match(decodeResponse(body), {
    onLeft: (error) =>
      Either.left(
        new ProtocolViolation({
          reason: "token-response",
          description: ParseResult.ArrayFormatter.formatErrorSync(error)
            // Only paths and issue kinds: messages may quote the offending value.
            .map((issue) => `${issue.path.join(".") || "body"}: ${issue._tag}`)
            .join("; ")
            .slice(0, 300)
        })
      ),
    onRight: (response) => Either.right(fromResponse(response, now))
  })

/**
 * The token set after a refresh: the new one, keeping the previous refresh token when the
 * server did not return one (MobilePay's `ReUse` rotation).
 *
 * @since 0.1.0
 * @category combinators
 */
export const afterRefresh = (previous: Option.Option<RefreshToken>, next: TokenSet): TokenSet =>
  Option.isSome(next.refreshToken) ? next : { ...next, refreshToken: previous }

/**
 * Lifetime the server granted, in milliseconds.
 *
 * @since 0.1.0
 * @category getters
 */
export const lifetimeMillis = (tokens: Pick<TokenSet, "issuedAt" | "expiresAt">): number =>
  tokens.expiresAt - tokens.issuedAt
