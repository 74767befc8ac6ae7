/**
 * The `TokenStore` contract as a reusable suite: every store (in-memory, SQLite,
 * PostgreSQL, or an integrator's own) must pass it. Time comes from `TestClock`, so expiry
 * and lease tests run instantly; keys carry a per-run prefix, so a persistent database can
 * be reused between runs.
 *
 * @since 0.1.0
 */
import { describe, expect, it, layer } from "@effect/vitest"
import type { AuthError } from "@mobilepay-auth/domain"
import { Context, Effect, Layer, Option, TestClock } from "effect"
import type { Scope } from "effect"
import * as TokenStore from "./TokenStore.js"

/**
 * @since 0.1.0
 */
export interface ContractOptions {
  /**
   * True when two instances built from the layer share their data (a database), false for
   * stores whose every instance is separate (in-memory). Enables the cross-instance races.
   */
  readonly shared: boolean
  /** Time to build the layer (connect, migrate). Default 30 seconds. */
  readonly timeout?: number
}

const expectConflict = (error: AuthError.StoreFailure) => {
  expect(error._tag).toBe("StoreFailure")
  expect(error.reason).toBe("conflict")
}

const ofSome = <A>(option: Option.Option<A>): A => {
  if (Option.isNone(option)) return expect.fail("expected Some, got None")
  return option.value
}

/**
 * Registers the contract tests for a store under `describe(name)`.
 *
 * @since 0.1.0
 */
export const tokenStoreContract = <E>(
  name: string,
  storeLayer: Layer.Layer<TokenStore.TokenStore, E>,
  options: ContractOptions
): void => {
  const run = globalThis.crypto.randomUUID().slice(0, 8)
  let counter = 0
  /** A key prefix no other test (or earlier run against the same database) uses. */
  const fresh = (label: string) => `contract/${run}/${++counter}-${label}/`

  /** A separate instance (own connections), built in the test's scope. */
  const anotherInstance: Effect.Effect<TokenStore.TokenStore.Service, E, Scope.Scope> = Effect.map(
    Layer.build(storeLayer),
    (context) => Context.get(context, TokenStore.TokenStore)
  )

  describe(`TokenStore contract: ${name}`, () => {
    layer(storeLayer, { timeout: options.timeout ?? 30_000 })((it) => {
      it.effect("get of an absent key is None", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          expect(Option.isNone(yield* store.get(`${fresh("absent")}k`))).toBe(true)
        })
      )

      it.effect("put with expectedVersion 0 creates version 1, stamped with Clock time", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("create")}k`
          yield* TestClock.setTime(1_000)
          expect(yield* store.put(key, "v1.kid.iv.ct", { expectedVersion: 0 })).toBe(1)
          const record = ofSome(yield* store.get(key))
          expect(record).toEqual({
            key,
            version: 1,
            value: "v1.kid.iv.ct",
            expiresAt: Option.none(),
            updatedAt: 1_000
          })
        })
      )

      it.effect("every write increments the version by one", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("versions")}k`
          const versions: Array<number> = []
          for (let expected = 0; expected < 5; expected++) {
            versions.push(yield* store.put(key, `value-${expected}`, { expectedVersion: expected }))
          }
          expect(versions).toEqual([1, 2, 3, 4, 5])
          const record = ofSome(yield* store.get(key))
          expect(record.version).toBe(5)
          expect(record.value).toBe("value-4")
        })
      )

      it.effect("a stale or wrong expectedVersion fails with conflict and writes nothing", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("conflict")}k`
          yield* store.put(key, "first", { expectedVersion: 0 })
          yield* store.put(key, "second", { expectedVersion: 1 })
          expectConflict(yield* Effect.flip(store.put(key, "stale", { expectedVersion: 1 })))
          expectConflict(yield* Effect.flip(store.put(key, "create-again", { expectedVersion: 0 })))
          expectConflict(yield* Effect.flip(store.put(key, "ahead", { expectedVersion: 7 })))
          const record = ofSome(yield* store.get(key))
          expect(record.value).toBe("second")
          expect(record.version).toBe(2)
        })
      )

      it.effect("put with a nonzero expectedVersion on an absent key conflicts and creates nothing", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("absent-cas")}k`
          expectConflict(yield* Effect.flip(store.put(key, "x", { expectedVersion: 1 })))
          expect(Option.isNone(yield* store.get(key))).toBe(true)
        })
      )

      it.effect("concurrent writers from the same version: exactly one wins", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("cas-race")}k`
          yield* store.put(key, "base", { expectedVersion: 0 })
          const results = yield* Effect.all(
            Array.from({ length: 20 }, (_, i) =>
              Effect.either(store.put(key, `w${i}`, { expectedVersion: 1 }))
            ),
            { concurrency: "unbounded" }
          )
          const winners = results.filter((r) => r._tag === "Right")
          expect(winners.length).toBe(1)
          const record = ofSome(yield* store.get(key))
          expect(record.version).toBe(2)
        })
      )

      it.effect("values come back byte for byte (long, non-ASCII, separators)", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("value")}k æøå/%_`
          const value = `v1.k_1-2.${"AbC-_09".repeat(10_000)}.æøå✓%_'"\\`
          yield* store.put(key, value, { expectedVersion: 0 })
          expect(ofSome(yield* store.get(key)).value).toBe(value)
          expect(yield* store.list(key)).toEqual([key])
        })
      )

      it.effect("a record is absent once its expiresAt is reached (TestClock)", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const prefix = fresh("expiry")
          const key = `${prefix}k`
          yield* TestClock.setTime(10_000)
          yield* store.put(key, "short-lived", { expectedVersion: 0, expiresAt: 12_000 })
          const record = ofSome(yield* store.get(key))
          expect(record.expiresAt).toEqual(Option.some(12_000))
          yield* TestClock.adjust(1_999)
          expect(Option.isSome(yield* store.get(key))).toBe(true)
          yield* TestClock.adjust(1)
          expect(Option.isNone(yield* store.get(key))).toBe(true)
          expect(yield* store.list(prefix)).toEqual([])
          expect(Option.isNone(yield* store.take(key))).toBe(true)
          expect(yield* store.remove(key)).toBe(false)
        })
      )

      it.effect("an expired record counts as absent for compare-and-set", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("expired-cas")}k`
          yield* TestClock.setTime(5_000)
          yield* store.put(key, "old", { expectedVersion: 0, expiresAt: 6_000 })
          yield* TestClock.adjust(1_000)
          // The old version no longer exists: writing over it must not succeed.
          expectConflict(yield* Effect.flip(store.put(key, "over-expired", { expectedVersion: 1 })))
          expect(yield* store.put(key, "new", { expectedVersion: 0 })).toBe(1)
          const record = ofSome(yield* store.get(key))
          expect(record.value).toBe("new")
          expect(record.expiresAt).toEqual(Option.none())
        })
      )

      it.effect("a record written with expiresAt in the past is absent at once", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("past")}k`
          yield* TestClock.setTime(50_000)
          yield* store.put(key, "stillborn", { expectedVersion: 0, expiresAt: 49_000 })
          expect(Option.isNone(yield* store.get(key))).toBe(true)
        })
      )

      it.effect("rewriting can extend or clear the expiry", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("extend")}k`
          yield* TestClock.setTime(1_000)
          yield* store.put(key, "a", { expectedVersion: 0, expiresAt: 2_000 })
          yield* store.put(key, "b", { expectedVersion: 1 })
          yield* TestClock.adjust(5_000)
          expect(ofSome(yield* store.get(key)).value).toBe("b")
        })
      )

      it.effect("take returns the record once and deletes it", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("take")}k`
          yield* store.put(key, "pending", { expectedVersion: 0 })
          const taken = ofSome(yield* store.take(key))
          expect(taken.value).toBe("pending")
          expect(taken.version).toBe(1)
          expect(Option.isNone(yield* store.take(key))).toBe(true)
          expect(Option.isNone(yield* store.get(key))).toBe(true)
        })
      )

      it.effect("take is single use under concurrency: 50 concurrent takes, exactly one Some", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("take-race")}k`
          yield* store.put(key, "code", { expectedVersion: 0 })
          const results = yield* Effect.all(
            Array.from({ length: 50 }, () => store.take(key)),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Option.isSome).length).toBe(1)
        })
      )

      it.effect("remove reports whether a record was there", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("remove")}k`
          yield* store.put(key, "x", { expectedVersion: 0 })
          expect(yield* store.remove(key)).toBe(true)
          expect(yield* store.remove(key)).toBe(false)
          expect(Option.isNone(yield* store.get(key))).toBe(true)
          // After removal the key starts again from version 1.
          expect(yield* store.put(key, "y", { expectedVersion: 0 })).toBe(1)
        })
      )

      it.effect("list returns live keys with the prefix, sorted, matching the prefix literally", () =>
        Effect.gen(function* () {
          const prefix = fresh("list")
          const store = yield* TokenStore.TokenStore
          const keys = [
            "merchant/DK2/refresh",
            "merchant/DK1/refresh",
            "merchant/DK1/access",
            "merchant/DK10/refresh",
            "Merchant/DK1/refresh",
            "merchants/x",
            "merchant%/x",
            "merchant_/x",
            "integrator/a"
          ]
          for (const key of keys) yield* store.put(`${prefix}${key}`, "x", { expectedVersion: 0 })
          expect(yield* store.list(`${prefix}merchant/`)).toEqual(
            [
              "merchant/DK1/access",
              "merchant/DK1/refresh",
              "merchant/DK10/refresh",
              "merchant/DK2/refresh"
            ].map((k) => `${prefix}${k}`)
          )
          expect(yield* store.list(`${prefix}merchant/DK1/`)).toEqual(
            ["merchant/DK1/access", "merchant/DK1/refresh"].map((k) => `${prefix}${k}`)
          )
          expect(yield* store.list(`${prefix}merchant%`)).toEqual([`${prefix}merchant%/x`])
          expect(yield* store.list(`${prefix}merchant_`)).toEqual([`${prefix}merchant_/x`])
          expect(yield* store.list(`${prefix}nothing`)).toEqual([])
          expect((yield* store.list(prefix)).length).toBe(keys.length)
          expect(yield* store.list(prefix)).toEqual(keys.map((k) => `${prefix}${k}`).sort())
        })
      )

      it.effect("removePrefix deletes exactly the keys with the prefix and counts them", () =>
        Effect.gen(function* () {
          const prefix = fresh("remove-prefix")
          const store = yield* TokenStore.TokenStore
          for (const key of ["m/DK1/a", "m/DK1/b", "m/DK1/c", "m/DK12/a", "m/DK2/a"]) {
            yield* store.put(`${prefix}${key}`, "x", { expectedVersion: 0 })
          }
          expect(yield* store.removePrefix(`${prefix}m/DK1/`)).toBe(3)
          expect(yield* store.list(prefix)).toEqual([`${prefix}m/DK12/a`, `${prefix}m/DK2/a`])
          expect(yield* store.removePrefix(`${prefix}m/DK1/`)).toBe(0)
          expect(yield* store.removePrefix(prefix)).toBe(2)
          expect(yield* store.list(prefix)).toEqual([])
        })
      )

      it.effect("lease: acquire, deny to others, extend by its owner, release", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("lease")}k`
          yield* TestClock.setTime(100_000)
          expect(yield* store.acquireLease(key, "a", 1_000)).toBe(true)
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(false)
          yield* TestClock.adjust(800)
          expect(yield* store.acquireLease(key, "a", 1_000)).toBe(true) // extended to 101_800
          yield* TestClock.adjust(500) // 101_300: would have lapsed without the extension
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(false)
          yield* store.releaseLease(key, "b") // not b's: no effect
          expect(yield* store.acquireLease(key, "c", 1_000)).toBe(false)
          yield* store.releaseLease(key, "a")
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(true)
        })
      )

      it.effect("lease: a crashed holder's lease lapses after its TTL", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("lease-ttl")}k`
          yield* TestClock.setTime(200_000)
          expect(yield* store.acquireLease(key, "crashed", 30_000)).toBe(true)
          yield* TestClock.adjust(29_999)
          expect(yield* store.acquireLease(key, "next", 30_000)).toBe(false)
          yield* TestClock.adjust(1)
          expect(yield* store.acquireLease(key, "next", 30_000)).toBe(true)
          // The lapsed holder no longer holds it and cannot release the new one.
          yield* store.releaseLease(key, "crashed")
          expect(yield* store.acquireLease(key, "crashed", 30_000)).toBe(false)
        })
      )

      it.effect("lease: renew extends only the holder's own lease, from now", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("lease-renew")}k`
          yield* TestClock.setTime(300_000)
          expect(yield* store.renewLease(key, "a", 1_000)).toBe(false) // nobody holds it
          expect(yield* store.acquireLease(key, "a", 1_000)).toBe(true)
          expect(yield* store.renewLease(key, "b", 1_000)).toBe(false) // not b's
          yield* TestClock.adjust(900)
          expect(yield* store.renewLease(key, "a", 1_000)).toBe(true) // now until 301_900
          yield* TestClock.adjust(900) // 301_800: would have lapsed at 301_000
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(false)
          yield* TestClock.adjust(100) // 301_900: lapsed
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(true)
          // Another owner took it: the old holder's renewal fails and changes nothing.
          expect(yield* store.renewLease(key, "a", 60_000)).toBe(false)
          yield* TestClock.adjust(1_000)
          expect(yield* store.acquireLease(key, "a", 1_000)).toBe(true)
        })
      )

      it.effect("lease: renew after release fails and takes nothing", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("lease-renew-released")}k`
          yield* TestClock.setTime(400_000)
          expect(yield* store.acquireLease(key, "a", 1_000)).toBe(true)
          yield* store.releaseLease(key, "a")
          expect(yield* store.renewLease(key, "a", 1_000)).toBe(false)
          expect(yield* store.acquireLease(key, "b", 1_000)).toBe(true)
        })
      )

      it.effect("lease: leases are per key and independent of records", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const prefix = fresh("lease-keys")
          expect(yield* store.acquireLease(`${prefix}a`, "x", 1_000)).toBe(true)
          expect(yield* store.acquireLease(`${prefix}b`, "y", 1_000)).toBe(true)
          expect(yield* store.list(prefix)).toEqual([])
          yield* store.put(`${prefix}a`, "record", { expectedVersion: 0 })
          expect(yield* store.take(`${prefix}a`)).toSatisfy(Option.isSome)
          expect(yield* store.acquireLease(`${prefix}a`, "y", 1_000)).toBe(false)
        })
      )

      it.effect("lease: 30 concurrent owners, exactly one acquires", () =>
        Effect.gen(function* () {
          const store = yield* TokenStore.TokenStore
          const key = `${fresh("lease-race")}k`
          const results = yield* Effect.all(
            Array.from({ length: 30 }, (_, i) => store.acquireLease(key, `owner-${i}`, 10_000)),
            { concurrency: "unbounded" }
          )
          expect(results.filter((r) => r).length).toBe(1)
        })
      )
    })

    if (options.shared) {
      describe("two instances on the same data", () => {
        const two = Effect.all([anotherInstance, anotherInstance])

        it.scoped(
          "a write through one instance is read, and compare-and-set against, by the other",
          () =>
            Effect.gen(function* () {
              const [a, b] = yield* two
              const key = `${fresh("shared")}k`
              yield* a.put(key, "from-a", { expectedVersion: 0 })
              expect(ofSome(yield* b.get(key)).value).toBe("from-a")
              expect(yield* b.put(key, "from-b", { expectedVersion: 1 })).toBe(2)
              expectConflict(yield* Effect.flip(a.put(key, "stale-a", { expectedVersion: 1 })))
              expect(ofSome(yield* a.get(key)).value).toBe("from-b")
            }),
          options.timeout ?? 30_000
        )

        it.scoped(
          "take across instances: exactly one Some",
          () =>
            Effect.gen(function* () {
              const [a, b] = yield* two
              for (let round = 0; round < 5; round++) {
                const key = `${fresh("shared-take")}k`
                yield* a.put(key, "code", { expectedVersion: 0 })
                const results = yield* Effect.all(
                  Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).take(key)),
                  { concurrency: "unbounded" }
                )
                expect(results.filter(Option.isSome).length).toBe(1)
              }
            }),
          options.timeout ?? 30_000
        )

        it.scoped(
          "compare-and-set and leases across instances: exactly one winner",
          () =>
            Effect.gen(function* () {
              const [a, b] = yield* two
              const key = `${fresh("shared-cas")}k`
              const created = yield* Effect.all(
                Array.from({ length: 10 }, (_, i) =>
                  Effect.either((i % 2 === 0 ? a : b).put(key, `w${i}`, { expectedVersion: 0 }))
                ),
                { concurrency: "unbounded" }
              )
              expect(created.filter((r) => r._tag === "Right").length).toBe(1)
              const leases = yield* Effect.all(
                Array.from({ length: 10 }, (_, i) =>
                  (i % 2 === 0 ? a : b).acquireLease(key, `o${i}`, 60_000)
                ),
                { concurrency: "unbounded" }
              )
              expect(leases.filter((r) => r).length).toBe(1)
              // Only the winner can renew it, through either instance.
              const renewed = yield* Effect.all(
                Array.from({ length: 10 }, (_, i) => (i % 2 === 1 ? a : b).renewLease(key, `o${i}`, 60_000)),
                { concurrency: "unbounded" }
              )
              expect(renewed).toEqual(leases)
            }),
          options.timeout ?? 30_000
        )
      })
    }
  })
}
