/**
 * The shared SQL token store of @mobilepay-auth: the schema, its migrations and the atomic
 * compare-and-set, take and lease statements, on any @effect/sql client of a supported
 * dialect (SQLite, PostgreSQL). For a ready store, install `@mobilepay-auth/sql-sqlite` or
 * `@mobilepay-auth/sql-pg`: each brings only its own driver.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/sql
 */

/** @since 0.1.0 */
export * as SqlTokenStore from "./SqlTokenStore.js"
