/**
 * Storage benchmark: reads and compare-and-set writes per second on SQLite and PostgreSQL,
 * and the time to load 100,000 merchants' grants at start (list, read, decrypt, decode every
 * one), each against the in-memory store measured in the same run as the baseline.
 * PostgreSQL runs when MOBILEPAY_TEST_PG_URL is set (CI sets it; `source .ci/postgres.sh`).
 */
import { SecureRandom, Token } from "@mobilepay-auth/domain"
import { Grant, TokenCipher, TokenStore, TokenVault } from "@mobilepay-auth/platform"
import { PgTokenStore } from "@mobilepay-auth/sql-pg"
import { SqliteTokenStore } from "@mobilepay-auth/sql-sqlite"
import { Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface StorageRow {
  readonly store: string
  readonly readsPerSecond: number
  readonly writesPerSecond: number
  readonly load100kMillis: number
  readonly grants: number
}

const OPS = 5_000
const GRANTS = Number(process.env.MOBILEPAY_BENCH_GRANTS ?? 100_000)

const grantOf = (i: number): Grant.Grant => ({
  tokens: Token.fromResponse(
    {
      access_token: Redacted.make(`eyJ.access.${i}.${"x".repeat(600)}`),
      token_type: "Bearer",
      expires_in: 300,
      refresh_token: Redacted.make(`refresh-${i}-${"y".repeat(40)}`),
      scope: "openid offline_access invoice"
    },
    Date.now()
  ),
  attributes: { codeVerifier: `verifier-${i}-${"z".repeat(30)}`, merchantVat: `DK${10_000_000 + i}` }
})

const measure = (store: string) =>
  Effect.gen(function* () {
    const vault = yield* TokenVault.TokenVault
    const raw = vault.store
    // Leave no trace, before and after (PostgreSQL is shared with the tests).
    const clean = Effect.all([raw.remove("bench:key"), raw.removePrefix("grant:merchant:bench:")])
    yield* clean
    // Reads and CAS writes on one key, sequential: the latency a refresh path sees.
    yield* raw.put("bench:key", "v".repeat(800), { expectedVersion: 0 })
    let t = performance.now()
    for (let i = 0; i < OPS; i++) yield* raw.get("bench:key")
    const readsPerSecond = OPS / ((performance.now() - t) / 1000)
    let version = 1
    t = performance.now()
    for (let i = 0; i < OPS; i++)
      version = yield* raw.put("bench:key", "w".repeat(800), { expectedVersion: version })
    const writesPerSecond = OPS / ((performance.now() - t) / 1000)

    // 100,000 sealed grants (written first, not timed), then a full load at start.
    yield* Effect.forEach(
      Array.from({ length: GRANTS }, (_, i) => i),
      (i) => vault.put(Grant.GrantSchema, `grant:merchant:bench:${i}`, grantOf(i), { expectedVersion: 0 }),
      { concurrency: 16, discard: true }
    )
    t = performance.now()
    const keys = yield* raw.list("grant:merchant:bench:")
    let loaded = 0
    yield* Effect.forEach(
      keys,
      (key) => Effect.map(vault.get(Grant.GrantSchema, key), (g) => (loaded += Option.isSome(g) ? 1 : 0)),
      { concurrency: 16, discard: true }
    )
    const load100kMillis = performance.now() - t
    yield* clean
    return { store, readsPerSecond, writesPerSecond, load100kMillis, grants: loaded } satisfies StorageRow
  })

const vaultOn = <E>(store: Layer.Layer<TokenStore.TokenStore, E>) =>
  TokenVault.layer.pipe(
    Layer.provideMerge(
      TokenCipher.layer([{ id: "bench", secret: Redacted.make(Buffer.alloc(32, 9).toString("base64")) }])
    ),
    Layer.provide(store),
    Layer.provide(SecureRandom.layerWebCrypto)
  )

export const runStorage: Effect.Effect<ReadonlyArray<StorageRow>, unknown> = Effect.gen(function* () {
  const rows: Array<StorageRow> = []
  rows.push(yield* measure("memory (baseline)").pipe(Effect.provide(vaultOn(TokenStore.layerMemory))))
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-bench-"))
  try {
    rows.push(
      yield* measure("sqlite").pipe(
        Effect.provide(vaultOn(SqliteTokenStore.layer({ filename: Path.join(dir, "tokens.db") })))
      )
    )
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
  const pg = process.env.MOBILEPAY_TEST_PG_URL
  if (pg !== undefined) {
    rows.push(
      yield* measure("postgresql").pipe(
        Effect.provide(vaultOn(PgTokenStore.layer({ url: Redacted.make(pg) })))
      )
    )
  } else {
    console.warn("storage bench: PostgreSQL skipped (MOBILEPAY_TEST_PG_URL is unset; source .ci/postgres.sh)")
  }
  return rows
})
