/**
 * Fault injection: what an endpoint answers instead of its real handler (latency, 503s, 429 with
 * Retry-After, malformed bodies, a dropped connection, an answer lost after the work was done, the
 * API's vague 401), for every request or
 * only the next N. `parse` reads the one-line form the CLI flags, the environment and the admin API
 * share, e.g. `merchantToken:429=30,times=3`.
 *
 * @since 0.1.0
 */
import { HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Either } from "effect"
import type { Endpoint, Fault } from "./Options.js"
import { unauthorizedHeaders } from "./Outcome.js"

/**
 * Every endpoint with a counter and a fault slot, for parsing and listing.
 *
 * @since 0.1.0
 * @category constants
 */
export const endpoints: ReadonlyArray<Endpoint> = [
  "discovery",
  "jwks",
  "authorize",
  "merchantToken",
  "integratorToken",
  "revocation",
  "api",
  "vippsToken",
  "vippsSpecializedToken",
  "vippsApi"
]

const isEndpoint = (s: string): s is Endpoint => (endpoints as ReadonlyArray<string>).includes(s)

const count = (value: string | undefined, what: string, fallback?: number) => {
  const n = value === undefined ? fallback : Number(value)
  return n !== undefined && Number.isInteger(n) && n >= 0
    ? Either.right(n)
    : Either.left(`${what} takes a whole number, got ${value ?? "nothing"}`)
}

const effect = (name: string, value: string | undefined): Either.Either<Fault, string> => {
  switch (name) {
    case "latency":
      return Either.map(count(value, "latency"), (latencyMs) => ({ latencyMs }))
    case "503":
      return Either.right({ errorRate: 1 })
    case "error-rate": {
      const share = value === undefined || value === "" ? Number.NaN : Number(value)
      return share >= 0 && share <= 1
        ? Either.right({ errorRate: share })
        : Either.left(`error-rate takes a share from 0 to 1, got ${value ?? "nothing"}`)
    }
    case "429":
      return Either.map(count(value, "429", 1), (retryAfterSeconds) => ({ status429: { retryAfterSeconds } }))
    case "malformed":
      return value === "json" || value === "html"
        ? Either.right({ malformedBody: value })
        : Either.left(`malformed takes json or html, got ${value ?? "nothing"}`)
    case "drop":
      return Either.right({ dropConnection: true })
    case "lose-response":
      return Either.right({ loseResponse: true })
    case "401":
      return Either.map(count(value, "401", 1), (unauthorizedCount) => ({ unauthorizedCount }))
    case "times":
      return Either.map(count(value, "times"), (times) => ({ times }))
    default:
      return Either.left(
        `unknown fault "${name}" (latency, 503, error-rate, 429, malformed, drop, lose-response, 401, times)`
      )
  }
}

/**
 * Reads `ENDPOINT:EFFECT[,EFFECT...]`, where an effect is `latency=MS`, `503` (every request),
 * `error-rate=SHARE` (0..1), `429=RETRY_AFTER_SECONDS`, `malformed=json|html`, `drop`,
 * `lose-response` (handled, then the connection dropped), `401=N` (the next N requests) or `times=N`
 * (the fault applies to the next N requests only).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  spec: string
): Either.Either<{ readonly endpoint: Endpoint; readonly fault: Fault }, string> => {
  const at = spec.indexOf(":")
  const endpoint = spec.slice(0, at).trim()
  if (at < 0 || !isEndpoint(endpoint)) {
    return Either.left(`fault "${spec}": start with one of ${endpoints.join(", ")} and a colon`)
  }
  let fault: Fault = {}
  for (const part of spec.slice(at + 1).split(",")) {
    const [name = "", value] = part.split("=", 2).map((s) => s.trim())
    const more = effect(name, value)
    if (Either.isLeft(more)) return Either.left(`fault "${spec}": ${more.left}`)
    fault = { ...fault, ...more.right }
  }
  return Either.right({ endpoint, fault })
}

/** @internal What a fault answers instead of the handler: a response, or a dropped connection. */
export const dropped = Symbol("dropped")

/** @internal The handler runs to the end (even if the client left), then the connection is dropped. */
export const lost = Symbol("lost")

/** @internal The faults set on a sandbox, with how many requests each has met. */
export const make = () => {
  const faults = new Map<Endpoint, { fault: Fault; seen: number }>()

  /** The fault's answer to this request, or undefined to let the real handler answer. */
  const injected = (endpoint: Endpoint) =>
    Effect.gen(function* () {
      const slot = faults.get(endpoint)
      if (slot === undefined) return undefined
      const fault = slot.fault
      const n = ++slot.seen
      if (fault.times !== undefined && n >= fault.times) faults.delete(endpoint)
      if (fault.times !== undefined && n > fault.times) return undefined
      if (fault.latencyMs !== undefined) yield* Effect.sleep(Duration.millis(fault.latencyMs))
      if (fault.dropConnection === true) return dropped
      if (fault.loseResponse === true) return lost
      if (fault.unauthorizedCount !== undefined && fault.unauthorizedCount > 0) {
        slot.fault = { ...fault, unauthorizedCount: fault.unauthorizedCount - 1 }
        return HttpServerResponse.text("Unauthorized", { status: 401, headers: unauthorizedHeaders() })
      }
      if (fault.status429 !== undefined) {
        return HttpServerResponse.unsafeJson(
          { error: "rate_limited" },
          { status: 429, headers: { "retry-after": String(fault.status429.retryAfterSeconds) } }
        )
      }
      const rate = fault.errorRate ?? 0
      // Deterministic and front-loaded: rate 0.5 fails requests 1, 3, 5...; rate 1 fails all.
      if (rate > 0 && Math.ceil(n * rate - 1e-9) > Math.ceil((n - 1) * rate - 1e-9)) {
        return HttpServerResponse.text("Service Unavailable", { status: 503 })
      }
      if (fault.malformedBody === "json") {
        return HttpServerResponse.text('{"access_token": "trunc', {
          status: 200,
          contentType: "application/json"
        })
      }
      if (fault.malformedBody === "html") {
        return HttpServerResponse.html("<html><body><h1>Gateway maintenance</h1></body></html>")
      }
      return undefined
    })

  return {
    injected,
    set: (endpoint: Endpoint, fault: Fault) =>
      Effect.sync(() => void faults.set(endpoint, { fault, seen: 0 })),
    clear: Effect.sync(() => faults.clear()),
    list: Effect.sync(() =>
      Object.fromEntries([...faults].map(([endpoint, { fault, seen }]) => [endpoint, { ...fault, seen }]))
    )
  }
}
