import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { TokenStore } from "@mobilepay-auth/platform"
import { Effect, Exit, Layer, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import { tokenStoreContract } from "@mobilepay-auth/platform/testing"
import * as PgTokenStore from "@mobilepay-auth/sql-pg/PgTokenStore"

// PostgreSQL tests need a server: `.ci/postgres.sh` starts one and exports the URL. Without
// it they are skipped locally, loudly; in CI a missing or unreachable server is a failure.
const url = process.env["MOBILEPAY_TEST_PG_URL"]
const inCi = process.env["CI"] === "true"

if (url === undefined || url === "") {
  if (inCi) {
    describe("PgTokenStore", () => {
      it("MOBILEPAY_TEST_PG_URL is set (required in CI: source .ci/postgres.sh)", () => {
        expect.fail("MOBILEPAY_TEST_PG_URL is unset in CI: PostgreSQL tests must run, not skip")
      })
    })
  } else {
    console.warn(
      "PostgreSQL tests skipped because MOBILEPAY_TEST_PG_URL is unset (run `. .ci/postgres.sh` to start one)"
    )
  }
}

const enabled = url !== undefined && url !== ""
// Each run gets its own schema, so migrations are tested from scratch and runs never meet.
const schema = `mobilepay_test_${globalThis.crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
const withSchema = (base: string, searchPath: string) => {
  const parsed = new URL(base)
  parsed.searchParams.set("options", `-c search_path=${searchPath}`)
  return Redacted.make(parsed.toString())
}
const admin = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.scoped(
    Effect.flatMap(Layer.build(PgTokenStore.layerClient({ url: Redacted.make(url ?? "") })), (ctx) =>
      Effect.flatMap(Effect.provide(SqlClient.SqlClient, ctx), f)
    )
  )

const storeLayer = PgTokenStore.layer({ url: withSchema(url ?? "postgres://unset", schema) })

describe.skipIf(!enabled)("PgTokenStore", () => {
  beforeAll(() => Effect.runPromise(admin((sql) => sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`)), 30_000)
  afterAll(() => Effect.runPromise(admin((sql) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`)), 30_000)

  tokenStoreContract("PostgreSQL", storeLayer, { shared: true })

  it.live(
    "migrations are serialised: five instances starting at once all succeed, one migration row",
    () =>
      Effect.gen(function* () {
        const fresh = `${schema}_m`
        yield* admin((sql) => sql`CREATE SCHEMA ${sql(fresh)}`)
        const layer = PgTokenStore.layer({ url: withSchema(url ?? "", fresh), maxConnections: 2 })
        const results = yield* Effect.all(
          Array.from({ length: 5 }, () => Effect.exit(Effect.scoped(Layer.build(layer)))),
          { concurrency: "unbounded" }
        )
        expect(results.every(Exit.isSuccess)).toBe(true)
        const rows = yield* admin(
          (sql) => sql`SELECT migration_id FROM ${sql(fresh)}.mobilepay_auth_pg_migrations`
        )
        expect(rows).toEqual([{ migration_id: 1 }])
        yield* admin((sql) => sql`DROP SCHEMA ${sql(fresh)} CASCADE`)
      }),
    60_000
  )

  it.live(
    'keys sort bytewise whatever the database locale (COLLATE "C")',
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const ctx = yield* Layer.build(storeLayer)
          const store = yield* Effect.provide(TokenStore.TokenStore, ctx)
          const prefix = `collate/${globalThis.crypto.randomUUID()}/`
          for (const k of ["b", "B", "a", "_", "A", "a-b", "ab"]) {
            yield* store.put(`${prefix}${k}`, "x", { expectedVersion: 0 })
          }
          const listed = yield* store.list(prefix)
          expect(listed.map((k) => k.slice(prefix.length))).toEqual(["A", "B", "_", "a", "a-b", "ab", "b"])
        })
      ),
    30_000
  )

  it.live(
    "an unreachable server fails the layer with StoreFailure, without echoing the URL",
    () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Effect.scoped(
            Layer.build(
              PgTokenStore.layer({
                url: Redacted.make("postgres://user:hunter2-password@127.0.0.1:9/none"),
                connectTimeout: "2 seconds"
              })
            )
          )
        )
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          const error = exit.cause.error
          expect(error._tag).toBe("StoreFailure")
          expect(error.operation).toBe("connect")
          expect(error.reason).toBe("unavailable")
          expect(JSON.stringify(error) + error.message).not.toContain("hunter2")
        } else {
          expect.fail("expected a typed failure")
        }
      }),
    30_000
  )
})
