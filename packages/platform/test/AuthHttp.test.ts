/**
 * The hardened HTTP path against a stand-in `HttpClient` that records every request and answers
 * from a script, under `TestClock`: endpoint policy, timeouts, bounded retries with exponential
 * backoff and `Retry-After`, and the WHATWG `fetch` bridge oauth4webapi uses.
 */
import {
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpClientResponse,
  type HttpClient as HttpClientNs
} from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Effect, Fiber, Option, Random, Runtime, TestClock } from "effect"
import * as oauth from "oauth4webapi"
import * as AuthHttp from "../src/AuthHttp.js"
import * as OAuth from "../src/internal/oauth.js"

interface Seen {
  readonly at: number
  readonly request: HttpClientRequest.HttpClientRequest
  readonly body: string
}

type Answer =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | "hang"
  | "drop"

const bodyText = (request: HttpClientRequest.HttpClientRequest): string => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return new TextDecoder().decode(body.body)
    case "Raw":
      return typeof body.body === "string" ? body.body : ""
    default:
      return ""
  }
}

/** A client that answers `script[n]` to the n-th request (the last entry thereafter). */
const standIn = (script: ReadonlyArray<Answer>) => {
  const seen: Array<Seen> = []
  const client: HttpClientNs.HttpClient = HttpClient.make((request) =>
    Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const answer = script[Math.min(seen.length, script.length - 1)] ?? { status: 200 }
      seen.push({ at, request, body: bodyText(request) })
      if (answer === "hang") return yield* Effect.never
      if (answer === "drop") {
        return yield* Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("ECONNRESET") })
        )
      }
      return HttpClientResponse.fromWeb(
        request,
        new Response(answer.status === 204 ? null : (answer.body ?? ""), {
          status: answer.status,
          headers: answer.headers ?? {}
        })
      )
    })
  )
  return { client, seen }
}

const withoutTracing = (headers: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name !== "b3" && name !== "traceparent"))

const URL_OK = "https://api.example.test/pos/v10/payments"
// r = 0.999... puts every backoff at its exponential ceiling: base * 2^n.
const atCeiling = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.withRandom(effect, Random.fixed([0.999_999_999]))

describe("AuthHttp.harden: endpoints", () => {
  it.effect("https is required: http to a public host is InsecureEndpoint, nothing is sent", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 200 }])
      const hardened = AuthHttp.harden(client, { allowInsecureLoopback: true })
      const error = yield* Effect.flip(hardened.get("http://api.example.test/pos/v10/payments?x=1"))
      expect(error._tag).toBe("InsecureEndpoint")
      expect(error._tag === "InsecureEndpoint" && error.url).toBe("http://api.example.test/pos/v10/payments")
      expect(seen).toHaveLength(0)
      expect((yield* hardened.get(URL_OK)).status).toBe(200)
      expect(seen).toHaveLength(1)
    })
  )

  it.effect("loopback http only with the explicit opt-in", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 200 }])
      for (const url of ["http://127.0.0.1:8080/x", "http://localhost:8080/x", "http://[::1]:8080/x"]) {
        const refused = yield* Effect.flip(AuthHttp.harden(client).get(url))
        expect(refused._tag).toBe("InsecureEndpoint")
      }
      expect(seen).toHaveLength(0)
      const allowed = AuthHttp.harden(client, { allowInsecureLoopback: true })
      expect((yield* allowed.get("http://127.0.0.1:8080/x")).status).toBe(200)
      // A DNS name that merely looks like loopback is not loopback.
      expect((yield* Effect.flip(allowed.get("http://127.0.0.1.nip.io/x")))._tag).toBe("InsecureEndpoint")
      expect(seen).toHaveLength(1)
    })
  )
})

describe("AuthHttp.harden: timeouts and connection errors", () => {
  it.effect("an attempt that outlives the timeout is Transport timeout, after maxRetries retries", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn(["hang"])
      const hardened = AuthHttp.harden(client, {
        timeout: "2 seconds",
        maxRetries: 1,
        baseBackoff: "100 millis"
      })
      const fiber = yield* Effect.fork(atCeiling(Effect.flip(hardened.get(URL_OK))))
      yield* TestClock.adjust("2 seconds")
      expect(seen).toHaveLength(1)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("100 millis")
      expect(seen).toHaveLength(2)
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "Transport", reason: "timeout", endpoint: URL_OK })
      expect(seen.map((s) => s.at)).toEqual([0, 2100])
    })
  )

  it.effect("a connection error is Transport connection, retried maxRetries times", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn(["drop"])
      const hardened = AuthHttp.harden(client, { maxRetries: 3, baseBackoff: "100 millis" })
      const fiber = yield* Effect.fork(atCeiling(Effect.flip(hardened.get(URL_OK))))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "Transport", reason: "connection", endpoint: URL_OK })
      expect(seen).toHaveLength(4)
    })
  )

  it.effect("a dropped connection followed by a 200 is invisible to the caller", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn(["drop", { status: 200, body: "ok" }])
      const fiber = yield* Effect.fork(atCeiling(AuthHttp.harden(client).get(URL_OK)))
      yield* TestClock.adjust("1 second")
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(200)
      expect(yield* response.text).toBe("ok")
      expect(seen).toHaveLength(2)
    })
  )
})

describe("AuthHttp.harden: retries", () => {
  it.effect("5xx is retried at most maxRetries times, with exponentially growing delays", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 503 }])
      const hardened = AuthHttp.harden(client, {
        maxRetries: 3,
        baseBackoff: "200 millis",
        maxBackoff: "5 seconds"
      })
      const fiber = yield* Effect.fork(atCeiling(hardened.get(URL_OK)))
      // Move time one millisecond short of each expected retry: nothing may be sent early.
      for (const [next, expectedSent] of [
        [200, 2],
        [400, 3],
        [800, 4]
      ] as const) {
        yield* TestClock.adjust(next - 1)
        expect(seen).toHaveLength(expectedSent - 1)
        yield* TestClock.adjust(1)
        expect(seen).toHaveLength(expectedSent)
      }
      const response = yield* Fiber.join(fiber)
      // The last 5xx is handed back as a response: callers map it (the token endpoint to Transport).
      expect(response.status).toBe(503)
      expect(seen.map((s) => s.at)).toEqual([0, 200, 600, 1400])
    })
  )

  it.effect("the delay is jittered within [half, full] of the exponential step, capped at maxBackoff", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 500 }])
      const hardened = AuthHttp.harden(client, {
        maxRetries: 5,
        baseBackoff: "1 second",
        maxBackoff: "4 seconds"
      })
      const fiber = yield* Effect.fork(Effect.withRandom(hardened.get(URL_OK), Random.fixed([0])))
      yield* TestClock.adjust("60 seconds")
      expect((yield* Fiber.join(fiber)).status).toBe(500)
      const gaps = seen.slice(1).map((s, i) => s.at - (seen[i]?.at ?? 0))
      // r = 0: half of min(cap, base * 2^n).
      expect(gaps).toEqual([500, 1000, 2000, 2000, 2000])
    })
  )

  it.effect("maxRetries is capped at 5 (MobilePay's ceiling) and 4xx other than 429 is not retried", () =>
    Effect.gen(function* () {
      const failing = standIn([{ status: 502 }])
      const fiber = yield* Effect.fork(AuthHttp.harden(failing.client, { maxRetries: 50 }).get(URL_OK))
      yield* TestClock.adjust("5 minutes")
      expect((yield* Fiber.join(fiber)).status).toBe(502)
      expect(failing.seen).toHaveLength(6)

      const rejected = standIn([{ status: 400 }])
      expect((yield* AuthHttp.harden(rejected.client).get(URL_OK)).status).toBe(400)
      expect(rejected.seen).toHaveLength(1)
    })
  )

  it.effect("Retry-After in seconds is honoured", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 429, headers: { "retry-after": "7" } }, { status: 200 }])
      const fiber = yield* Effect.fork(atCeiling(AuthHttp.harden(client).get(URL_OK)))
      yield* TestClock.adjust("6999 millis")
      expect(seen).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(seen.map((s) => s.at)).toEqual([0, 7000])
    })
  )

  it.effect("Retry-After as an HTTP date is honoured", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2025, 0, 1, 12, 0, 0))
      const later = new Date(Date.UTC(2025, 0, 1, 12, 0, 12)).toUTCString()
      const { client, seen } = standIn([{ status: 503, headers: { "retry-after": later } }, { status: 200 }])
      const fiber = yield* Effect.fork(atCeiling(AuthHttp.harden(client).get(URL_OK)))
      yield* TestClock.adjust("11 seconds")
      expect(seen).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBe(12_000)
    })
  )

  it.effect("a Retry-After beyond maxRetryAfter returns the 429 at once", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 429, headers: { "retry-after": "120" } }, { status: 200 }])
      const fiber = yield* Effect.fork(AuthHttp.harden(client, { maxRetryAfter: "60 seconds" }).get(URL_OK))
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow()
      const done = yield* Fiber.poll(fiber)
      expect(Option.isSome(done)).toBe(true)
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(429)
      expect(response.headers["retry-after"]).toBe("120")
      expect(seen).toHaveLength(1)
      expect(yield* Clock.currentTimeMillis).toBe(0)
    })
  )

  it.effect("the same request, headers and body included, is re-sent on every retry", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 503 }, "drop", { status: 201 }])
      const request = HttpClientRequest.post(URL_OK).pipe(
        HttpClientRequest.setHeader("x-mobilepay-idempotency-key", "6f1c2a9e-0b7d-4e55-9a3c-1d2e3f4a5b6c"),
        HttpClientRequest.bearerToken("header.payload.signature"),
        HttpClientRequest.bodyText('{"amount":1250}', "application/json")
      )
      const fiber = yield* Effect.fork(atCeiling(AuthHttp.harden(client).execute(request)))
      yield* TestClock.adjust("5 seconds")
      expect((yield* Fiber.join(fiber)).status).toBe(201)
      expect(seen).toHaveLength(3)
      for (const s of seen) {
        expect(s.request.method).toBe("POST")
        expect(s.request.url).toBe(URL_OK)
        // Tracing headers name each attempt's span; every other header is the caller's, unchanged.
        expect(withoutTracing(s.request.headers)).toEqual(withoutTracing(seen[0]?.request.headers ?? {}))
        expect(s.body).toBe('{"amount":1250}')
      }
      expect(seen[0]?.request.headers["x-mobilepay-idempotency-key"]).toBe(
        "6f1c2a9e-0b7d-4e55-9a3c-1d2e3f4a5b6c"
      )
    })
  )
})

describe("AuthHttp.parseRetryAfter", () => {
  it("seconds, HTTP dates (past ones as 0), and garbage", () => {
    expect(AuthHttp.parseRetryAfter("3", 0)).toEqual(Option.some(3000))
    expect(AuthHttp.parseRetryAfter(" 10 ", 0)).toEqual(Option.some(10_000))
    const now = Date.UTC(2025, 5, 1)
    expect(AuthHttp.parseRetryAfter(new Date(now + 4000).toUTCString(), now)).toEqual(Option.some(4000))
    expect(AuthHttp.parseRetryAfter(new Date(now - 4000).toUTCString(), now)).toEqual(Option.some(0))
    expect(AuthHttp.parseRetryAfter("soon", now)).toEqual(Option.none())
    expect(AuthHttp.parseRetryAfter(undefined, now)).toEqual(Option.none())
  })
})

describe("AuthHttp.toFetch", () => {
  it.effect("round-trips method, headers, body and status", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([
        {
          status: 201,
          headers: { "content-type": "application/json", "x-trace": "abc" },
          body: '{"ok":true}'
        }
      ])
      const fetch = AuthHttp.toFetch(AuthHttp.harden(client), yield* Effect.runtime<never>())
      const response = yield* Effect.promise(() =>
        fetch("https://auth.example.test/connect/token", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic YTpi" },
          body: "grant_type=client_credentials&merchant_vat=DK12345678"
        })
      )
      expect(seen).toHaveLength(1)
      const sent = seen[0]
      expect(sent?.request.method).toBe("POST")
      expect(sent?.request.url).toBe("https://auth.example.test/connect/token")
      expect(sent?.request.headers.authorization).toBe("Basic YTpi")
      expect(sent?.request.headers["content-type"]).toContain("application/x-www-form-urlencoded")
      expect(sent?.body).toBe("grant_type=client_credentials&merchant_vat=DK12345678")
      expect(response.status).toBe(201)
      expect(response.headers.get("x-trace")).toBe("abc")
      expect(response.headers.get("content-type")).toBe("application/json")
      expect(yield* Effect.promise(() => response.json())).toEqual({ ok: true })
    })
  )

  it.effect("a GET without a body, and a 204 with none", () =>
    Effect.gen(function* () {
      const { client, seen } = standIn([{ status: 204 }])
      const fetch = AuthHttp.toFetch(AuthHttp.harden(client), yield* Effect.runtime<never>())
      const response = yield* Effect.promise(() => fetch(new URL("https://auth.example.test/jwks")))
      expect(seen[0]?.request.method).toBe("GET")
      expect(seen[0]?.body).toBe("")
      expect(response.status).toBe(204)
      expect(response.body).toBeNull()
    })
  )

  it.effect("failures reject with the toolkit's tagged errors (inside the fiber failure)", () =>
    Effect.gen(function* () {
      const { client } = standIn([{ status: 200 }])
      const fetch = AuthHttp.toFetch(AuthHttp.harden(client), yield* Effect.runtime<never>())
      const rejection = yield* Effect.promise(() =>
        fetch("http://auth.example.test/connect/token").then(
          () => undefined,
          (e: unknown) => e
        )
      )
      expect(Runtime.isFiberFailure(rejection)).toBe(true)
      const cause = Runtime.isFiberFailure(rejection) ? rejection[Runtime.FiberFailureCauseId] : Cause.empty
      expect(Cause.squash(cause)).toMatchObject({ _tag: "InsecureEndpoint" })
    })
  )
})

describe("protocol errors: Retry-After", () => {
  it.effect("a 429 from the token endpoint keeps a Retry-After given as an HTTP date", () =>
    Effect.gen(function* () {
      const now = Date.UTC(2026, 0, 1, 12, 0, 0)
      const response = new Response("<html>slow down</html>", {
        status: 429,
        headers: { "content-type": "text/html", "retry-after": new Date(now + 120_000).toUTCString() }
      })
      const rejection = yield* Effect.flip(
        Effect.tryPromise(() =>
          oauth.processClientCredentialsResponse(
            { issuer: "https://as.test", token_endpoint: "https://as.test/token" },
            { client_id: "c" },
            response
          )
        )
      )
      const mapped = OAuth.toEndpointError(rejection.error, "https://as.test/token", [], now)
      expect(mapped).toMatchObject({ _tag: "RateLimited", retryAfterMillis: 120_000 })
    })
  )
})
