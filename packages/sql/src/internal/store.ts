/**
 * The `TokenStore` contract in SQL that SQLite and PostgreSQL both accept. Every operation
 * that must be atomic is one statement (compare-and-set as a conditional `UPDATE` or an
 * upsert whose `DO UPDATE` only fires on an expired row, single-use reads as
 * `DELETE ... RETURNING`, leases as a conditional upsert and renewal as a conditional `UPDATE`), so atomicity comes from the engine
 * and holds across processes and connections without explicit transactions. Time comes from
 * `Clock` and travels as a parameter: the database's own clock is never consulted.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { AuthError } from "@mobilepay-auth/domain"
import { TokenStore } from "@mobilepay-auth/platform"
import { Clock, Effect, Option, Ref, Schema } from "effect"
import { fromParseError, fromSqlError } from "./failure.js"
import { leasesTable, migrate, recordsTable } from "./migrations.js"

// PostgreSQL returns BIGINT as a string; SQLite returns numbers.
const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)

const RecordRows = Schema.Array(
  Schema.Struct({
    key: Schema.String,
    version: Integer,
    value: Schema.String,
    expires_at: Schema.NullOr(Integer),
    updated_at: Integer
  })
)
const VersionRows = Schema.Array(Schema.Struct({ version: Integer }))
const ExpiryRows = Schema.Array(Schema.Struct({ expires_at: Schema.NullOr(Integer) }))
const KeyRows = Schema.Array(Schema.Struct({ key: Schema.String }))
const OwnerRows = Schema.Array(Schema.Struct({ owner: Schema.String }))

const isLive = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now

const currentTime = Effect.map(Clock.currentTimeMillis, Math.floor)

/** Expired rows are swept at most this often per process (they already read as absent). */
const purgeEveryMillis = 60_000

/**
 * Builds the store on the `SqlClient` in context after bringing the schema up to date.
 *
 * @internal
 */
export const make: Effect.Effect<TokenStore.TokenStore.Service, AuthError.StoreFailure, SqlClient.SqlClient> =
  Effect.gen(function* () {
    yield* migrate
    const sql = yield* SqlClient.SqlClient
    const records = sql(recordsTable)
    const leases = sql(leasesTable)
    const lastPurge = yield* Ref.make(Number.NEGATIVE_INFINITY)

    const query = <A, I>(
      operation: string,
      schema: Schema.Schema<A, I>,
      statement: Effect.Effect<ReadonlyArray<unknown>, SqlError>
    ): Effect.Effect<A, AuthError.StoreFailure> =>
      statement.pipe(
        Effect.mapError(fromSqlError(operation)),
        Effect.flatMap((rows) =>
          Effect.mapError(Schema.decodeUnknown(schema)(rows), fromParseError(operation))
        )
      )

    // `key >= prefix` lets the primary key index bound the scan; the `substr` comparison
    // is the exact test (LIKE would need escaping and is case-insensitive in SQLite).
    const prefixMatch = (prefix: string) =>
      sql`key >= ${prefix} AND substr(key, 1, ${Array.from(prefix).length}) = ${prefix}`

    const purge = (now: number) =>
      Effect.gen(function* () {
        const last = yield* Ref.get(lastPurge)
        if (now - last < purgeEveryMillis) return
        yield* Ref.set(lastPurge, now)
        yield* sql`DELETE FROM ${records} WHERE expires_at IS NOT NULL AND expires_at <= ${now}`
        yield* sql`DELETE FROM ${leases} WHERE expires_at <= ${now}`
      }).pipe(Effect.ignore)

    const toRecord = (row: (typeof RecordRows.Type)[number]): TokenStore.StoredRecord => ({
      key: row.key,
      version: row.version,
      value: row.value,
      expiresAt: Option.fromNullable(row.expires_at),
      updatedAt: row.updated_at
    })

    return TokenStore.TokenStore.of({
      get: (key) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const rows = yield* query(
            "get",
            RecordRows,
            sql`SELECT key, version, value, expires_at, updated_at FROM ${records} WHERE key = ${key}`
          )
          const row = rows[0]
          if (row === undefined) return Option.none()
          if (isLive(row.expires_at, now)) return Option.some(toRecord(row))
          // Opportunistic: the condition keeps a concurrent fresh write safe.
          yield* Effect.ignore(
            sql`DELETE FROM ${records} WHERE key = ${key} AND expires_at IS NOT NULL AND expires_at <= ${now}`
          )
          return Option.none()
        }),

      put: (key, value, options) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const expiresAt = options.expiresAt === undefined ? null : Math.floor(options.expiresAt)
          const rows =
            options.expectedVersion === 0
              ? // Insert, or take over a row that has expired (it reads as absent).
                yield* query(
                  "put",
                  VersionRows,
                  sql`INSERT INTO ${records} (key, version, value, expires_at, updated_at)
                      VALUES (${key}, 1, ${value}, ${expiresAt}, ${now})
                      ON CONFLICT (key) DO UPDATE SET
                        version = 1,
                        value = excluded.value,
                        expires_at = excluded.expires_at,
                        updated_at = excluded.updated_at
                      WHERE ${records}.expires_at IS NOT NULL AND ${records}.expires_at <= ${now}
                      RETURNING version`
                )
              : yield* query(
                  "put",
                  VersionRows,
                  sql`UPDATE ${records} SET
                        version = version + 1,
                        value = ${value},
                        expires_at = ${expiresAt},
                        updated_at = ${now}
                      WHERE key = ${key} AND version = ${options.expectedVersion}
                        AND (expires_at IS NULL OR expires_at > ${now})
                      RETURNING version`
                )
          const row = rows[0]
          if (row === undefined) return yield* Effect.fail(TokenStore.conflict("put"))
          yield* purge(now)
          return row.version
        }),

      remove: (key) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const rows = yield* query(
            "remove",
            ExpiryRows,
            sql`DELETE FROM ${records} WHERE key = ${key} RETURNING expires_at`
          )
          return rows.some((row) => isLive(row.expires_at, now))
        }),

      take: (key) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const rows = yield* query(
            "take",
            RecordRows,
            sql`DELETE FROM ${records} WHERE key = ${key}
                RETURNING key, version, value, expires_at, updated_at`
          )
          const row = rows[0]
          return row !== undefined && isLive(row.expires_at, now) ? Option.some(toRecord(row)) : Option.none()
        }),

      list: (prefix) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const rows = yield* query(
            "list",
            KeyRows,
            sql`SELECT key FROM ${records}
                WHERE ${prefixMatch(prefix)} AND (expires_at IS NULL OR expires_at > ${now})
                ORDER BY key`
          )
          return rows.map((row) => row.key)
        }),

      removePrefix: (prefix) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const rows = yield* query(
            "removePrefix",
            ExpiryRows,
            sql`DELETE FROM ${records} WHERE ${prefixMatch(prefix)} RETURNING expires_at`
          )
          return rows.filter((row) => isLive(row.expires_at, now)).length
        }),

      acquireLease: (key, owner, ttlMillis) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const expiresAt = now + Math.max(0, Math.ceil(ttlMillis))
          const rows = yield* query(
            "acquireLease",
            OwnerRows,
            sql`INSERT INTO ${leases} (key, owner, expires_at) VALUES (${key}, ${owner}, ${expiresAt})
                ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                WHERE ${leases}.expires_at <= ${now} OR ${leases}.owner = excluded.owner
                RETURNING owner`
          )
          return rows.length > 0
        }),

      // Only the owner's own row is extended: a row another owner took, or none (released,
      // purged), means the lease is gone.
      renewLease: (key, owner, ttlMillis) =>
        Effect.gen(function* () {
          const now = yield* currentTime
          const expiresAt = now + Math.max(0, Math.ceil(ttlMillis))
          const rows = yield* query(
            "renewLease",
            OwnerRows,
            sql`UPDATE ${leases} SET expires_at = ${expiresAt}
                WHERE key = ${key} AND owner = ${owner}
                RETURNING owner`
          )
          return rows.length > 0
        }),

      releaseLease: (key, owner) =>
        Effect.asVoid(
          Effect.mapError(
            sql`DELETE FROM ${leases} WHERE key = ${key} AND owner = ${owner}`,
            fromSqlError("releaseLease")
          )
        )
    })
  })
