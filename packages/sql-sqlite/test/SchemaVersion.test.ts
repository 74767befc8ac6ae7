/**
 * A database migrated by a newer version of the toolkit is refused when the store opens, with a
 * typed `StoreFailure` (reason `incompatible`), instead of opening and then failing row by row.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import * as SqliteTokenStore from "@mobilepay-auth/sql-sqlite/SqliteTokenStore"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-schema-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("SQLite schema version", () => {
  it.effect("a database a newer version migrated is refused at open: StoreFailure(incompatible)", () =>
    Effect.gen(function* () {
      const filename = Path.join(dir, "newer.db")
      // This version creates and migrates it, and opens it again without complaint.
      yield* Effect.scoped(Layer.build(SqliteTokenStore.layer({ filename })))
      yield* Effect.scoped(Layer.build(SqliteTokenStore.layer({ filename })))
      // A newer version adds its migration.
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(SqliteTokenStore.layerClient({ filename })), (ctx) =>
          Effect.flatMap(
            Effect.provide(SqlClient.SqlClient, ctx),
            (sql) =>
              sql`INSERT INTO mobilepay_auth_sqlite_migrations (migration_id, name) VALUES (2, 'future')`
          )
        )
      )
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(SqliteTokenStore.layer({ filename }))))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect({ ...failure }).toMatchObject({
          _tag: "StoreFailure",
          operation: "open",
          reason: "incompatible"
        })
        expect(failure?.message).toContain("newer version")
      }
    })
  )
})
