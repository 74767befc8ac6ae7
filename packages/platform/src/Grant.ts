/**
 * A grant as the token manager keeps it: the token set plus attributes its source needs
 * to refresh it (a PKCE verifier, the merchant's VAT, the granted scopes). Persisted only
 * through the `TokenVault`, so all of it is encrypted at rest; attributes that are secrets
 * (the verifier) are also `Redacted` in memory, so `inspect` or JSON of a grant shows none.
 *
 * @since 0.1.0
 */
import type { Token } from "@mobilepay-auth/domain"
import { Redacted, Schema } from "effect"

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
 * An attribute: public text, or a secret kept `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export type Attribute = string | Redacted.Redacted<string>

/**
 * @since 0.1.0
 * @category models
 */
export interface Grant {
  readonly tokens: Token.TokenSet
  readonly attributes: Readonly<Record<string, Attribute>>
}

// A secret attribute is `{ "redacted": "..." }` inside the sealed JSON, so decoding tells it from
// text; grants written before secrets were marked hold plain strings, which still decode.
const SecretAttribute = Schema.transform(
  Schema.Struct({ redacted: Schema.String }),
  Schema.RedactedFromSelf(Schema.String),
  {
    strict: true,
    decode: (encoded) => Redacted.make(encoded.redacted),
    encode: (secret) => ({ redacted: Redacted.value(secret) })
  }
)

const AttributeSchema = Schema.Union(Schema.String, SecretAttribute)

/**
 * @since 0.1.0
 * @category schemas
 */
export const GrantSchema: Schema.Schema<Grant, GrantEncoded> = Schema.Struct({
  tokens: TokenSetSchema,
  attributes: Schema.Record({ key: Schema.String, value: AttributeSchema })
})

/**
 * @since 0.1.0
 * @category models
 */
export type GrantEncoded = Schema.Struct.Encoded<{
  tokens: typeof TokenSetSchema
  attributes: Schema.Record$<typeof Schema.String, typeof AttributeSchema>
}>

/**
 * An attribute as text, when it is text (never a secret's value).
 *
 * @since 0.1.0
 * @category getters
 */
export const text = (attributes: Grant["attributes"], name: string): string | undefined => {
  const value = attributes[name]
  return typeof value === "string" ? value : undefined
}

/**
 * An attribute as a secret: a `Redacted` one as it is, a plain one (written by an older
 * version) wrapped.
 *
 * @since 0.1.0
 * @category getters
 */
export const secret = (
  attributes: Grant["attributes"],
  name: string
): Redacted.Redacted<string> | undefined => {
  const value = attributes[name]
  return value === undefined ? undefined : typeof value === "string" ? Redacted.make(value) : value
}
