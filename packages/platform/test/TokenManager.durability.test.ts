/**
 * Never lose a grant: a refreshed grant survives a store that refuses the write, a lease
 * outlived by a slow token endpoint, and an `invalid_grant` meant for a spent token; a removed
 * grant stays removed. Instances are token managers over one in-memory store (each through its
 * own wrapper where a test breaks one of them), the token endpoint a one-time-rotation fake,
 * time the `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import { AuthError, SecureRandom } from "@mobilepay-auth/domain"
import {
  Duration,
  Effect,
  Either,
  Fiber,
  Logger,
  Metric,
  Option,
  Redacted,
  type Scope,
  TestClock
} from "effect"
import type { Grant } from "../src/Grant.js"
import * as TokenCipher from "../src/TokenCipher.js"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenStore from "../src/TokenStore.js"
import * as TokenVault from "../src/TokenVault.js"
import { rotatedGrant } from "./utils/grants.js"

// A token endpoint with one-time rotation, deciding when it answers: a refresh token that is
// not the latest is refused with `invalid_grant`. `failNext` answers the next requests 503.
const oneTimeServer = () => {
  let valid = "rt-0"
  let issued = 0
  const stats = { requests: 0, answered: 0, invalidGrants: 0, sent: [] as Array<string> }
  let failNext = 0
  const source = (
    key: string,
    delay: Duration.DurationInput = 0
  ): TokenManager.TokenSource<AuthError.InvalidGrant | AuthError.Transport> => ({
    key,
    kind: "merchant",
    persistent: true,
    obtain: (current) =>
      Effect.gen(function* () {
        stats.requests++
        const sent = Option.getOrElse(
          Option.map(
            Option.flatMap(current, (g) => g.tokens.refreshToken),
            Redacted.value
          ),
          () => "none"
        )
        stats.sent.push(sent)
        yield* Effect.sleep(delay)
        stats.answered++
        if (failNext > 0) {
          failNext--
          return yield* Effect.fail(new AuthError.Transport({ reason: "server-error", status: 503 }))
        }
        if (sent !== valid) {
          stats.invalidGrants++
          return yield* Effect.fail(new AuthError.InvalidGrant({ status: 400 }))
        }
        valid = `rt-${++issued}`
        return rotatedGrant(issued, yield* Effect.clockWith((c) => c.currentTimeMillis))
      })
  })
  return { source, stats, failNextRequests: (n: number) => (failNext = n) }
}

// A store that refuses grant writes while `refusing` (a full disk, a read-only file) and can
// pretend every lease is free (a store whose leases do not work).
const faulty = (inner: TokenStore.TokenStore.Service) => {
  const control = { refusing: false, leasesAlwaysFree: false }
  const store: TokenStore.TokenStore.Service = {
    ...inner,
    put: (key, value, options) =>
      control.refusing && key.startsWith("grant:")
        ? Effect.fail(
            new AuthError.StoreFailure({
              operation: "put",
              reason: "unavailable",
              description: "disk full (test)"
            })
          )
        : inner.put(key, value, options),
    acquireLease: (key, owner, ttl) =>
      control.leasesAlwaysFree ? Effect.succeed(true) : inner.acquireLease(key, owner, ttl)
  }
  return { store, control }
}

// Two or more instances on one store: each gets its own vault (same key) and manager.
const cluster = Effect.gen(function* () {
  const secret = yield* TokenCipher.generateKey
  const cipher = yield* Effect.orDie(TokenCipher.make([{ id: "k1", secret }]))
  const shared = yield* TokenStore.makeMemory
  const instance = (
    owner: string,
    store: TokenStore.TokenStore.Service = shared,
    options: TokenManager.Options = {}
  ): Effect.Effect<TokenManager.TokenManager.Service, never, Scope.Scope> =>
    Effect.flatMap(
      TokenVault.make.pipe(
        Effect.provideService(TokenStore.TokenStore, store),
        Effect.provideService(TokenCipher.TokenCipher, cipher)
      ),
      (vault) =>
        TokenManager.make({ owner, ...options }).pipe(Effect.provideService(TokenVault.TokenVault, vault))
    )
  return { shared, instance }
})

const refreshTokenOf = (grant: Option.Option<Grant>) =>
  Option.getOrUndefined(Option.flatMap(grant, (g) => Option.map(g.tokens.refreshToken, Redacted.value)))

const accessTokenOf = (
  result: Either.Either<{ readonly accessToken: Redacted.Redacted<string> }, unknown>
) =>
  Either.isRight(result)
    ? Redacted.value(result.right.accessToken)
    : `error:${(result.left as { _tag: string })._tag}`

// Every fiber that can run, runs; the clock does not move.
const settle = Effect.repeatN(TestClock.adjust(0), 10)

const writeFailures = (kind: string) =>
  Effect.map(
    Metric.value(
      Metric.tagged(
        Metric.tagged(TokenManager.metrics.storeWriteFailures, "kind", kind),
        "reason",
        "unavailable"
      )
    ),
    (state) => state.count
  )

const capturedLogs = () => {
  const lines: Array<{ level: string; message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: String(Array.isArray(message) ? message.join(" ") : message)
    })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(SecureRandom.layerWebCrypto))

describe("a refreshed grant the store refuses to take", () => {
  it.effect(
    "single instance: served from memory, written when the store recovers, spent token never sent again",
    () => {
      const logs = capturedLogs()
      return run(
        Effect.gen(function* () {
          const { instance, shared } = yield* cluster
          const broken = faulty(shared)
          const a = yield* instance("a", broken.store)
          const server = oneTimeServer()
          const source = { ...server.source("m1"), kind: "durability-single" }
          yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
            persistent: true
          })
          broken.control.refusing = true
          yield* TestClock.adjust("280 seconds")

          // The refresh succeeds, the write is refused: the caller is served the new token.
          expect(accessTokenOf(yield* Effect.either(a.get(source)))).toBe("at-1")
          expect(refreshTokenOf(yield* a.stored("m1"))).toBe("rt-0")
          expect(yield* writeFailures("durability-single")).toBeGreaterThanOrEqual(1)
          expect(
            logs.lines.some((l) => l.level === "WARN" && l.message.includes("could not be stored"))
          ).toBe(true)

          // The store stays unwritable past the new token's freshness: callers who cannot be
          // served get the store's error, and rt-0 (spent) is never presented.
          yield* TestClock.adjust("275 seconds")
          const stale = yield* Effect.flip(a.get(source))
          expect(stale._tag).toBe("StoreFailure")
          expect(server.stats).toMatchObject({ requests: 1, invalidGrants: 0 })

          // The store recovers: the retried write lands, and the next refresh sends rt-1.
          broken.control.refusing = false
          yield* TestClock.adjust("5 seconds")
          expect(refreshTokenOf(yield* a.stored("m1"))).toBe("rt-1")
          expect(accessTokenOf(yield* Effect.either(a.get(source)))).toBe("at-2")
          expect(server.stats).toMatchObject({ requests: 2, invalidGrants: 0, sent: ["rt-0", "rt-1"] })
          expect(refreshTokenOf(yield* a.stored("m1"))).toBe("rt-2")
        }).pipe(Effect.provide(logs.layer))
      )
    }
  )

  it.effect(
    "two instances: the holder keeps its lease until stored; the other serves its token, then adopts",
    () =>
      run(
        Effect.gen(function* () {
          const { instance, shared } = yield* cluster
          const broken = faulty(shared)
          const a = yield* instance("a", broken.store)
          const b = yield* instance("b")
          const server = oneTimeServer()
          yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
            persistent: true
          })
          expect(accessTokenOf(yield* Effect.either(b.get(server.source("m1"))))).toBe("at-0")
          broken.control.refusing = true
          yield* TestClock.adjust("280 seconds")

          expect(accessTokenOf(yield* Effect.either(a.get(server.source("m1"))))).toBe("at-1")
          // b needs a refresh too, but a holds the lease while its write is pending: b's callers
          // are served b's token, which has not expired.
          const callers = yield* Effect.fork(
            Effect.all(
              Array.from({ length: 20 }, () => Effect.either(b.get(server.source("m1")))),
              { concurrency: "unbounded" }
            )
          )
          yield* settle
          expect(new Set((yield* Fiber.join(callers)).map(accessTokenOf))).toEqual(new Set(["at-0"]))
          yield* TestClock.adjust("3 seconds")
          expect(refreshTokenOf(yield* b.stored("m1"))).toBe("rt-0")

          broken.control.refusing = false
          yield* TestClock.adjust("5 seconds")
          expect(refreshTokenOf(yield* b.stored("m1"))).toBe("rt-1")
          expect(accessTokenOf(yield* Effect.either(b.get(server.source("m1"))))).toBe("at-1")
          expect(server.stats).toMatchObject({ requests: 1, invalidGrants: 0 })
        })
      )
  )
})

describe("leases that outlive a slow attempt", () => {
  it.effect(
    "a slow endpoint and a Retry-After storm longer than the lease: one request, no invalid_grant, no caller error",
    () =>
      run(
        Effect.gen(function* () {
          const { instance } = yield* cluster
          const options = { leaseTtl: "3 seconds", leasePoll: "50 millis" } as const
          const a = yield* instance("a", undefined, options)
          const b = yield* instance("b", undefined, options)
          const server = oneTimeServer()
          // The attempt takes 20 s: retries and Retry-After waits inside one refresh.
          const slow = server.source("m1", "20 seconds")
          yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
            persistent: true
          })
          expect(accessTokenOf(yield* Effect.either(b.get(slow)))).toBe("at-0")
          yield* TestClock.adjust("280 seconds")
          const first = yield* Effect.fork(Effect.either(a.get(slow)))
          yield* settle
          // Callers on both instances, one a second from 280 s to 319 s.
          const later = (instance: TokenManager.TokenManager.Service) =>
            Effect.fork(
              Effect.all(
                Array.from({ length: 40 }, (_, i) =>
                  Effect.zipRight(Effect.sleep(Duration.seconds(i)), Effect.either(instance.get(slow)))
                ),
                { concurrency: "unbounded" }
              )
            )
          const onA = yield* later(a)
          const onB = yield* later(b)
          for (let i = 0; i < 100; i++) yield* TestClock.adjust("500 millis")
          const fromB = (yield* Fiber.join(onB)).map(accessTokenOf)
          const results = [
            accessTokenOf(yield* Fiber.join(first)),
            ...(yield* Fiber.join(onA)).map(accessTokenOf),
            ...fromB
          ]
          expect(results.filter((r) => r.startsWith("error:"))).toEqual([])
          expect(server.stats).toMatchObject({ requests: 1, invalidGrants: 0 })
          expect(refreshTokenOf(yield* b.stored("m1"))).toBe("rt-1")
          // b's callers did not wait for the slow refresh while b's own token was still valid
          // (until 300 s); later ones got a's grant.
          expect(fromB).toEqual(Array.from({ length: 40 }, (_, i) => (i < 20 ? "at-0" : "at-1")))
        })
      )
  )

  it.effect("an invalid_grant for a refresh token that is no longer the stored one deletes nothing", () =>
    run(
      Effect.gen(function* () {
        const { instance, shared } = yield* cluster
        // Leases that do not exclude anyone: both instances send rt-0.
        const noLeases = faulty(shared)
        noLeases.control.leasesAlwaysFree = true
        const a = yield* instance("a", noLeases.store)
        const b = yield* instance("b", noLeases.store)
        const server = oneTimeServer()
        yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
          persistent: true
        })
        yield* TestClock.adjust("280 seconds")
        const fromA = yield* Effect.fork(Effect.either(a.get(server.source("m1", "1 second"))))
        const fromB = yield* Effect.fork(Effect.either(b.get(server.source("m1", "2 seconds"))))
        yield* TestClock.adjust("3 seconds")
        expect(accessTokenOf(yield* Fiber.join(fromA))).toBe("at-1")
        // b's rt-0 was spent by a's rotation: b adopts a's grant instead of deleting it.
        expect(accessTokenOf(yield* Fiber.join(fromB))).toBe("at-1")
        expect(server.stats).toMatchObject({ requests: 2, invalidGrants: 1 })
        expect(refreshTokenOf(yield* a.stored("m1"))).toBe("rt-1")
      })
    )
  )
})

describe("a deleted grant stays deleted", () => {
  const removedElsewhere = (
    remove: (
      a: TokenManager.TokenManager.Service,
      store: TokenStore.TokenStore.Service
    ) => Effect.Effect<unknown, AuthError.StoreFailure>
  ) =>
    run(
      Effect.gen(function* () {
        const { instance, shared } = yield* cluster
        const a = yield* instance("a")
        const b = yield* instance("b")
        const server = oneTimeServer()
        yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
          persistent: true
        })
        expect(accessTokenOf(yield* Effect.either(b.get(server.source("m1"))))).toBe("at-0")
        yield* remove(a, shared)
        yield* TestClock.adjust("280 seconds")
        const error = yield* Effect.flip(b.get(server.source("m1")))
        expect(error._tag).toBe("ConsentRequired")
        expect(Option.isNone(yield* a.stored("m1"))).toBe(true)
        expect(server.stats.requests).toBe(0)
        yield* TestClock.adjust("1 hour")
        expect((yield* Effect.flip(b.get(server.source("m1"))))._tag).toBe("ConsentRequired")
        expect(Option.isNone(yield* b.stored("m1"))).toBe(true)
      })
    )

  it.effect("TokenManager.remove in one instance: the other does not re-insert it", () =>
    removedElsewhere((a) => a.remove("m1"))
  )

  it.effect("TokenStore.removePrefix: the instances that had it cached do not re-insert it", () =>
    removedElsewhere((_, store) => store.removePrefix("grant:m"))
  )
})

describe("instances help each other", () => {
  it.effect("a process in cool-down adopts a grant another instance stored instead of failing", () =>
    run(
      Effect.gen(function* () {
        const { instance } = yield* cluster
        const a = yield* instance("a")
        const b = yield* instance("b")
        const server = oneTimeServer()
        yield* a.install("m1", rotatedGrant(0, yield* Effect.clockWith((c) => c.currentTimeMillis)), {
          persistent: true
        })
        yield* TestClock.adjust("280 seconds")
        server.failNextRequests(1)
        expect((yield* Effect.flip(a.get(server.source("m1"))))._tag).toBe("Transport")
        // a cools down; b refreshes meanwhile.
        expect(accessTokenOf(yield* Effect.either(b.get(server.source("m1"))))).toBe("at-1")
        expect(accessTokenOf(yield* Effect.either(a.get(server.source("m1"))))).toBe("at-1")
        expect(server.stats).toMatchObject({ requests: 2, invalidGrants: 0 })
      })
    )
  )
})
