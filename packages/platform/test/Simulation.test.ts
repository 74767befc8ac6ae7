/**
 * 24 simulated hours of steady PoS traffic on `TestClock`, against a sandbox started inside the
 * test (so both read the same clock): the token endpoint sees what the lifecycle policy
 * predicts, give or take one request, and the API never answers 401 to an expired token.
 */
import { FetchHttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { SecureRandom, Token, TokenLifecycle, Vat } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Duration, Effect, Layer, Redacted, TestClock, Tracer } from "effect"
import * as AuthHttp from "../src/AuthHttp.js"
import * as IntegratorAuth from "../src/IntegratorAuth.js"
import * as MobilePayConfig from "../src/MobilePayConfig.js"
import * as MobilePayHttpClient from "../src/MobilePayHttpClient.js"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenVault from "../src/TokenVault.js"
import { CLIENT_ID, CLIENT_SECRET } from "./utils/sandboxStack.js"

const DAY_SECONDS = 24 * 3600

/**
 * Background refreshes are forked and speak real loopback HTTP. The test must not move the
 * clock while one is in flight (AuthHttp's per-attempt timeout sleeps on the same clock), so it
 * watches the `mobilepay_auth.refresh` spans and waits until none is open.
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
 * The per-attempt timeout is longer than the simulated day: every timeout leaves a sleep on the
 * TestClock, and waking each finished one costs `TestClock.adjust` a real-time poll. In-flight
 * background refreshes are waited for explicitly (`refreshWatcher`), not bounded by the clock.
 */
const stack = (integratorTokenLifetime: number) =>
  Layer.unwrapEffect(
    Effect.map(Sandbox.Sandbox, (sandbox) =>
      IntegratorAuth.layer.pipe(
        Layer.provideMerge(TokenManager.layer()),
        Layer.provideMerge(TokenVault.layerEphemeral),
        Layer.provideMerge(AuthHttp.layer({ allowInsecureLoopback: true, timeout: "2 days" })),
        Layer.provide(FetchHttpClient.layer),
        Layer.provideMerge(
          MobilePayConfig.layer({
            environment: sandbox.environment,
            clientId: CLIENT_ID,
            clientSecret: Redacted.make(CLIENT_SECRET),
            clientSystemVersion: "2.3.4"
          })
        ),
        Layer.provideMerge(SecureRandom.layerWebCrypto)
      )
    )
  ).pipe(
    Layer.provideMerge(
      Sandbox.layer({
        integratorClients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
        integratorTokenLifetime
      })
    )
  )

/**
 * [min, max] token requests over `seconds` of traffic with a call every `stepSeconds`, from the
 * policy's own schedule. A token is used until its `refreshAt`; the call that first finds it due
 * (the first on the step grid at or after `refreshAt`) gets the next one, issued at that instant.
 * Jitter 1 gives the longest use, hence the fewest requests; jitter 0 the most.
 */
const predicted = (lifetimeSeconds: number, seconds: number, stepSeconds: number) => {
  const tokens = Token.fromResponse(
    { access_token: Redacted.make("t"), token_type: "Bearer", expires_in: lifetimeSeconds },
    0
  )
  const step = stepSeconds * 1000
  const usedFor = (jitter: number) =>
    Math.ceil(TokenLifecycle.schedule(TokenLifecycle.defaultPolicy, tokens, jitter).refreshAt / step) * step
  const fewest = Math.ceil((seconds * 1000) / usedFor(1))
  const most = Math.ceil((seconds * 1000) / usedFor(0))
  return { min: fewest - 1, max: most + 1 }
}

const simulate = (lifetimeSeconds: number, stepSeconds: number) =>
  Effect.gen(function* () {
    const watcher = yield* refreshWatcher
    return yield* Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      const client = yield* MobilePayHttpClient.integrator({
        merchantVat: Vat.Vat("DK12345678"),
        bound: false
      })
      const calls = Number(process.env.SIM_CALLS ?? DAY_SECONDS / stepSeconds)
      const statuses = new Map<number, number>()
      const started = performance.now()
      for (let i = 0; i < calls; i++) {
        const response = yield* client.execute(
          HttpClientRequest.post("/pos/v10/payments").pipe(
            HttpClientRequest.bodyUnsafeJson({ amount: 100 + i })
          )
        )
        yield* response.text
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        yield* watcher.settled
        yield* TestClock.adjust(Duration.seconds(stepSeconds))
      }
      const wallMillis = performance.now() - started
      const tokenRequests = yield* sandbox.requestCount("integratorToken")
      const apiRequests = yield* sandbox.requestCount("api")
      const { min, max } = predicted(lifetimeSeconds, DAY_SECONDS, stepSeconds)
      console.log(
        `simulation: ${lifetimeSeconds} s tokens, ${calls} calls every ${stepSeconds} s over 24 simulated h: ` +
          `${tokenRequests} token requests (policy predicts ${min}..${max}), ` +
          `${watcher.started()} refresh cycles, wall ${Math.round(wallMillis)} ms`
      )
      return { calls, statuses, tokenRequests, apiRequests, min, max }
    }).pipe(Effect.withTracer(watcher.tracer), Effect.provide(stack(lifetimeSeconds)))
  })

/**
 * One PoS call per simulated minute (1,440 a day), not per 10 s: each step costs real time (a
 * loopback round trip, and TestClock's poll for suspended fibers), and 8,640 steps per run would
 * take over a minute of wall time. Both runs go concurrently, each on its own TestClock.
 */
const STEP_SECONDS = 60

describe.concurrent("24 simulated hours of API traffic", () => {
  for (const lifetime of [3700, 300]) {
    it.effect(
      `${lifetime} s integrator tokens: token requests as the policy predicts, no 401`,
      () =>
        Effect.gen(function* () {
          const { calls, statuses, tokenRequests, apiRequests, min, max } = yield* simulate(
            lifetime,
            STEP_SECONDS
          )
          expect(tokenRequests).toBeGreaterThanOrEqual(min)
          expect(tokenRequests).toBeLessThanOrEqual(max)
          // Every call succeeded first time: an expired token would have been a 401 and a retry.
          expect(statuses.get(200)).toBe(calls)
          expect(apiRequests).toBe(calls)
        }),
      60_000
    )
  }
})
