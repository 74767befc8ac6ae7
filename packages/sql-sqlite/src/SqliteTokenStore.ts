/**
 * The default durable store: one SQLite file, shared safely by every process on the host
 * (WAL journal, a busy timeout for writers, and single-statement compare-and-set, take and
 * lease, so atomicity holds across processes). Deleted rows are overwritten on disk
 * (`secure_delete`), and a new file is created readable by its owner only.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { AuthError } from "@mobilepay-auth/domain"
import type { TokenStore } from "@mobilepay-auth/platform"
import { Config, Context, Duration, Effect, Layer } from "effect"
import type { ConfigError } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as SqlTokenStore from "@mobilepay-auth/sql/SqlTokenStore"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file; its directory is created when missing. */
  readonly filename: string
  /** How long a write waits for another process's write lock before failing. Default 5 seconds. */
  readonly busyTimeout?: Duration.DurationInput
}

/**
 * The file name inside the data directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFileName = "tokens.db"

/**
 * Options from `Config`: the data directory from `MOBILEPAY_DATA_DIR` (default
 * `.mobilepay-auth`, relative to the working directory), file `tokens.db` in it.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.string("MOBILEPAY_DATA_DIR").pipe(
  Config.withDefault(".mobilepay-auth"),
  Config.map((dir) => ({ filename: Path.join(dir, defaultFileName) }))
)

const openFailure = (cause: unknown) =>
  new AuthError.StoreFailure({
    operation: "open",
    reason: "unavailable",
    description: SqlTokenStore.storeFailure("open")({ message: "could not prepare the database file", cause })
      .description
  })

const prepareFile = (filename: string) =>
  Effect.tryPromise({
    try: async () => {
      if (filename === ":memory:" || filename === "") return false
      await Fs.mkdir(Path.dirname(filename), { recursive: true, mode: 0o700 })
      return Fs.access(filename).then(
        () => false,
        () => true
      )
    },
    catch: openFailure
  })

/**
 * A `SqlClient` on the file, configured for shared use: WAL (set by the client), busy
 * timeout, `secure_delete`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, AuthError.StoreFailure> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const created = yield* prepareFile(options.filename)
      const client = yield* SqliteClient.make({ filename: options.filename }).pipe(
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            SqlTokenStore.storeFailureFromDefect("open", "could not open the database file", defect)
          )
        )
      )
      if (created) {
        yield* Effect.tryPromise({ try: () => Fs.chmod(options.filename, 0o600), catch: openFailure })
      }
      const busyMillis = Math.floor(Duration.toMillis(options.busyTimeout ?? Duration.seconds(5)))
      yield* Effect.mapError(
        Effect.all([
          client.unsafe(`PRAGMA busy_timeout = ${busyMillis}`),
          client.unsafe("PRAGMA secure_delete = ON")
        ]),
        SqlTokenStore.storeFailure("open")
      )
      return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * The store on a SQLite file. The schema is migrated on start (idempotent, safe when
 * several processes start at once).
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
