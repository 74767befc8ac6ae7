/**
 * A grant as the token manager keeps it: the token set plus attributes its source needs
 * to refresh it (a PKCE verifier, the merchant's VAT, the granted scopes). Persisted only
 * through the `TokenVault`, so all of it is encrypted at rest.
 *
 * @since 0.1.0
 */
import type { Token } from "@mobilepay-auth/domain"
import { Schema } from "effect"

/**
 * The token set as stored: secrets stay `Redacted` in memory and are plain only inside the
 * sealed JSON.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenSetSchema = Schema.Struct({
  accessToken: Schema.Redacted(Schema.String),
  tokenType: Schema.Literal("Bearer"),
  issuedAt: Schema.Number,
  expiresAt: Schema.Number,
  refreshToken: Schema.OptionFromNullOr(Schema.Redacted(Schema.String)),
  idToken: Schema.OptionFromNullOr(Schema.Redacted(Schema.String)),
  scopes: Schema.Array(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Grant {
  readonly tokens: Token.TokenSet
  readonly attributes: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const GrantSchema: Schema.Schema<Grant, GrantEncoded> = Schema.Struct({
  tokens: TokenSetSchema,
  attributes: Schema.Record({ key: Schema.String, value: Schema.String })
})

/**
 * @since 0.1.0
 * @category models
 */
export type GrantEncoded = Schema.Struct.Encoded<{
  tokens: typeof TokenSetSchema
  attributes: Schema.Record$<typeof Schema.String, typeof Schema.String>
}>
