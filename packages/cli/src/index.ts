/**
 * The `mobilepay-auth` command as a library: its command tree (to embed in another
 * @effect/cli program) and the demo.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/cli
 */

/** @since 0.1.0 */
export * as Cli from "./Cli.js"
/** @since 0.1.0 */
export * as Demo from "./Demo.js"
