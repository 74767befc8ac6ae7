import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Vat } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Redacted } from "effect"
import * as MobilePayHttpClient from "../src/MobilePayHttpClient.js"
import { integratorStack } from "./utils/sandboxStack.js"

const vat = Vat.Vat("DK12345678")
const pay = (options: { bound: boolean }, request = HttpClientRequest.post("/pos/v10/payments")) =>
  Effect.gen(function* () {
    const client = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: options.bound })
    const response = yield* client.execute(request.pipe(HttpClientRequest.bodyUnsafeJson({ amount: 1250 })))
    return { status: response.status, body: yield* response.json }
  })
const apiRequests = Effect.flatMap(Sandbox.Sandbox, (s) => s.requests("api"))
const fast = { http: { baseBackoff: "1 millis", maxBackoff: "5 millis" } } as const

describe("MobilePayHttpClient", () => {
  it.live("unbound token: bearer, system version, VAT header and a UUID idempotency key on POST", () =>
    Effect.gen(function* () {
      const result = yield* pay({ bound: false })
      expect(result.status).toBe(200)
      const [sent] = yield* apiRequests
      const headers = sent?.headers ?? {}
      expect(headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
      expect(headers["x-mobilepay-client-system-version"]).toBe("2.3.4")
      expect(headers["x-mobilepay-merchant-vat-number"]).toBe("DK12345678")
      expect(headers["x-mobilepay-idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/)
      expect(headers["x-ibm-client-id"]).toBeUndefined()
      expect(headers["x-ibm-client-secret"]).toBeUndefined()
    }).pipe(Effect.provide(integratorStack()))
  )

  it.live(
    "merchant-bound token: no VAT header; gateway keys when configured; GET has no idempotency key",
    () =>
      Effect.gen(function* () {
        const created = yield* pay({ bound: true })
        expect(created.status).toBe(200)
        const client = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: true })
        const paymentId = (created.body as { paymentId: string }).paymentId
        const found = yield* client.execute(HttpClientRequest.get(`/pos/v10/payments/${paymentId}`))
        expect(found.status).toBe(200)
        const [post, get] = yield* apiRequests
        expect(post?.headers["x-mobilepay-merchant-vat-number"]).toBeUndefined()
        expect(post?.headers["x-ibm-client-id"]).toBe("gw-id")
        expect(post?.headers["x-ibm-client-secret"]).toBe("gw-secret")
        expect(get?.headers["x-mobilepay-idempotency-key"]).toBeUndefined()
        expect(get?.headers["x-ibm-client-id"]).toBe("gw-id")
      }).pipe(
        Effect.provide(
          integratorStack({
            sandbox: { gateway: { clientId: "gw-id", clientSecret: "gw-secret" } },
            config: { gateway: { clientId: "gw-id", clientSecret: Redacted.make("gw-secret") } }
          })
        )
      )
  )

  it.live("a caller's own idempotency key is kept", () =>
    Effect.gen(function* () {
      yield* pay(
        { bound: true },
        HttpClientRequest.post("/pos/v10/payments").pipe(
          HttpClientRequest.setHeader("x-mobilepay-idempotency-key", "order-4711")
        )
      )
      const [sent] = yield* apiRequests
      expect(sent?.headers["x-mobilepay-idempotency-key"]).toBe("order-4711")
    }).pipe(Effect.provide(integratorStack()))
  )

  it.live("a 5xx is retried with the same idempotency key", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("api", { errorRate: 0.5 })
      expect((yield* pay({ bound: true })).status).toBe(200)
      const sent = yield* apiRequests
      expect(sent.map((r) => r.headers["x-mobilepay-idempotency-key"])).toEqual([
        sent[0]?.headers["x-mobilepay-idempotency-key"],
        sent[0]?.headers["x-mobilepay-idempotency-key"]
      ])
      expect(sent).toHaveLength(2)
    }).pipe(Effect.provide(integratorStack(fast)))
  )

  it.live("a 401 invalidates the token, fetches a fresh one and retries once, with the same key", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      yield* pay({ bound: true }) // warm the cache
      yield* sandbox.resetCounts
      yield* sandbox.setFault("api", { unauthorizedCount: 1 })
      const result = yield* pay({ bound: true })
      expect(result.status).toBe(200)
      expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      const sent = yield* apiRequests
      expect(sent).toHaveLength(2)
      expect(sent[0]?.headers.authorization).not.toBe(sent[1]?.headers.authorization)
      expect(sent[0]?.headers["x-mobilepay-idempotency-key"]).toBe(
        sent[1]?.headers["x-mobilepay-idempotency-key"]
      )
    }).pipe(Effect.provide(integratorStack()))
  )

  it.live("a second 401 is Unauthorized, after exactly two attempts", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("api", { unauthorizedCount: 5 })
      const error = yield* Effect.flip(pay({ bound: true }))
      expect(error._tag).toBe("Unauthorized")
      expect(yield* sandbox.requestCount("api")).toBe(2)
    }).pipe(Effect.provide(integratorStack()))
  )
})
