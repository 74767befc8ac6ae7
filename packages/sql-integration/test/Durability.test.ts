import { describe, expect, it } from "@effect/vitest"
import { MerchantConsent, TokenManager } from "@mobilepay-auth/platform"
import { Effect, Layer, Option } from "effect"
import {
  type Backend,
  CLIENT,
  consentOnce,
  eachBackend,
  settingsFor,
  sleepUntil,
  startSandbox,
  startWorker,
  total,
  untilCount
} from "./fixtures/harness.js"
import { stack } from "./fixtures/tokenWorker.js"

// Never lose a grant, across OS processes on one store (SQLite file, PostgreSQL schema), against
// the sandbox with one-time rotation: a store that refuses the refresher's writes, a refresh
// slower than the lease, a grant removed while another process has it cached, and an answer the
// provider sent but the client never heard. Assertions are counts and invariants.

const grantKeyOf = (merchant: string) => `merchant:${CLIENT.clientId}:${merchant}`

eachBackend((backend: Backend) =>
  describe(`never lose a grant on ${backend.name}`, () => {
    for (const processes of [1, 2]) {
      it.live(
        `the store refuses the refresher's writes after a successful refresh (${processes} process${processes > 1 ? "es" : ""}): served, stored later, no invalid_grant`,
        () =>
          Effect.gen(function* () {
            // 5 s tokens: the refused writes are retried (0.1 + 0.2 + 0.4 s) well before the new
            // token goes stale, even on a loaded machine (until then its callers are served).
            const sandbox = yield* startSandbox({ accessTokenLifetime: 5 })
            const store = yield* backend.fresh
            const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "parent", 3_000)))
            const { expiresAt, merchant } = yield* Effect.provide(consentOnce, parent)
            const exchanges = yield* sandbox.requestCount("merchantToken")
            const run = { merchant, callers: 10, durationMs: 3_000 }
            // The first process to refresh has its first three grant writes refused.
            const refuser = yield* startWorker(
              settingsFor(sandbox, store, "refuser", 3_000, { refuseGrantWrites: 3 }),
              run
            )
            const others = yield* Effect.all(
              Array.from({ length: processes - 1 }, (_, i) =>
                startWorker(settingsFor(sandbox, store, `other-${i}`, 3_000), run)
              )
            )
            yield* Effect.all([refuser.ready, ...others.map((w) => w.ready)], { concurrency: "unbounded" })
            yield* sleepUntil(expiresAt + 20)
            yield* refuser.go
            yield* untilCount(sandbox, exchanges + 1)
            yield* Effect.all(others.map((w) => w.go))
            const results = yield* Effect.all(
              [refuser, ...others].map((w) => w.exited),
              {
                concurrency: "unbounded"
              }
            )
            for (const result of results) {
              expect(result.stderr).toBe("")
              expect(result.code).toBe(0)
              expect(result.report?.errors).toEqual({})
            }
            // The refusals were visible: counted on the metric, and logged.
            expect(results[0]?.logs.some((line) => line.includes("could not be stored"))).toBe(true)
            // Every refusal so far (the report may come before the last one) was counted.
            expect(results[0]?.report?.refusedWrites).toBeGreaterThanOrEqual(1)
            expect(results[0]?.report?.writeFailures).toBe(results[0]?.report?.refusedWrites)
            const answers = results.map((r) => r.report?.tokenAnswers)
            const requests = (yield* sandbox.requestCount("merchantToken")) - exchanges
            expect(total(answers, "400")).toBe(0)
            expect(total(answers, "200")).toBe(requests)
            // The chain is intact: the stored grant refreshes once more, and its token works.
            const consent = yield* Effect.provide(MerchantConsent.MerchantConsent, parent)
            const [info] = yield* consent.merchants
            yield* sleepUntil((info?.accessTokenExpiresAt ?? 0) + 20)
            const before = yield* sandbox.requestCount("merchantToken")
            yield* consent.accessToken(merchant)
            expect(yield* sandbox.requestCount("merchantToken")).toBe(before + 1)
          }).pipe(Effect.scoped),
        120_000
      )
    }

    it.live(
      "a slow token endpoint and a Retry-After storm longer than the lease (two processes): one token issued, no invalid_grant, no caller error",
      () =>
        Effect.gen(function* () {
          const sandbox = yield* startSandbox({ accessTokenLifetime: 4 })
          const store = yield* backend.fresh
          const leaseTtl = 1_000
          const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "parent", leaseTtl)))
          const { expiresAt, merchant } = yield* Effect.provide(consentOnce, parent)
          const exchanges = yield* sandbox.requestCount("merchantToken")
          const run = { merchant, callers: 10, durationMs: 5_000 }
          const workers = yield* Effect.all(
            ["a", "b"].map((owner) => startWorker(settingsFor(sandbox, store, owner, leaseTtl), run))
          )
          yield* Effect.all(
            workers.map((w) => w.ready),
            { concurrency: "unbounded" }
          )
          yield* sleepUntil(expiresAt + 20)
          // Two slow 429s with Retry-After: 1 s (the HTTP layer waits and retries), then a slow
          // answer: one attempt of more than three lease TTLs.
          yield* sandbox.setFault("merchantToken", {
            latencyMs: 700,
            status429: { retryAfterSeconds: 1 },
            times: 2
          })
          yield* Effect.all(
            workers.map((w) => w.go),
            { concurrency: "unbounded" }
          )
          const results = yield* Effect.all(
            workers.map((w) => w.exited),
            { concurrency: "unbounded" }
          )
          for (const result of results) {
            expect(result.stderr).toBe("")
            expect(result.code).toBe(0)
            expect(result.report?.errors).toEqual({})
          }
          const answers = results.map((r) => r.report?.tokenAnswers)
          // One refresh: its two refused attempts and one token, sent by the lease holder only.
          expect(total(answers, "429")).toBe(2)
          expect(total(answers, "200")).toBe(1)
          expect(total(answers, "400")).toBe(0)
          expect((yield* sandbox.requestCount("merchantToken")) - exchanges).toBe(3)
        }).pipe(Effect.scoped),
      120_000
    )

    it.live(
      "removed in one process while another has the grant cached: it stays removed",
      () =>
        Effect.gen(function* () {
          const sandbox = yield* startSandbox()
          const store = yield* backend.fresh
          const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "parent", 3_000)))
          const { merchant } = yield* Effect.provide(consentOnce, parent)
          const manager = yield* Effect.provide(TokenManager.TokenManager, parent)
          const worker = yield* startWorker(settingsFor(sandbox, store, "cached", 3_000), {
            merchant,
            callers: 10,
            durationMs: 4_000
          })
          yield* worker.ready
          yield* worker.go
          // The worker has loaded the grant and serves it from memory.
          yield* Effect.sleep("500 millis")
          yield* manager.remove(grantKeyOf(merchant))
          const removedAt = yield* sandbox.requestCount("merchantToken")
          const result = yield* worker.exited
          expect(result.stderr).toBe("")
          expect(result.code).toBe(0)
          // Its callers were served until its token needed a refresh, then told to consent again.
          expect(Object.keys(result.report?.errors ?? {})).toEqual(["ConsentRequired"])
          expect(Option.isNone(yield* manager.stored(grantKeyOf(merchant)))).toBe(true)
          // At most a refresh already underway when the grant was removed; it wrote nothing back.
          expect((yield* sandbox.requestCount("merchantToken")) - removedAt).toBeLessThanOrEqual(1)
        }).pipe(Effect.scoped),
      120_000
    )

    for (const rotation of ["one-time", "reuse"] as const) {
      it.live(
        `the provider's answer is lost after it rotated (${rotation} rotation): ${rotation === "one-time" ? "the grant is gone (ConsentRequired), nothing stale is kept" : "harmless, the retry is served"}`,
        () =>
          Effect.gen(function* () {
            const sandbox = yield* startSandbox({ rotation })
            const store = yield* backend.fresh
            const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "parent", 3_000)))
            const { expiresAt, merchant } = yield* Effect.provide(consentOnce, parent)
            const consent = yield* Effect.provide(MerchantConsent.MerchantConsent, parent)
            const manager = yield* Effect.provide(TokenManager.TokenManager, parent)
            const exchanges = yield* sandbox.requestCount("merchantToken")
            yield* sleepUntil(expiresAt + 20)
            yield* sandbox.setFault("merchantToken", { loseResponse: true, times: 1 })
            const result = yield* Effect.either(consent.accessToken(merchant))
            // The lost answer, then the HTTP layer's retry with the same refresh token.
            expect((yield* sandbox.requestCount("merchantToken")) - exchanges).toBe(2)
            if (rotation === "one-time") {
              // The token that was sent is spent and its successor never arrived: nothing can
              // recover this grant without the provider; it is reported and deleted, not retried.
              expect(result._tag === "Left" && result.left._tag).toBe("ConsentRequired")
              expect(Option.isNone(yield* manager.stored(grantKeyOf(merchant)))).toBe(true)
            } else {
              expect(result._tag).toBe("Right")
              expect(Option.isSome(yield* manager.stored(grantKeyOf(merchant)))).toBe(true)
            }
          }).pipe(Effect.scoped),
        60_000
      )
    }
  })
)
