/**
 * The `state` parameter of an authorization request: an unguessable, single-use value
 * that ties the callback to the request that started it (CSRF protection).
 *
 * @since 0.1.0
 */
import { Brand, Effect } from "effect"
import * as SecureRandom from "./SecureRandom.js"

/**
 * @since 0.1.0
 * @category models
 */
export type State = string & Brand.Brand<"@mobilepay-auth/State">

/**
 * @since 0.1.0
 * @category constructors
 */
export const State = Brand.nominal<State>()

/**
 * A fresh state of 32 random bytes (43 base64url characters).
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate: Effect.Effect<State, never> = Effect.map(SecureRandom.base64url(32), State)
