/**
 * The store on PostgreSQL, for several hosts sharing tokens. Compare-and-set, single-use
 * reads and leases are each one statement with row-level locking, so they are atomic across
 * every connection of every instance.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { AuthError } from "@mobilepay-auth/domain"
import type { TokenStore } from "@mobilepay-auth/platform"
import { Config, Context, Effect, Layer } from "effect"
import type { ConfigError, Duration, Redacted } from "effect"
import * as SqlTokenStore from "@mobilepay-auth/sql/SqlTokenStore"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `postgres://user:password@host:port/database`; redacted because it may hold a password. */
  readonly url: Redacted.Redacted<string>
  /** Pool size. Default 10 (the `pg` default). */
  readonly maxConnections?: number
  /** Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput
}

/**
 * Options from `Config`: the URL from `MOBILEPAY_DATABASE_URL`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.map(
  Config.redacted("MOBILEPAY_DATABASE_URL"),
  (url) => ({
    url
  })
)

/**
 * A `SqlClient` (a connection pool) on the database. Fails with `StoreFailure` (operation
 * `"connect"`) when the server cannot be reached, without echoing the URL.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: Options
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, AuthError.StoreFailure> =>
  Layer.scopedContext(
    Effect.map(
      Effect.mapError(
        PgClient.make({
          url: options.url,
          applicationName: "mobilepay-auth",
          ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
          ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout })
        }),
        SqlTokenStore.storeFailure("connect")
      ),
      (client) => Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    )
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * The store on PostgreSQL. The schema is migrated on start (idempotent, serialised by an
 * advisory lock when several instances start at once).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenStore.TokenStore, AuthError.StoreFailure> =>
  SqlTokenStore.layer.pipe(Layer.provide(layerClient(options)))

/**
 * {@link layer} with options from `Config` (by default {@link config}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<TokenStore.TokenStore, AuthError.StoreFailure | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))
