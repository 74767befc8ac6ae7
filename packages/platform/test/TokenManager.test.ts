import { describe, expect, it } from "@effect/vitest"
import { AuthError, SecureRandom, Token } from "@mobilepay-auth/domain"
import { Context, Effect, Layer, Metric, Option, Redacted, TestClock } from "effect"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenVault from "../src/TokenVault.js"
import { rotatedGrant } from "./utils/grants.js"

const TestLayer = TokenManager.layer().pipe(
  Layer.provideMerge(TokenVault.layerEphemeral),
  Layer.provide(SecureRandom.layerWebCrypto)
)

const counting = (lifetimeSeconds: number, key = "k") => {
  let calls = 0
  const source: TokenManager.TokenSource<AuthError.Transport | AuthError.InvalidGrant> = {
    key,
    kind: "test",
    persistent: false,
    obtain: () =>
      Effect.gen(function* () {
        calls++
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        yield* Effect.sleep("10 millis")
        return {
          tokens: Token.fromResponse(
            { access_token: Redacted.make(`at-${calls}`), token_type: "Bearer", expires_in: lifetimeSeconds },
            now
          ),
          attributes: {}
        }
      })
  }
  return { source, calls: () => calls }
}

describe("TokenManager", () => {
  it.effect("single flight: 10,000 concurrent callers on a cold key make one request", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const { calls, source } = counting(300)
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 10_000 }), () => manager.get(source), {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust("1 second")
      const results = yield* fiber
      expect(calls()).toBe(1)
      expect(new Set(results.map((t) => Redacted.value(t.accessToken)))).toEqual(new Set(["at-1"]))
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("serves from cache while fresh and refreshes near expiry", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const { calls, source } = counting(300)
      const first = manager.get(source)
      const f = yield* Effect.fork(first)
      yield* TestClock.adjust("10 millis")
      yield* f
      yield* TestClock.adjust("100 seconds")
      yield* manager.get(source)
      expect(calls()).toBe(1)
      yield* TestClock.adjust("200 seconds")
      const late = yield* Effect.fork(manager.get(source))
      yield* TestClock.adjust("10 millis")
      const token = yield* late
      expect(calls()).toBe(2)
      expect(Redacted.value(token.accessToken)).toBe("at-2")
      expect(Option.isNone(token.refreshToken)).toBe(true)
    }).pipe(Effect.provide(TestLayer))
  )
})

describe("TokenManager across instances sharing one store", () => {
  // Two managers (two "instances") over one store; the source rotates its refresh token on
  // every use and rejects a used one, like MobilePay's one-time rotation.
  const rotatingServer = () => {
    let issued = 0
    let valid = "rt-0"
    let tokenRequests = 0
    let invalidGrants = 0
    const source = (key: string): TokenManager.TokenSource<AuthError.InvalidGrant> => ({
      key,
      kind: "merchant",
      persistent: true,
      obtain: (current) =>
        Effect.gen(function* () {
          tokenRequests++
          yield* Effect.sleep("20 millis")
          const sent = Option.flatMap(current, (g) => g.tokens.refreshToken).pipe(Option.map(Redacted.value))
          if (Option.getOrUndefined(sent) !== valid) {
            invalidGrants++
            return yield* Effect.fail(new AuthError.InvalidGrant({ status: 400 }))
          }
          issued++
          valid = `rt-${issued}`
          return rotatedGrant(issued, yield* Effect.clockWith((c) => c.currentTimeMillis), {
            verifier: "kept"
          })
        })
    })
    return { source, stats: () => ({ tokenRequests, invalidGrants }) }
  }

  it.effect("one refresh per expiry, no invalid_grant, rotated token persisted", () =>
    Effect.gen(function* () {
      const server = rotatingServer()
      const vault = yield* TokenVault.TokenVault
      const managerLayer = (owner: string) =>
        TokenManager.layer({ owner }).pipe(Layer.provide(Layer.succeed(TokenVault.TokenVault, vault)))
      const a = yield* Layer.build(managerLayer("a")).pipe(Effect.map(Context.get(TokenManager.TokenManager)))
      const b = yield* Layer.build(managerLayer("b")).pipe(Effect.map(Context.get(TokenManager.TokenManager)))
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      yield* a.install("m1", rotatedGrant(0, now, { verifier: "kept" }), { persistent: true })
      for (let round = 0; round < 5; round++) {
        yield* TestClock.adjust("280 seconds")
        const fiber = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).get(server.source("m1"))),
            { concurrency: "unbounded" }
          )
        )
        for (let i = 0; i < 20; i++) yield* TestClock.adjust("50 millis")
        yield* fiber
      }
      expect(server.stats()).toEqual({ tokenRequests: 5, invalidGrants: 0 })
      const stored = yield* a.stored("m1")
      expect(Option.map(stored, (g) => Option.map(g.tokens.refreshToken, Redacted.value))).toEqual(
        Option.some(Option.some("rt-5"))
      )
      expect(Option.map(stored, (g) => g.attributes.verifier)).toEqual(Option.some("kept"))
    }).pipe(
      Effect.scoped,
      Effect.provide(TokenVault.layerEphemeral),
      Effect.provide(SecureRandom.layerWebCrypto)
    )
  )
})

describe("TokenManager failures", () => {
  const failing = <E>(error: () => E) => {
    let calls = 0
    const source: TokenManager.TokenSource<E> = {
      key: "f",
      kind: "test",
      persistent: true,
      obtain: () =>
        Effect.suspend(() => {
          calls++
          return Effect.fail(error())
        })
    }
    return { source, calls: () => calls }
  }

  it.effect("invalid_grant becomes ConsentRequired, deletes the grant, and is never retried", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      yield* manager.install(
        "f",
        {
          tokens: Token.fromResponse(
            {
              access_token: Redacted.make("at"),
              token_type: "Bearer",
              expires_in: 300,
              refresh_token: Redacted.make("rt")
            },
            now
          ),
          attributes: {}
        },
        { persistent: true }
      )
      const { calls, source } = failing(() => new AuthError.InvalidGrant({ status: 400 }))
      yield* TestClock.adjust("300 seconds")
      const first = yield* Effect.flip(manager.get(source))
      expect(first._tag).toBe("ConsentRequired")
      expect(Option.isNone(yield* manager.stored("f"))).toBe(true)
      const again = yield* Effect.flip(manager.get(source))
      expect(again._tag).toBe("ConsentRequired")
      expect(calls()).toBe(1)
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect(
    "a failed cycle cools the key down exponentially: callers fail fast, no request, until it ends",
    () =>
      Effect.gen(function* () {
        const manager = yield* TokenManager.TokenManager
        const { calls, source } = failing(
          () => new AuthError.Transport({ reason: "server-error", status: 503 })
        )
        const memory = { ...source, persistent: false }
        expect((yield* Effect.flip(manager.get(memory)))._tag).toBe("Transport")
        expect(calls()).toBe(1) // request-level retries belong to AuthHttp; the manager does not multiply them
        // Cooling down for 1 s: callers fail at once, without a request, told it is a cool-down.
        expect(yield* Effect.flip(manager.get(memory))).toMatchObject({
          _tag: "RateLimited",
          reason: "cooling-down",
          retryAfterMillis: 1000
        })
        expect(calls()).toBe(1)
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(manager.get(memory))
        expect(calls()).toBe(2)
        // The second failure doubles the cool-down: nothing after 1 s, a new attempt after 2 s.
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(manager.get(memory))
        expect(calls()).toBe(2)
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(manager.get(memory))
        expect(calls()).toBe(3)
      }).pipe(Effect.provide(TestLayer))
  )

  it.effect("Retry-After from the server stretches the cool-down", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const { calls, source } = failing(() => new AuthError.RateLimited({ retryAfterMillis: 60_000 }))
      const memory = { ...source, persistent: false }
      expect((yield* Effect.flip(manager.get(memory)))._tag).toBe("RateLimited")
      yield* TestClock.adjust("59 seconds")
      // The server's Retry-After is not replayed: the time left is counted from now.
      expect(yield* Effect.flip(manager.get(memory))).toMatchObject({
        _tag: "RateLimited",
        reason: "cooling-down",
        retryAfterMillis: 1000
      })
      expect(calls()).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* Effect.flip(manager.get(memory))
      expect(calls()).toBe(2)
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("a final failure (invalid_client) is not retried", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const { calls, source } = failing(() => new AuthError.InvalidClient({ status: 401 }))
      const error = yield* Effect.flip(manager.get({ ...source, persistent: false }))
      expect(error._tag).toBe("InvalidClient")
      expect(calls()).toBe(1)
    }).pipe(Effect.provide(TestLayer))
  )

  it.effect("invalidate drops only the rejected access token and the next call refreshes", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const { calls, source } = counting(3700, "inv")
      const f = yield* Effect.fork(manager.get(source))
      yield* TestClock.adjust("10 millis")
      const first = yield* f
      yield* manager.invalidate("inv", Redacted.make("not-the-current-one"))
      yield* manager.get(source)
      expect(calls()).toBe(1)
      yield* manager.invalidate("inv", first.accessToken)
      const g = yield* Effect.fork(manager.get(source))
      yield* TestClock.adjust("10 millis")
      expect(Redacted.value((yield* g).accessToken)).toBe("at-2")
      expect(calls()).toBe(2)
    }).pipe(Effect.provide(TestLayer))
  )
})

describe("TokenManager metrics", () => {
  it.effect("counts token requests, refresh cycles, cache hits and failures by tag", () =>
    Effect.gen(function* () {
      const manager = yield* TokenManager.TokenManager
      const value = (metric: Metric.Metric.Counter<number>, tags: Record<string, string>) =>
        Effect.map(
          Metric.value(Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), metric)),
          (state) => state.count
        )
      const kind = "metrics-test"
      const { source } = counting(300, "m1")
      const fiber = yield* Effect.fork(manager.get({ ...source, kind }))
      yield* TestClock.adjust("10 millis")
      yield* fiber
      yield* manager.get({ ...source, kind })
      yield* manager.get({ ...source, kind })
      yield* Effect.flip(
        manager.get({
          key: "m2",
          kind,
          persistent: false,
          obtain: () => Effect.fail(new AuthError.InvalidClient({ status: 401 }))
        })
      )
      expect(yield* value(TokenManager.metrics.tokenRequests, { kind })).toBe(2)
      expect(yield* value(TokenManager.metrics.refreshes, { kind })).toBe(2)
      expect(yield* value(TokenManager.metrics.cacheHits, { kind })).toBe(2)
      expect(yield* value(TokenManager.metrics.failures, { kind, error: "InvalidClient" })).toBe(1)
    }).pipe(Effect.provide(TestLayer))
  )
})
