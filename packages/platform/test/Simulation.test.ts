/**
 * 24 simulated hours of steady PoS traffic, with 3700 s and with 300 s integrator tokens: the
 * token endpoint gets the number of requests the lifecycle policy predicts (within one), no
 * expired token ever reaches the API. The wall time is printed, not asserted (shared machines are
noisy): about a second a day here, spent in the toolkit's own HTTP and refresh path (about 0.5 ms
an API call and 1 to 2.5 ms a token request), not in waiting; a clock step costs about 0.1 ms.
 *
 * Time is a test clock (`SimulatedClock`) that the toolkit and the fake MobilePay below both read.
 * The fake answers in process (no socket) and signs nothing: the token endpoint hands out opaque
 * tokens and remembers when each expires, and the API counts every call made with a token at or
 * past its expiry. The real protocol, signatures and sockets are covered against the sandbox
 * elsewhere; here the subject is the token lifecycle over a day. Jitter is fixed (a `Random` that
 * always draws the same number), so the prediction is one number, not a range.
 */
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Environment, Token, TokenLifecycle, Vat } from "@mobilepay-auth/domain"
import { Clock, Effect, Layer, Random, Redacted, TestClock, Tracer } from "effect"
import * as MobilePayHttpClient from "../src/MobilePayHttpClient.js"
import * as SimulatedClock from "./utils/SimulatedClock.js"
import { CLIENT_ID, CLIENT_SECRET, platformStack } from "./utils/sandboxStack.js"

const DAY_SECONDS = 24 * 3600
// Never contacted: every request is answered by the fake client in process.
const BASE = "http://127.0.0.1:9"

/**
 * MobilePay's integrator token endpoint and a payments API, in process, on the caller's clock.
 */
const fakeMobilePay = (lifetimeSeconds: number) => {
  const expiries = new Map<string, number>()
  const counts = { tokenRequests: 0, apiCalls: 0, expiredSent: 0, unknownSent: 0 }
  // RFC 6749 2.3.1: id and secret are form-encoded before Basic (oauth4webapi encodes `-` too).
  const basicCredentials = (header: string | undefined) => {
    const [id, secret] = atob((header ?? "").replace(/^Basic /, "")).split(":")
    return { id: decodeURIComponent(id ?? ""), secret: decodeURIComponent(secret ?? "") }
  }

  const answer = (request: HttpClientRequest.HttpClientRequest, status: number, body: unknown) =>
    HttpClientResponse.fromWeb(
      request,
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
    )

  const client = HttpClient.make((request, url) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (request.method === "POST" && url.href === `${BASE}/integrator-authentication/connect/token`) {
        counts.tokenRequests++
        const form =
          request.body._tag === "Uint8Array"
            ? new URLSearchParams(new TextDecoder().decode(request.body.body))
            : new URLSearchParams()
        const credentials = basicCredentials(request.headers.authorization)
        if (
          credentials.id !== CLIENT_ID ||
          credentials.secret !== CLIENT_SECRET ||
          form.get("grant_type") !== "client_credentials"
        ) {
          return answer(request, 400, { error: "invalid_client" })
        }
        const accessToken = `at-${counts.tokenRequests}`
        expiries.set(accessToken, now + lifetimeSeconds * 1000)
        return answer(request, 200, {
          access_token: accessToken,
          token_type: "Bearer",
          expires_in: lifetimeSeconds,
          scope: "integrator_scope"
        })
      }
      if (request.method === "POST" && url.href === `${BASE}/pos/v10/payments`) {
        counts.apiCalls++
        const token = (request.headers.authorization ?? "").replace(/^Bearer /, "")
        const expiresAt = expiries.get(token)
        if (expiresAt === undefined) counts.unknownSent++
        else if (now >= expiresAt) counts.expiredSent++
        else return answer(request, 200, { status: "Initiated" })
        return answer(request, 401, { error: "unauthorized" })
      }
      return yield* Effect.fail(
        new HttpClientError.RequestError({ request, reason: "Transport", description: `no route ${url}` })
      )
    })
  )
  return { client, counts }
}

const stack = (client: HttpClient.HttpClient) =>
  platformStack(
    Environment.custom({
      name: "simulation",
      discoveryUrl: `${BASE}/account/.well-known/openid-configuration`,
      issuer: `${BASE}/account`,
      integratorTokenUrl: `${BASE}/integrator-authentication/connect/token`,
      apiBaseUrl: BASE,
      allowInsecureLoopback: true
    }),
    Layer.succeed(HttpClient.HttpClient, client)
  )

/**
 * A call that finds its token due starts a background refresh (forked; its token request runs on
 * the runtime AuthHttp captured, and awaits promises). The clock may move only once no
 * `mobilepay_auth.refresh` span is open, or the new token would be issued at a later instant.
 */
const refreshWatcher = Effect.map(Effect.tracer, (native) => {
  let open = 0
  let started = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      if (name !== "mobilepay_auth.refresh") return span
      open++
      started++
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        open--
        end(endTime, exit)
      }
      return span
    },
    context: (f, fiber) => native.context(f, fiber)
  })
  const nextTick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  const settled = Effect.gen(function* () {
    for (let i = 0; i < 3; i++) yield* Effect.yieldNow()
    while (open > 0) yield* nextTick
  })
  return { tracer, settled, started: () => started }
})

/**
 * Token requests the policy predicts for a call every `stepSeconds` from instant 0, replaying
 * `TokenLifecycle.schedule`: a token serves until its `refreshAt`; the first call at or after it
 * gets the next token, issued at that call's instant (the fake answers at once).
 */
const predicted = (lifetimeSeconds: number, calls: number, stepSeconds: number, jitter: number) => {
  let requests = 0
  let refreshAt = 0
  for (let i = 0; i < calls; i++) {
    const now = i * stepSeconds * 1000
    if (i > 0 && now < refreshAt) continue
    requests++
    const tokens = Token.fromResponse(
      { access_token: Redacted.make("t"), token_type: "Bearer", expires_in: lifetimeSeconds },
      now
    )
    refreshAt = TokenLifecycle.schedule(TokenLifecycle.defaultPolicy, tokens, jitter).refreshAt
  }
  return requests
}

const simulate = (lifetimeSeconds: number, stepSeconds: number, jitter: number) =>
  Effect.gen(function* () {
    const watcher = yield* refreshWatcher
    const clock = SimulatedClock.make(watcher.settled)
    const mobilePay = fakeMobilePay(lifetimeSeconds)
    const calls = DAY_SECONDS / stepSeconds
    const statuses = new Map<number, number>()
    const started = performance.now()
    yield* Effect.gen(function* () {
      const client = yield* MobilePayHttpClient.integrator({
        merchantVat: Vat.Vat("DK12345678"),
        bound: false
      })
      for (let i = 0; i < calls; i++) {
        const response = yield* client.execute(
          HttpClientRequest.post("/pos/v10/payments").pipe(
            HttpClientRequest.bodyUnsafeJson({ amount: 100 + i })
          )
        )
        yield* response.text
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        yield* TestClock.adjust(`${stepSeconds} seconds`)
      }
    }).pipe(
      Effect.provide(stack(mobilePay.client)),
      Effect.withTracer(watcher.tracer),
      Effect.withRandom(Random.fixed([jitter])),
      SimulatedClock.install(clock)
    )
    const wallMillis = performance.now() - started
    const expected = predicted(lifetimeSeconds, calls, stepSeconds, jitter)
    const { tokenRequests } = mobilePay.counts
    console.log(
      `simulation: ${lifetimeSeconds} s tokens, ${calls} calls every ${stepSeconds} s over 24 simulated h: ` +
        `${tokenRequests} token requests (policy predicts ${expected}), ` +
        `${watcher.started()} refresh cycles, wall ${Math.round(wallMillis)} ms`
    )
    return { calls, expected, statuses, ...mobilePay.counts }
  })

/** A PoS call every simulated minute: 1,440 a day. */
const STEP_SECONDS = 60

describe("24 simulated hours of API traffic", () => {
  for (const [lifetime, jitter] of [
    [3700, 0.73],
    [300, 0.21]
  ] as const) {
    it.effect(
      `${lifetime} s integrator tokens: token requests as the policy predicts, no expired token`,
      () =>
        Effect.gen(function* () {
          const result = yield* simulate(lifetime, STEP_SECONDS, jitter)
          expect(Math.abs(result.tokenRequests - result.expected)).toBeLessThanOrEqual(1)
          expect(result.expiredSent).toBe(0)
          expect(result.unknownSent).toBe(0)
          // Every call succeeded first time (a 401 would have been retried: two API calls).
          expect(result.statuses.get(200)).toBe(result.calls)
          expect(result.apiCalls).toBe(result.calls)
        })
    )
  }
})
