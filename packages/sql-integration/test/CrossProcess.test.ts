import { describe, expect, it } from "@effect/vitest"
import { TokenLifecycle } from "@mobilepay-auth/domain"
import { MerchantConsent, TokenManager, TokenStore } from "@mobilepay-auth/platform"
import { Effect, Layer, Option, Redacted } from "effect"
import {
  type Backend,
  CLIENT,
  consentOnce,
  eachBackend,
  LIFETIME_SECONDS,
  settingsFor,
  sleepUntil,
  startSandbox,
  startWorker,
  total,
  untilCount,
  watchTokenRequests
} from "./fixtures/harness.js"
import { policy, stack, tokenId } from "./fixtures/tokenWorker.js"

// Several OS processes share one store (a SQLite file, a PostgreSQL schema) and keep one
// merchant's grant fresh against the sandbox with one-time refresh-token rotation: a second
// refresh of the same token would present a spent refresh token (invalid_grant, consent
// lost) or waste a request. Neither may happen, and a process killed mid-refresh must cost
// no more than the lease TTL. Assertions are counts and invariants, never durations: a loaded
// machine may slow every step down.

// When the test policy refreshes a token of this lifetime: from `staleAt - ahead` plus up to
// `jitter` of the refresh-ahead window (drawn per token and process). One refresh per token.
const lifetimeMillis = LIFETIME_SECONDS * 1000
const margin = TokenLifecycle.marginMillis(policy, lifetimeMillis)
const ahead = Math.min(lifetimeMillis * policy.refreshAheadRatio, policy.maxRefreshAheadMillis)
const minPeriod = lifetimeMillis - margin - ahead

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const PROCESSES = 3
const CALLERS = 25
const RUN_MS = 8_000

eachBackend((backend: Backend) =>
  describe(`cross-process token refresh on ${backend.name}`, () => {
    it.live(
      `${PROCESSES} processes x ${CALLERS} callers through several expiries: one token request per expiry, no invalid_grant`,
      () =>
        Effect.gen(function* () {
          const sandbox = yield* startSandbox()
          const store = yield* backend.fresh
          const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "parent", 5_000)))
          const { merchant, firstToken } = yield* Effect.provide(consentOnce, parent)
          const exchanges = yield* sandbox.requestCount("merchantToken")
          expect(exchanges).toBe(1)

          const workers = yield* Effect.all(
            Array.from({ length: PROCESSES }, (_, i) =>
              startWorker(settingsFor(sandbox, store, `worker-${i}`, 5_000), {
                merchant,
                callers: CALLERS,
                durationMs: RUN_MS
              })
            )
          )
          yield* Effect.all(
            workers.map((w) => w.ready),
            { concurrency: "unbounded" }
          )
          const startedAt = Date.now()
          yield* Effect.all(workers.map((w) => w.go))
          const results = yield* Effect.all(
            workers.map((w) => w.exited),
            { concurrency: "unbounded" }
          )

          for (const result of results) {
            expect(result.stderr).toBe("")
            expect(result.code).toBe(0)
            // No caller anywhere saw an error: no ConsentRequired (invalid_grant), no cool-down.
            expect(result.report?.errors).toEqual({})
            expect(result.report?.gets).toBeGreaterThan(0)
          }
          const answers = results.map((r) => r.report?.tokenAnswers)
          const requests = (yield* sandbox.requestCount("merchantToken")) - exchanges
          // Zero invalid_grant: with one-time rotation a second request with the same refresh
          // token is refused (400), so every request answered 200 means no token was sent twice
          // (callers may never notice a refused one when another process stored a newer grant).
          expect(total(answers, "400")).toBe(0)
          expect(total(answers, "200")).toBe(requests)
          // One request per expiry: several expiries passed, and never more requests than
          // refresh windows fit into the run (a shorter gap would mean a wasted request).
          const elapsed = Date.now() - startedAt
          expect(requests).toBeGreaterThanOrEqual(2)
          expect(requests).toBeLessThanOrEqual(Math.floor(elapsed / minPeriod) + 2)
          // ...and the processes shared them: each served a refreshed token.
          const served = new Set(results.flatMap((r) => r.report?.tokens ?? []))
          served.delete(firstToken)
          expect(served.size).toBeLessThanOrEqual(requests)
          for (const result of results) {
            expect(result.report?.tokens.filter((t) => t !== firstToken).length).toBeGreaterThanOrEqual(1)
          }
          // What the refreshes left unstored for a moment: from the provider's answer (response
          // headers) to the committed write, per refresh, in every process. Reported, not asserted.
          const windows = results.flatMap((r) => r.report?.writeWindows ?? [])
          const figure = (part: "total" | "processing" | "sealing" | "write") => {
            const values = windows.map((w) => w[part])
            return `${part} median ${median(values).toFixed(1)} / max ${Math.max(...values).toFixed(1)}`
          }
          console.info(
            `answer-to-write window on ${backend.name} (${PROCESSES} processes x ${CALLERS} callers, ` +
              `${windows.length} refreshes, ms): ${figure("total")}; ${figure("processing")}; ` +
              `${figure("sealing")}; ${figure("write")}`
          )

          // The grant the workers left behind still refreshes, once, and its token works.
          const consent = yield* Effect.provide(MerchantConsent.MerchantConsent, parent)
          const [info] = yield* consent.merchants
          expect(info?.merchant).toBe(merchant)
          yield* sleepUntil((info?.accessTokenExpiresAt ?? 0) + 20)
          const before = yield* sandbox.requestCount("merchantToken")
          const token = yield* consent.accessToken(merchant)
          expect(yield* sandbox.requestCount("merchantToken")).toBe(before + 1)
          expect([...served, firstToken]).not.toContain(tokenId(token))
          const me = yield* Effect.promise(() =>
            fetch(`${sandbox.baseUrl}/api/merchants/me`, {
              headers: { authorization: `Bearer ${Redacted.value(token)}` }
            }).then(async (r) => ({ status: r.status, body: await r.json() }))
          )
          expect(me).toMatchObject({ status: 200, body: { vatNumber: "DK12345678" } })
        }).pipe(Effect.scoped),
      120_000
    )

    it.live(
      "SIGKILL of the lease holder mid-request: the store stays readable and consistent; the next process recovers once the lease lapses",
      () =>
        Effect.gen(function* () {
          const sandbox = yield* startSandbox()
          const store = yield* backend.fresh
          const leaseTtl = 3_000
          const parent = yield* Layer.build(stack(settingsFor(sandbox, store, "inspector", leaseTtl)))
          const { merchant, expiresAt } = yield* Effect.provide(consentOnce, parent)
          const manager = yield* Effect.provide(TokenManager.TokenManager, parent)
          const tokenStore = yield* Effect.provide(TokenStore.TokenStore, parent)
          const grantKey = `merchant:${CLIENT.clientId}:${merchant}`
          const installed = Option.getOrThrow(yield* manager.stored(grantKey))

          // Both processes start now; the second one only gets going once the first is dead.
          const run = { merchant, callers: 10 }
          const doomed = yield* startWorker(settingsFor(sandbox, store, "doomed", leaseTtl), {
            ...run,
            durationMs: 30_000
          })
          const next = yield* startWorker(settingsFor(sandbox, store, "next", leaseTtl), {
            ...run,
            durationMs: 200
          })
          yield* Effect.all([doomed.ready, next.ready], { concurrency: "unbounded" })
          // The consent's token has expired: the doomed process must refresh, and its request
          // hangs in the sandbox until the process dies.
          yield* sleepUntil(expiresAt + 20)
          yield* sandbox.setFault("merchantToken", { latencyMs: 60_000 })
          const arrivals = yield* watchTokenRequests(sandbox)
          yield* doomed.go
          yield* untilCount(sandbox, 2)
          yield* Effect.sleep("50 millis")
          const killed = yield* doomed.kill
          expect(killed.signal).toBe("SIGKILL")
          yield* sandbox.clearFaults

          // Readable at once by another process, and as it was: the grant, undamaged and not
          // rotated (nothing was written), and the dead refresher's lease still in force.
          const stored = Option.getOrThrow(yield* manager.stored(grantKey))
          expect(Option.map(stored.tokens.refreshToken, tokenId)).toEqual(
            Option.map(installed.tokens.refreshToken, tokenId)
          )
          expect(tokenId(stored.tokens.accessToken)).toBe(tokenId(installed.tokens.accessToken))
          const listed = yield* Effect.provide(
            Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.merchants),
            parent
          )
          expect(listed.map((m) => m.merchant)).toEqual([merchant])
          expect(yield* tokenStore.acquireLease(TokenManager.grantKey(grantKey), "inspector", 1)).toBe(false)

          // The next process waits out the lease (the dead holder renews it no more), then
          // refreshes with the stored refresh token: the killed request was abandoned before
          // rotating (the real provider may not be so kind: see the lost-response test).
          yield* next.go
          const recovered = yield* next.exited
          expect(recovered.stderr).toBe("")
          expect(recovered.code).toBe(0)
          expect(recovered.report?.errors).toEqual({})
          expect(recovered.report?.tokens).toHaveLength(1)
          expect(recovered.report?.tokenAnswers).toEqual({ "200": 1 })
          expect(arrivals).toHaveLength(2)
          expect(yield* sandbox.requestCount("merchantToken")).toBe(3)
          const rotated = Option.getOrThrow(yield* manager.stored(grantKey))
          expect(tokenId(rotated.tokens.accessToken)).toBe(recovered.report?.tokens[0])
          expect(Option.map(rotated.tokens.refreshToken, tokenId)).not.toEqual(
            Option.map(installed.tokens.refreshToken, tokenId)
          )
        }).pipe(Effect.scoped),
      120_000
    )
  })
)
