/**
 * The `TokenStore` on any @effect/sql client of a supported dialect (SQLite, PostgreSQL):
 * for applications that already run a `SqlClient` and want the tokens in the same
 * database. The schema is migrated when the store is made, idempotently, with its own
 * migrations table, so it coexists with the application's migrations.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { AuthError } from "@mobilepay-auth/domain"
import { TokenStore } from "@mobilepay-auth/platform"
import { Layer } from "effect"
import type { Effect } from "effect"
import * as failure from "./internal/failure.js"
import * as internal from "./internal/store.js"

/**
 * Migrates the schema, then builds the store on the `SqlClient` in context. Fails with
 * `StoreFailure` (operation `"migrate"`) when the schema cannot be brought up to date.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<TokenStore.TokenStore.Service, AuthError.StoreFailure, SqlClient.SqlClient> =
  internal.make

/**
 * The store as a layer over a `SqlClient` layer of your own.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<TokenStore.TokenStore, AuthError.StoreFailure, SqlClient.SqlClient> =
  Layer.effect(TokenStore.TokenStore, internal.make)

/**
 * Turns an @effect/sql error into `StoreFailure` keeping only the driver's error code and
 * @effect/sql's fixed message (a driver's own message can quote a parameter). For driver
 * adapters such as `@mobilepay-auth/sql-sqlite` and `@mobilepay-auth/sql-pg`.
 *
 * @since 0.1.0
 * @category errors
 */
export const storeFailure: (
  operation: string
) => (error: { readonly message: string; readonly cause?: unknown }) => AuthError.StoreFailure =
  failure.fromSqlError

/**
 * {@link storeFailure} for a driver's defect (a thrown error while opening a connection).
 *
 * @since 0.1.0
 * @category errors
 */
export const storeFailureFromDefect: (
  operation: string,
  message: string,
  defect: unknown
) => AuthError.StoreFailure = failure.fromDefect
