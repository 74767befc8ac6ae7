/**
 * OAuth scopes MobilePay knows. Consent always asks for `openid offline_access` plus the
 * product scopes the integration needs (least privilege: nothing else, unknown ones rejected).
 *
 * @since 0.1.0
 */
import { Array as Arr, Either, Schema } from "effect"
import { InvalidScope } from "./AuthError.js"

/**
 * The product scopes a merchant can consent to.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProductScope = Schema.Literal(
  "subscriptions",
  "invoice",
  "transactionreporting",
  "merchantpayments",
  "webhooks"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ProductScope = typeof ProductScope.Type

/**
 * Every scope the toolkit sends or accepts.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Scope = Schema.Union(
  Schema.Literal("openid", "offline_access", "integrator_scope"),
  ProductScope
)

/**
 * @since 0.1.0
 * @category models
 */
export type Scope = typeof Scope.Type

/**
 * The scopes every consent requests.
 *
 * @since 0.1.0
 * @category constants
 */
export const consentBase: ReadonlyArray<Scope> = ["openid", "offline_access"]

const isProductScope = Schema.is(ProductScope)

/**
 * Validates requested product scopes; unknown ones fail with {@link InvalidScope}.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseProductScopes = (
  scopes: Iterable<string>
): Either.Either<ReadonlyArray<ProductScope>, InvalidScope> => {
  const out: Array<ProductScope> = []
  for (const scope of scopes) {
    if (!isProductScope(scope)) {
      return Either.left(new InvalidScope({ scope, description: "unknown product scope" }))
    }
    if (!out.includes(scope)) out.push(scope)
  }
  return Either.right(out)
}

/**
 * The full scope list of a consent request: `openid offline_access` plus the products.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forConsent = (products: ReadonlyArray<ProductScope>): ReadonlyArray<Scope> =>
  Arr.dedupe([...consentBase, ...products])

/**
 * Joins scopes for the wire (space separated).
 *
 * @since 0.1.0
 * @category encoding
 */
export const format = (scopes: ReadonlyArray<string>): string => scopes.join(" ")

/**
 * Splits a space-separated scope string, dropping empties.
 *
 * @since 0.1.0
 * @category parsing
 */
export const split = (scope: string | undefined): ReadonlyArray<string> =>
  scope === undefined ? [] : scope.split(/\s+/).filter((s) => s.length > 0)
