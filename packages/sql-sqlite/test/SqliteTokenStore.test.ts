import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { TokenStore } from "@mobilepay-auth/platform"
import { ConfigProvider, Effect, Exit, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { tokenStoreContract } from "@mobilepay-auth/platform/testing"
import * as SqliteTokenStore from "@mobilepay-auth/sql-sqlite/SqliteTokenStore"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-sqlite-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

tokenStoreContract("SQLite", SqliteTokenStore.layer({ filename: Path.join(dir, "contract.db") }), {
  shared: true
})

const store = Effect.flatMap(TokenStore.TokenStore, Effect.succeed)

describe("SqliteTokenStore", () => {
  it.effect("opens the file in WAL mode with secure_delete and a busy timeout", () =>
    Effect.gen(function* () {
      const filename = Path.join(dir, "pragmas.db")
      yield* Effect.scoped(Layer.build(SqliteTokenStore.layer({ filename, busyTimeout: "7 seconds" })))
      const rows = yield* Effect.scoped(
        Effect.flatMap(
          Layer.build(SqliteTokenStore.layerClient({ filename, busyTimeout: "7 seconds" })),
          (ctx) =>
            Effect.gen(function* () {
              const sql = yield* Effect.provide(SqlClient.SqlClient, ctx)
              return {
                journal: yield* sql.unsafe("PRAGMA journal_mode"),
                secureDelete: yield* sql.unsafe("PRAGMA secure_delete"),
                busy: yield* sql.unsafe("PRAGMA busy_timeout")
              }
            })
        )
      )
      expect(rows.journal).toEqual([{ journal_mode: "wal" }])
      expect(rows.secureDelete).toEqual([{ secure_delete: 1 }])
      expect(rows.busy).toEqual([{ timeout: 7000 }])
    })
  )

  it.effect("migrations run once and are idempotent across restarts; data survives", () =>
    Effect.gen(function* () {
      const filename = Path.join(dir, "restart.db")
      const layer = SqliteTokenStore.layer({ filename })
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(layer), (ctx) =>
          Effect.flatMap(Effect.provide(store, ctx), (s) =>
            s.put("merchant/DK1/refresh", "sealed", { expectedVersion: 0 })
          )
        )
      )
      for (let i = 0; i < 3; i++) {
        const record = yield* Effect.scoped(
          Effect.flatMap(Layer.build(layer), (ctx) =>
            Effect.flatMap(Effect.provide(store, ctx), (s) => s.get("merchant/DK1/refresh"))
          )
        )
        expect(Option.map(record, (r) => [r.value, r.version])).toEqual(Option.some(["sealed", 1]))
      }
      const migrations = yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteTokenStore.layerClient({ filename })), (ctx) =>
          Effect.flatMap(
            Effect.provide(SqlClient.SqlClient, ctx),
            (sql) => sql`SELECT migration_id, name FROM mobilepay_auth_sqlite_migrations`
          )
        )
      )
      expect(migrations).toEqual([{ migration_id: 1, name: "records_and_leases" }])
    })
  )

  it.effect("layerConfig: MOBILEPAY_DATA_DIR, directory created, tokens.db readable by its owner only", () =>
    Effect.gen(function* () {
      const dataDir = Path.join(dir, "nested", "data")
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteTokenStore.layerConfig()), (ctx) =>
          Effect.flatMap(Effect.provide(store, ctx), (s) => s.put("k", "v", { expectedVersion: 0 }))
        )
      ).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["MOBILEPAY_DATA_DIR", dataDir]]))))
      const file = Path.join(dataDir, SqliteTokenStore.defaultFileName)
      expect(Fs.existsSync(file)).toBe(true)
      expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(Fs.statSync(dataDir).mode & 0o077).toBe(0)
    })
  )

  it.effect("a file that is not a database fails with StoreFailure, not a defect", () =>
    Effect.gen(function* () {
      const filename = Path.join(dir, "garbage.db")
      Fs.writeFileSync(filename, "this is not a SQLite database, just some text ".repeat(100))
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(SqliteTokenStore.layer({ filename }))))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(failure?._tag).toBe("StoreFailure")
        expect(failure?.reason).toBeOneOf(["unavailable", "other"])
      }
    })
  )

  it.effect("SQL failures become StoreFailure naming the operation, without keys or values", () =>
    Effect.gen(function* () {
      const filename = Path.join(dir, "broken.db")
      const secretKey = "merchant/DK99999999/refresh-secret-key"
      const failure = yield* Effect.scoped(
        Effect.gen(function* () {
          const ctx = yield* Layer.build(
            Layer.merge(SqliteTokenStore.layer({ filename }), SqliteTokenStore.layerClient({ filename }))
          )
          const s = yield* Effect.provide(store, ctx)
          const sql = yield* Effect.provide(SqlClient.SqlClient, ctx)
          yield* sql`DROP TABLE mobilepay_auth_records`
          return yield* Effect.flip(s.put(secretKey, "sealed-secret-value", { expectedVersion: 0 }))
        })
      )
      expect(failure._tag).toBe("StoreFailure")
      expect(failure.operation).toBe("put")
      expect(failure.message).not.toContain("secret")
      expect(JSON.stringify(failure)).not.toContain("secret")
    })
  )
})
