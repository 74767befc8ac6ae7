/**
 * Closing a token manager's scope (application shutdown) must not lose a rotated refresh token:
 * an attempt underway finishes and stores its grant, bounded by `shutdownTimeout`, while
 * refreshes that are only waiting stop at once and no new token request starts.
 */
import { describe, expect, it } from "@effect/vitest"
import { SecureRandom } from "@mobilepay-auth/domain"
import { Deferred, Effect, Exit, Fiber, FiberId, Option, Redacted, Scope, TestClock } from "effect"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenVault from "../src/TokenVault.js"
import { rotatedGrant } from "./utils/grants.js"

// A token endpoint with one-time rotation: every answer carries `rt-<n>`. `started` completes when
// a request arrives; the answer then waits for `answer` (a Deferred to release, or never).
const rotating = (key: string, answer: Effect.Effect<void>) => {
  let requests = 0
  const started = Deferred.unsafeMake<void>(FiberId.none)
  const source: TokenManager.TokenSource<never> = {
    key,
    kind: "merchant",
    persistent: true,
    obtain: () =>
      Effect.gen(function* () {
        const n = ++requests
        yield* Deferred.succeed(started, undefined)
        yield* answer
        return rotatedGrant(n, yield* Effect.clockWith((c) => c.currentTimeMillis))
      })
  }
  return { source, started, requests: () => requests }
}

// A manager in its own scope, so the test can close it while the vault lives on.
const managerIn = (scope: Scope.Scope, options?: TokenManager.Options) =>
  Scope.extend(TokenManager.make(options), scope)

// Installs `rt-0` and lets it expire, so the next `get` must refresh.
const expiredGrant = (manager: TokenManager.TokenManager.Service, key: string) =>
  Effect.gen(function* () {
    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    yield* manager.install(key, rotatedGrant(0, now), { persistent: true })
    yield* TestClock.adjust("300 seconds")
  })

// A refresh of `key` (with an expired grant) whose token request has arrived at the server and
// waits there for `release`: past the point where closing may interrupt it.
const refreshUnderway = (manager: TokenManager.TokenManager.Service, key: string) =>
  Effect.gen(function* () {
    const release = yield* Deferred.make<void>()
    const server = rotating(key, Deferred.await(release))
    yield* expiredGrant(manager, key)
    const caller = yield* Effect.fork(manager.get(server.source))
    yield* Deferred.await(server.started)
    return { release, server, caller }
  })

const storedRefreshToken = (manager: TokenManager.TokenManager.Service, key: string) =>
  Effect.map(
    manager.stored(key),
    Option.flatMap((grant) => Option.map(grant.tokens.refreshToken, Redacted.value))
  )

// Lets every runnable fiber (including the manager's daemon fibers) run, without moving the clock.
const settle = Effect.repeatN(TestClock.adjust(0), 5)

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

const run = <A, E>(effect: Effect.Effect<A, E, TokenVault.TokenVault>) =>
  effect.pipe(Effect.provide(TokenVault.layerEphemeral), Effect.provide(SecureRandom.layerWebCrypto))

describe("TokenManager shutdown", () => {
  it.effect("close waits for a refresh underway: the rotated grant is stored before close completes", () =>
    run(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const manager = yield* managerIn(scope)
        const { caller, release, server } = yield* refreshUnderway(manager, "m1")
        const close = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("1 second")
        // rt-0 is spent at the server; closing now would lose rt-1.
        expect(yield* isDone(close)).toBe(false)
        expect(yield* storedRefreshToken(manager, "m1")).toEqual(Option.some("rt-0"))

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(close)
        expect(yield* storedRefreshToken(manager, "m1")).toEqual(Option.some("rt-1"))
        const token = yield* Fiber.join(caller)
        expect(Redacted.value(token.accessToken)).toBe("at-1")
        expect(server.requests()).toBe(1)
      })
    )
  )

  it.effect(
    "a token request that never answers holds close for shutdownTimeout (default 10 s), no longer",
    () =>
      run(
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const manager = yield* managerIn(scope)
          const server = rotating("m1", Effect.never)
          yield* expiredGrant(manager, "m1")

          const caller = yield* Effect.fork(manager.get(server.source))
          yield* Deferred.await(server.started)
          const close = yield* Effect.fork(Scope.close(scope, Exit.void))
          yield* TestClock.adjust("9999 millis")
          expect(yield* isDone(close)).toBe(false)
          yield* TestClock.adjust("1 millis")
          yield* settle
          expect(yield* isDone(close)).toBe(true)
          // The attempt is interrupted after the bound, and its waiter with it.
          const exit = yield* Fiber.await(caller)
          expect(Exit.isInterrupted(exit)).toBe(true)
        })
      )
  )

  it.effect("a refresh that is only waiting (another instance's lease) stops at once on close", () =>
    run(
      Effect.gen(function* () {
        const vault = yield* TokenVault.TokenVault
        const scope = yield* Scope.make()
        const manager = yield* managerIn(scope, { shutdownTimeout: "1 minute" })
        // m1: an attempt underway, which close waits for.
        const { caller: busyCaller, release } = yield* refreshUnderway(manager, "m1")
        // m2: another instance holds the lease, so this refresh polls the store and waits.
        expect(yield* vault.store.acquireLease(TokenManager.grantKey("m2"), "other-instance", 30_000)).toBe(
          true
        )
        const waiting = rotating("m2", Effect.void)
        const waitingCaller = yield* Effect.fork(manager.get(waiting.source))
        yield* TestClock.adjust("200 millis")
        expect(yield* isDone(waitingCaller)).toBe(false)

        const close = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* settle
        // No clock time has passed: the waiting refresh is stopped, not waited out, ...
        expect(yield* isDone(waitingCaller)).toBe(true)
        expect(Exit.isInterrupted(yield* Fiber.await(waitingCaller))).toBe(true)
        expect(waiting.requests()).toBe(0)
        // ... while close still waits for the attempt underway.
        expect(yield* isDone(close)).toBe(false)

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(close)
        expect(Redacted.value((yield* Fiber.join(busyCaller)).accessToken)).toBe("at-1")
        expect(yield* storedRefreshToken(manager, "m1")).toEqual(Option.some("rt-1"))
      })
    )
  )

  it.effect("after close began, no new token request is made: a caller that needs one is interrupted", () =>
    run(
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const manager = yield* managerIn(scope)
        const { release, server: busy } = yield* refreshUnderway(manager, "m1")
        const close = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* settle

        // While close waits for m1, a caller on a key without a token would start a refresh.
        const cold = rotating("m2", Effect.void)
        const during = yield* Effect.fork(manager.get(cold.source))
        yield* settle
        expect(yield* isDone(during)).toBe(true)
        expect(Exit.isInterrupted(yield* Fiber.await(during))).toBe(true)
        expect(cold.requests()).toBe(0)

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(close)
        // Once closed, the same.
        const after = yield* Effect.fork(manager.get(cold.source))
        yield* settle
        expect(yield* isDone(after)).toBe(true)
        expect(Exit.isInterrupted(yield* Fiber.await(after))).toBe(true)
        expect(cold.requests()).toBe(0)
        expect(busy.requests()).toBe(1)
      })
    )
  )
})
