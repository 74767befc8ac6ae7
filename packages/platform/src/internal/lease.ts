/**
 * A store lease held for the life of a scope. The holder renews it every third of its TTL, so
 * an attempt that outlasts one TTL (timeouts, retries, a long `Retry-After`) keeps it, while a
 * holder that dies stops renewing and its lease lapses after one TTL. A renewal that finds the
 * lease gone (another owner took it) marks the hold lost: the holder must not start a request.
 *
 * @internal
 */
import { Duration, Effect, Ref, type Scope } from "effect"
import type { TokenStore } from "../TokenStore.js"

/** @internal */
export interface Held {
  /** True once a renewal found that another owner holds (or held) the lease since. */
  readonly lost: Effect.Effect<boolean>
}

/** @internal How often a holder renews: a third of the TTL, so two renewals may fail before it lapses. */
export const renewEvery = (ttlMillis: number): number => Math.max(1, Math.floor(ttlMillis / 3))

/**
 * Keeps a lease that `owner` has just acquired until the scope closes, then releases it. A failed
 * renewal (the store briefly unavailable) is retried at the next tick: the lease lapses only
 * if the store stays unreachable for the rest of the TTL.
 *
 * @internal
 */
export const hold = (
  store: TokenStore.Service,
  key: string,
  owner: string,
  ttlMillis: number
): Effect.Effect<Held, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lost = yield* Ref.make(false)
    // Released after the renewal fiber stops (finalizers run in reverse order).
    yield* Effect.addFinalizer(() => Effect.ignore(store.releaseLease(key, owner)))
    const renew = store
      .renewLease(key, owner, ttlMillis)
      .pipe(
        Effect.catchAll((error) =>
          Effect.as(
            Effect.logDebug("mobilepay_auth: lease renewal failed; retrying").pipe(
              Effect.annotateLogs({ key, reason: error.reason })
            ),
            true
          )
        )
      )
    const loop: Effect.Effect<void> = Effect.flatMap(
      Effect.zipRight(Effect.sleep(Duration.millis(renewEvery(ttlMillis))), renew),
      (kept) => (kept ? loop : Ref.set(lost, true))
    )
    yield* Effect.forkScoped(loop)
    return { lost: Ref.get(lost) }
  })
