/**
 * The OpenID Connect `nonce`: bound into the ID token, so a replayed ID token is detected.
 * MobilePay rejects a nonce it has seen before, so every authorization gets a new one.
 *
 * @since 0.1.0
 */
import { Brand, Effect } from "effect"
import * as SecureRandom from "./SecureRandom.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Nonce = string & Brand.Brand<"@mobilepay-auth/Nonce">

/**
 * @since 0.1.0
 * @category constructors
 */
export const Nonce = Brand.nominal<Nonce>()

/**
 * A fresh nonce of 32 random bytes (43 base64url characters).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate: Effect.Effect<Nonce, never> = Effect.map(SecureRandom.base64url(32), Nonce)
