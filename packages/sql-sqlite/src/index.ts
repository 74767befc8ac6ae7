/**
 * The embedded default token store for @mobilepay-auth/platform: one SQLite file, shared
 * safely by every process on the host.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/sql-sqlite
 */

/** @since 0.1.0 */
export * as SqliteTokenStore from "./SqliteTokenStore.js"
