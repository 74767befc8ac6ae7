/**
 * The schema, as @effect/sql migrations, and how they run safely when several processes
 * start on one database at once: SQLite under `BEGIN IMMEDIATE` (the file's write lock),
 * PostgreSQL under a transaction-scoped advisory lock.
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { AuthError } from "@mobilepay-auth/domain"
import { Effect, Exit } from "effect"
import { fromDefect, fromSqlError } from "./failure.js"

/** @internal */
export const recordsTable = "mobilepay_auth_records"
/** @internal */
export const leasesTable = "mobilepay_auth_leases"
/** @internal */
export const sqliteMigrationsTable = "mobilepay_auth_sqlite_migrations"
/** @internal */
export const pgMigrationsTable = "mobilepay_auth_pg_migrations"

// Keys sort and compare bytewise on both engines (SQLite's BINARY collation, PostgreSQL's
// "C"), so `list` order and prefix ranges do not depend on the server's locale.
const sqliteMigrations = Migrator.fromRecord({
  "1_records_and_leases": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE ${sql(recordsTable)} (
        key TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        updated_at INTEGER NOT NULL
      )`,
      sql`CREATE INDEX ${sql(`${recordsTable}_expires_at`)} ON ${sql(recordsTable)} (expires_at)
        WHERE expires_at IS NOT NULL`,
      sql`CREATE TABLE ${sql(leasesTable)} (
        key TEXT PRIMARY KEY NOT NULL,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      )`
    ])
  )
})

const pgMigrations = Migrator.fromRecord({
  "1_records_and_leases": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE ${sql(recordsTable)} (
        key TEXT COLLATE "C" PRIMARY KEY,
        version INTEGER NOT NULL,
        value TEXT NOT NULL,
        expires_at BIGINT,
        updated_at BIGINT NOT NULL
      )`,
      sql`CREATE INDEX ${sql(`${recordsTable}_expires_at`)} ON ${sql(recordsTable)} (expires_at)
        WHERE expires_at IS NOT NULL`,
      sql`CREATE TABLE ${sql(leasesTable)} (
        key TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      )`
    ])
  )
})

const runMigrator = Migrator.make({})

/**
 * The highest migration this version knows (the same on both engines). A database whose
 * migrations table records a higher one was opened by a newer version: its rows may be in a
 * shape this version would misread (and report as decrypt or decode failures one by one), so
 * it is refused as a whole when the store opens.
 *
 * @internal
 */
export const knownMigration = 1

/**
 * A write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`, waiting
 * up to the busy timeout), so a second process migrating the same file waits and then finds
 * the work done. The migrator's own transaction nests inside as a savepoint.
 */
const sqliteImmediate = <A, E, R>(
  sql: SqlClient.SqlClient,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R> =>
  Effect.scoped(
    Effect.acquireUseRelease(
      Effect.tap(sql.reserve, (conn) => conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined)),
      (conn) => Effect.provideService(self, SqlClient.TransactionConnection, [conn, 0]),
      (conn, exit) =>
        Effect.orDie(conn.executeUnprepared(Exit.isSuccess(exit) ? "COMMIT" : "ROLLBACK", [], undefined))
    )
  )

// The key of the advisory lock that serialises migrations across PostgreSQL sessions
// (an arbitrary constant: "mpau" in ASCII).
const pgLockKey = 0x6d706175

/**
 * Brings the schema up to date; idempotent and safe to run from several processes at once.
 *
 * @internal
 */
export const migrate: Effect.Effect<void, AuthError.StoreFailure, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    const run: Effect.Effect<unknown, SqlError | Migrator.MigrationError> = sql.onDialectOrElse({
      sqlite: () =>
        sqliteImmediate(sql, runMigrator({ loader: sqliteMigrations, table: sqliteMigrationsTable })).pipe(
          Effect.provideService(SqlClient.SqlClient, sql)
        ),
      pg: () =>
        sql
          .withTransaction(
            Effect.gen(function* () {
              yield* sql`SELECT pg_advisory_xact_lock(${pgLockKey})`
              // The migrator probes for its table with a query that would abort this
              // transaction when the table is missing, so create it first (same shape).
              yield* sql`CREATE TABLE IF NOT EXISTS ${sql(pgMigrationsTable)} (
              migration_id integer primary key,
              created_at timestamp with time zone not null default now(),
              name text not null
            )`
              return yield* runMigrator({ loader: pgMigrations, table: pgMigrationsTable })
            })
          )
          .pipe(Effect.provideService(SqlClient.SqlClient, sql)),
      orElse: () => Effect.dieMessage("unsupported SQL dialect: use SQLite or PostgreSQL")
    })
    yield* run.pipe(
      Effect.mapError((e) =>
        e._tag === "SqlError"
          ? fromSqlError("migrate")(e)
          : fromSqlError("migrate")({ message: `migration ${e.reason}` })
      ),
      Effect.catchAllDefect((defect) => Effect.fail(fromDefect("migrate", "a migration failed", defect)))
    )
    const table = sql.onDialectOrElse({
      pg: () => pgMigrationsTable,
      orElse: () => sqliteMigrationsTable
    })
    const rows = yield* sql<{
      readonly latest: number | string | null
    }>`SELECT MAX(migration_id) AS latest FROM ${sql(table)}`.pipe(Effect.mapError(fromSqlError("migrate")))
    const applied = Number(rows[0]?.latest ?? 0)
    if (applied > knownMigration) {
      return yield* Effect.fail(
        new AuthError.StoreFailure({
          operation: "open",
          reason: "incompatible",
          description: `the database was migrated by a newer version (schema ${applied}; this version knows ${knownMigration})`
        })
      )
    }
  }
)
