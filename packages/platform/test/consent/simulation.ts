/**
 * Thirty simulated days of one merchant's traffic on `TestClock`. Every hour a caller asks for a
 * token a few times within one access-token lifetime (at +0 s, +230 s and +290 s), so
 * both paths of the lifecycle run: served from cache while fresh, refreshed once stale (a 300 s
 * token is not served in its last 30 s). Each `TestClock.adjust` costs a few real milliseconds,
 * so the clock moves in a handful of steps per hour rather than every second.
 *
 * Per hour that is exactly two refreshes (at +0 s the previous hour's token is stale; at +290 s
 * the one from +0 s is), minus one in the first hour, whose token comes from the consent.
 */
import { expect } from "@effect/vitest"
import { Effect, Redacted, TestClock } from "effect"
import * as MerchantConsent from "../../src/MerchantConsent.js"

const expOf = (token: string): number => {
  const payload: unknown = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString())
  return typeof payload === "object" &&
    payload !== null &&
    "exp" in payload &&
    typeof payload.exp === "number"
    ? payload.exp * 1000
    : 0
}

const offsets = [0, 230, 290]

export const hours = 30 * 24

/** Refreshes the schedule must cause over `hours`. */
export const predictedRefreshes = 2 * hours - 1

export const thirtyDays = (merchant: string) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    let last = ""
    let distinctTokens = 1
    for (let hour = 0; hour < hours; hour++) {
      let at = 0
      for (const offset of offsets) {
        if (offset > at) yield* TestClock.adjust(`${offset - at} seconds`)
        at = offset
        const token = Redacted.value(yield* consent.accessToken(merchant))
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        // Never an expired token, nor one inside the 30 s safety margin.
        expect(expOf(token) - now).toBeGreaterThanOrEqual(30_000)
        if (last !== "" && token !== last) distinctTokens++
        last = token
      }
      yield* TestClock.adjust(`${3600 - at} seconds`)
    }
    return { distinctTokens }
  })
