/**
 * Durable token stores for @mobilepay-auth/platform: SQLite (the default, one file) and
 * PostgreSQL (shared by many instances), both on @effect/sql.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/sql
 */

/** @since 0.1.0 */
export * as PgTokenStore from "./PgTokenStore.js"
/** @since 0.1.0 */
export * as SqliteTokenStore from "./SqliteTokenStore.js"
/** @since 0.1.0 */
export * as SqlTokenStore from "./SqlTokenStore.js"
