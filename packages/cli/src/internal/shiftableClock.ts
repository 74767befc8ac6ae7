/**
 * A wall clock that can be moved forward: the demo shares one between the in-process
 * sandbox and the client, so "an hour later" takes no time and both sides agree on it.
 */
import { Clock, Duration, Effect } from "effect"

export interface ShiftableClock {
  readonly clock: Clock.Clock
  readonly advance: (duration: Duration.DurationInput) => Effect.Effect<void>
}

export const make = (): ShiftableClock => {
  const base = Clock.make()
  let offsetMillis = 0
  const millis = () => base.unsafeCurrentTimeMillis() + offsetMillis
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + BigInt(offsetMillis) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + BigInt(offsetMillis) * 1_000_000n),
    sleep: (duration) => base.sleep(duration)
  }
  return {
    clock,
    advance: (duration) =>
      Effect.sync(() => {
        offsetMillis += Duration.toMillis(duration)
      })
  }
}
