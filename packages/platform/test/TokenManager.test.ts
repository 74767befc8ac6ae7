import { describe, expect, it } from "@effect/vitest"
import { AuthError, SecureRandom, Token } from "@mobilepay-auth/domain"
import { Effect, Layer, Option, Redacted, TestClock } from "effect"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenVault from "../src/TokenVault.js"

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
