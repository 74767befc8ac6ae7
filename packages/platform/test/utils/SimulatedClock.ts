/**
 * A `TestClock` for discrete-event simulations of long stretches of time (a day of traffic).
 *
 * Effect's own `TestClock` learns that the fibers an `adjust` woke have finished by polling their
 * status around `setTimeout(0)` three times, about 4 ms per step and per wake-up: a day of calls a
 * minute apart takes seconds of wall time. It also cannot see work parked on a promise (WebCrypto,
 * a body read), which looks suspended. This clock is told what "finished" means instead: `settled`
 * returns once the work started at the current instant is done (the simulation watches refresh
 * spans). Otherwise it behaves like `TestClock`: time moves only through `adjust` and `setTime`,
 * sleepers wake in order of their deadlines with the clock set to each deadline, and an
 * interrupted sleep leaves nothing behind.
 *
 * `install` makes it both the `Clock` and the `TestClock` of an effect, so `TestClock.adjust`
 * drives it and everything built inside (layers, forked fibers) reads it.
 */
import { Chunk, Clock, Context, DefaultServices, Duration, Effect, TestClock } from "effect"

interface Sleeper {
  readonly at: number
  readonly wake: () => void
}

export const make = (settled: Effect.Effect<void>, startMillis = 0): TestClock.TestClock => {
  let instant = startMillis
  // Ordered by deadline; equal deadlines keep the order they were registered in.
  const sleepers: Array<Sleeper> = []

  const sleep = (input: Duration.DurationInput): Effect.Effect<void> => {
    const millis = Duration.toMillis(Duration.decode(input))
    if (!(millis > 0)) return Effect.yieldNow()
    return Effect.async<void>((resume) => {
      const sleeper: Sleeper = { at: instant + millis, wake: () => resume(Effect.void) }
      let i = sleepers.length
      while (i > 0 && (sleepers[i - 1] as Sleeper).at > sleeper.at) i--
      sleepers.splice(i, 0, sleeper)
      return Effect.sync(() => {
        const at = sleepers.indexOf(sleeper)
        if (at >= 0) sleepers.splice(at, 1)
      })
    })
  }

  // Wakes every sleeper due by `end`, one deadline at a time, letting each one's work finish.
  const runTo = (end: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      yield* settled
      for (;;) {
        const next = sleepers[0]
        if (next === undefined || next.at > end) break
        sleepers.shift()
        instant = Math.max(instant, next.at)
        next.wake()
        yield* settled
      }
      instant = end
    })

  const adjust = (input: Duration.DurationInput) =>
    Effect.suspend(() => runTo(instant + Duration.toMillis(Duration.decode(input))))

  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => instant,
    unsafeCurrentTimeNanos: () => BigInt(instant) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => instant),
    currentTimeNanos: Effect.sync(() => BigInt(instant) * 1_000_000n),
    sleep,
    adjust,
    adjustWith:
      (input: Duration.DurationInput) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.zipLeft(effect, adjust(input), { concurrent: true }),
    save: Effect.sync(() => {
      const saved = instant
      return Effect.sync(() => {
        instant = saved
      })
    }),
    setTime: (time: number) => Effect.suspend(() => runTo(time)),
    sleeps: Effect.sync(() => Chunk.fromIterable(sleepers.map((s) => s.at)))
  }
}

/** Runs `effect` with `clock` as its `Clock` and `TestClock`. */
export const install =
  (clock: TestClock.TestClock) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locallyWith(effect, DefaultServices.currentServices, (services) =>
      Context.add(Context.add(services, Clock.Clock, clock), TestClock.TestClock, clock)
    )
