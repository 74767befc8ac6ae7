/**
 * The PostgreSQL token store for @mobilepay-auth/platform, for many instances sharing
 * tokens.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/sql-pg
 */

/** @since 0.1.0 */
export * as PgTokenStore from "./PgTokenStore.js"
