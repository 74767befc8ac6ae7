/**
 * The admin API under `/admin`: the knobs a black-box test needs while the sandbox runs, over
 * plain HTTP so any language (or curl) can turn them: move the sandbox's clock forward, revoke a
 * merchant's consent, queue faults, read and reset the request counters, rotate the signing key.
 * Loopback only, like the rest of the sandbox; parameters from the query string or a form body.
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import * as Faults from "./Faults.js"
import type { Endpoint, Fault } from "./Options.js"
import { json, type Outcome, type Params } from "./Outcome.js"

/** @internal What the admin API turns. */
export interface Knobs {
  readonly advanceClock: (seconds: number) => Effect.Effect<number>
  readonly clockOffset: Effect.Effect<number>
  readonly revokeConsent: (merchant: string) => Effect.Effect<number>
  readonly setFault: (endpoint: Endpoint, fault: Fault) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  readonly faults: Effect.Effect<Record<string, unknown>>
  readonly counters: Effect.Effect<Record<string, number>>
  readonly resetCounts: Effect.Effect<void>
  readonly rotateKeys: Effect.Effect<void>
}

const badRequest = (message: string) => json(400, { error: "invalid_request", message })

/** @internal The routes, for the sandbox's router to try before its 404. */
export const make = (knobs: Knobs) => {
  const clock = Effect.gen(function* () {
    const offset = yield* knobs.clockOffset
    const now = yield* knobs.advanceClock(0)
    return json(200, { now: new Date(now).toISOString(), offsetSeconds: offset / 1000 })
  })

  const index = json(200, {
    "GET /admin/clock": "the sandbox's time and how far it runs ahead",
    "POST /admin/clock/advance?seconds=N": "move the sandbox's clock forward by N seconds",
    "POST /admin/merchants/{merchant id or VAT}/revoke-consent": "revoke the merchant's consent",
    "GET /admin/faults": "the faults in place",
    "POST /admin/faults?fault=ENDPOINT:EFFECT[,EFFECT]": "set a fault (see docs/sandbox.md)",
    "DELETE /admin/faults": "clear every fault",
    "GET /admin/counters": "requests per endpoint",
    "DELETE /admin/counters": "reset the counters",
    "POST /admin/keys/rotate": "add a signing key (the old ones stay published)"
  })

  /** The admin answer for this request, or undefined when the path is not an admin route. */
  const route = (method: string, path: string, params: Params): Effect.Effect<Outcome | undefined> =>
    Effect.gen(function* () {
      const revoke = /^\/admin\/merchants\/([^/]+)\/revoke-consent$/.exec(path)
      if (revoke?.[1] !== undefined) {
        if (method !== "POST") return json(405, { error: "method_not_allowed" })
        return json(200, { revoked: yield* knobs.revokeConsent(decodeURIComponent(revoke[1])) })
      }
      switch (`${method} ${path}`) {
        case "GET /admin":
          return index
        case "GET /admin/clock":
          return yield* clock
        case "POST /admin/clock/advance": {
          const seconds = Number(params.seconds)
          if (params.seconds === undefined || !Number.isInteger(seconds) || seconds < 0) {
            return badRequest("seconds must be a whole number of seconds, 0 or more")
          }
          yield* knobs.advanceClock(seconds)
          return yield* clock
        }
        case "GET /admin/faults":
          return json(200, yield* knobs.faults)
        case "POST /admin/faults": {
          const parsed = Faults.parse(params.fault ?? "")
          if (Either.isLeft(parsed)) return badRequest(parsed.left)
          yield* knobs.setFault(parsed.right.endpoint, parsed.right.fault)
          return json(200, yield* knobs.faults)
        }
        case "DELETE /admin/faults":
          yield* knobs.clearFaults
          return json(200, {})
        case "GET /admin/counters":
          return json(200, yield* knobs.counters)
        case "DELETE /admin/counters":
          yield* knobs.resetCounts
          return json(200, yield* knobs.counters)
        case "POST /admin/keys/rotate":
          yield* knobs.rotateKeys
          return json(200, { rotated: true })
      }
      return path === "/admin" || path.startsWith("/admin/") ? json(404, { error: "not_found" }) : undefined
    })

  return { route }
}
