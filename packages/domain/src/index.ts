/**
 * The pure core of the MobilePay authentication toolkit.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/domain
 */

/** @since 0.1.0 */
export * as AuthError from "./AuthError.js"
/** @since 0.1.0 */
export * as Environment from "./Environment.js"
/** @since 0.1.0 */
export * as Nonce from "./Nonce.js"
/** @since 0.1.0 */
export * as Pkce from "./Pkce.js"
/** @since 0.1.0 */
export * as Scope from "./Scope.js"
/** @since 0.1.0 */
export * as SecureRandom from "./SecureRandom.js"
/** @since 0.1.0 */
export * as State from "./State.js"
/** @since 0.1.0 */
export * as Token from "./Token.js"
/** @since 0.1.0 */
export * as TokenLifecycle from "./TokenLifecycle.js"
/** @since 0.1.0 */
export * as Vat from "./Vat.js"
