/**
 * The durable write of a refreshed grant when the store refuses it. The grant is valid (the
 * provider issued it, and with one-time rotation the refresh token it replaced is spent), so
 * it is never dropped: it is served from memory while the write is retried with backoff until
 * the store takes it. Each refusal is counted on a metric and logged, never handed to callers
 * who can be served.
 *
 * @internal
 */
import type { AuthError } from "@mobilepay-auth/domain"
import { Duration, Effect, Metric } from "effect"

/** @internal */
export const storeWriteFailures = Metric.counter("mobilepay_auth_store_write_failures", {
  description: "refused writes of a refreshed grant (it is served from memory and the write retried)"
})

/** @internal First retry after 100 ms, doubling up to 5 s: store outages are mostly short (a lock, a failover). */
export const backoffMillis = (attempt: number): number =>
  Math.min(5_000, 100 * 2 ** Math.min(16, attempt - 1))

/** @internal */
export type Written = { readonly _tag: "Stored"; readonly version: number } | { readonly _tag: "Conflict" }

/**
 * Counts and logs one refused write (no secret: the key names the grant, the error has none).
 *
 * @internal
 */
export const report = (kind: string, key: string, error: AuthError.StoreFailure, attempt: number) =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(Metric.tagged(storeWriteFailures, "kind", kind), "reason", error.reason)),
    Effect.logWarning(
      "mobilepay_auth: a refreshed grant could not be stored; it is served from memory and the write is retried"
    ).pipe(Effect.annotateLogs({ key, kind, attempt, error: String(error) }))
  )

/**
 * Retries `write` with backoff until it succeeds or meets a compare-and-set conflict (someone
 * else wrote or deleted the record: the caller decides). Never fails; runs until then, so it
 * must run where shutdown bounds it.
 *
 * @internal
 */
export const retryUntilStored = (
  write: Effect.Effect<number, AuthError.StoreFailure>,
  onRefused: (error: AuthError.StoreFailure, attempt: number) => Effect.Effect<void>
): Effect.Effect<Written> => {
  const attempt = (n: number): Effect.Effect<Written> =>
    Effect.sleep(Duration.millis(backoffMillis(n))).pipe(
      Effect.zipRight(Effect.either(write)),
      Effect.flatMap((result) => {
        if (result._tag === "Right") return Effect.succeed<Written>({ _tag: "Stored", version: result.right })
        if (result.left.reason === "conflict") return Effect.succeed<Written>({ _tag: "Conflict" })
        return Effect.zipRight(onRefused(result.left, n + 1), attempt(n + 1))
      })
    )
  return attempt(1)
}
