/**
 * Where tokens survive restarts and are shared between instances. A store keeps opaque
 * records (the `TokenVault` encrypts before anything reaches it), with a version for
 * compare-and-set, an optional expiry, single-use reads, and leases (renewed by their holder
 * while it works) that let exactly one process refresh a key at a time.
 *
 * @since 0.1.0
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Clock, Context, Effect, Layer, Option } from "effect"

/**
 * One stored record. `value` is ciphertext; nothing else in it is secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredRecord {
  readonly key: string
  /** Starts at 1 and grows by one on every write: the compare-and-set token. */
  readonly version: number
  readonly value: string
  /** Epoch ms after which the record is gone (reads return nothing). */
  readonly expiresAt: Option.Option<number>
  readonly updatedAt: number
}

/**
 * Options of {@link TokenStore.Service.put}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutOptions {
  /**
   * The version the writer last read: `0` when it expects no record. A mismatch fails with
   * `StoreFailure` reason `"conflict"` and writes nothing.
   */
  readonly expectedVersion: number
  readonly expiresAt?: number
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenStore extends Context.Tag("@mobilepay-auth/platform/TokenStore")<
  TokenStore,
  TokenStore.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenStore {
  /**
   * The contract every store implements (in-memory, SQLite, PostgreSQL). Expired records
   * behave as absent everywhere.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly get: (key: string) => Effect.Effect<Option.Option<StoredRecord>, AuthError.StoreFailure>
    /** Compare-and-set write; returns the new version. */
    readonly put: (
      key: string,
      value: string,
      options: PutOptions
    ) => Effect.Effect<number, AuthError.StoreFailure>
    /** Deletes a record; true when one was there. */
    readonly remove: (key: string) => Effect.Effect<boolean, AuthError.StoreFailure>
    /** Atomically reads and deletes a record (single use): two takers never both get it. */
    readonly take: (key: string) => Effect.Effect<Option.Option<StoredRecord>, AuthError.StoreFailure>
    /** Keys (of live records) starting with `prefix`, sorted. */
    readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<string>, AuthError.StoreFailure>
    /** Deletes every record whose key starts with `prefix`; returns how many. */
    readonly removePrefix: (prefix: string) => Effect.Effect<number, AuthError.StoreFailure>
    /**
     * Takes the lease on `key` for `ttlMillis` if it is free, expired, or already `owner`'s
     * (then it is extended). True when `owner` now holds it. A crashed holder's lease lapses
     * after its TTL.
     */
    readonly acquireLease: (
      key: string,
      owner: string,
      ttlMillis: number
    ) => Effect.Effect<boolean, AuthError.StoreFailure>
    /**
     * Extends `owner`'s lease on `key` to `ttlMillis` from now, only if nobody else has held it
     * since `owner` took it (a holder renews while its refresh runs, so a slow attempt never
     * outlives its lease). False when the lease was released or another owner took it: the
     * caller must assume another process may be refreshing. A lease that lapsed but that nobody
     * took may still be renewed.
     */
    readonly renewLease: (
      key: string,
      owner: string,
      ttlMillis: number
    ) => Effect.Effect<boolean, AuthError.StoreFailure>
    /** Gives the lease back if `owner` holds it. */
    readonly releaseLease: (key: string, owner: string) => Effect.Effect<void, AuthError.StoreFailure>
    /**
     * True for a store whose records die with the process (the in-memory store): there,
     * `MobilePay.layer` may seal with a random key when no encryption keys are configured.
     * Absent means durable, and a durable store without keys is refused.
     */
    readonly ephemeral?: boolean
  }
}

/**
 * A `StoreFailure` for a compare-and-set mismatch.
 *
 * @since 0.1.0
 * @category errors
 */
export const conflict = (operation: string) =>
  new AuthError.StoreFailure({
    operation,
    reason: "conflict",
    description: "the record changed since it was read"
  })

interface MemoryLease {
  readonly owner: string
  readonly expiresAt: number
}

/**
 * An in-process store: for tests, single-instance tools and caches. Holds only what the
 * vault gives it (ciphertext), like every other store. Time from `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<TokenStore.Service> = Effect.sync(() => {
  const records = new Map<string, StoredRecord>()
  const leases = new Map<string, MemoryLease>()
  const live = (key: string, now: number): Option.Option<StoredRecord> => {
    const record = records.get(key)
    if (record === undefined) return Option.none()
    if (Option.isSome(record.expiresAt) && record.expiresAt.value <= now) {
      records.delete(key)
      return Option.none()
    }
    return Option.some(record)
  }
  return TokenStore.of({
    ephemeral: true,
    get: (key) => Effect.map(Clock.currentTimeMillis, (now) => live(key, now)),
    put: (key, value, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const current = Option.match(live(key, now), { onNone: () => 0, onSome: (r) => r.version })
        if (current !== options.expectedVersion) return Effect.fail(conflict("put"))
        const version = current + 1
        records.set(key, {
          key,
          version,
          value,
          expiresAt: Option.fromNullable(options.expiresAt),
          updatedAt: now
        })
        return Effect.succeed(version)
      }),
    remove: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const existed = Option.isSome(live(key, now))
        records.delete(key)
        return existed
      }),
    take: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const record = live(key, now)
        records.delete(key)
        return record
      }),
    list: (prefix) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        [...records.keys()].filter((key) => key.startsWith(prefix) && Option.isSome(live(key, now))).sort()
      ),
    removePrefix: (prefix) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let n = 0
        for (const key of [...records.keys()]) {
          if (key.startsWith(prefix)) {
            // Expired records count as absent, as in every store.
            if (Option.isSome(live(key, now))) n++
            records.delete(key)
          }
        }
        return n
      }),
    acquireLease: (key, owner, ttlMillis) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const lease = leases.get(key)
        if (lease !== undefined && lease.owner !== owner && lease.expiresAt > now) return false
        leases.set(key, { owner, expiresAt: now + ttlMillis })
        return true
      }),
    renewLease: (key, owner, ttlMillis) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (leases.get(key)?.owner !== owner) return false
        leases.set(key, { owner, expiresAt: now + ttlMillis })
        return true
      }),
    releaseLease: (key, owner) =>
      Effect.sync(() => {
        if (leases.get(key)?.owner === owner) leases.delete(key)
      })
  })
})

/**
 * The in-memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)
