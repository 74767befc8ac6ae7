/**
 * The sandbox's clock: Effect's `Clock` plus an offset that only moves forward. Expiry tests
 * against a running sandbox (a process, a browser, another language's client) cannot swap its
 * `Clock` for a `TestClock`, so the admin API advances this offset instead; under `TestClock` the
 * two add up, so both kinds of test keep working.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"

/** @internal */
export interface Time {
  /** Epoch milliseconds as the sandbox sees them. */
  readonly now: Effect.Effect<number>
  /** Moves the sandbox's clock forward by whole seconds; the new time. */
  readonly advance: (seconds: number) => Effect.Effect<number>
  /** How far (ms) the sandbox's clock runs ahead of Effect's `Clock`. */
  readonly offset: Effect.Effect<number>
}

/** @internal */
export const make = (initialOffsetSeconds: number): Time => {
  let offset = Math.max(0, Math.floor(initialOffsetSeconds)) * 1000
  const now = Effect.map(Clock.currentTimeMillis, (millis) => millis + offset)
  return {
    now,
    advance: (seconds) =>
      Effect.suspend(() => {
        // Backwards would un-expire codes and tokens; the sandbox's time only moves on.
        offset += Math.max(0, Math.floor(seconds)) * 1000
        return now
      }),
    offset: Effect.sync(() => offset)
  }
}
