/**
 * Web framework adapters for MobilePay merchant consent: the begin step and the redirect URI for
 * Node's `(req, res)`, Express, Fastify and Hono, over the Promise API or the Effect
 * `MerchantConsent` service. Each framework is an optional peer dependency: import the module of
 * the one you use (`@mobilepay-auth/adapters/Express`).
 *
 * @since 0.1.0
 * @module @mobilepay-auth/adapters
 */

/** @since 0.1.0 */
export * as Consent from "./Consent.js"
/** @since 0.1.0 */
export * as Express from "./Express.js"
/** @since 0.1.0 */
export * as Fastify from "./Fastify.js"
/** @since 0.1.0 */
export * as Hono from "./Hono.js"
/** @since 0.1.0 */
export * as NodeHttp from "./NodeHttp.js"
