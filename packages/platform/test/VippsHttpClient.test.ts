import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { SecureRandom } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Redacted } from "effect"
import * as VippsAccessToken from "../src/VippsAccessToken.js"
import * as VippsHttpClient from "../src/VippsHttpClient.js"
import {
  MANAGEMENT_CLIENT_ID,
  MANAGEMENT_SECRET,
  MERCHANTS,
  VIPPS_SUBSCRIPTION_KEY,
  vippsStack
} from "./utils/vippsStack.js"

const payment = (reference: string, value = 4900) =>
  HttpClientRequest.post("/epayment/v1/payments").pipe(
    HttpClientRequest.bodyUnsafeJson({
      amount: { currency: "NOK", value },
      paymentMethod: { type: "WALLET" },
      reference,
      userFlow: "WEB_REDIRECT",
      returnUrl: "https://shop.example/return"
    })
  )

const create = (
  request: HttpClientRequest.HttpClientRequest,
  authentication: VippsAccessToken.Authentication = VippsAccessToken.standard()
) =>
  Effect.gen(function* () {
    const client = yield* VippsHttpClient.make(authentication)
    const response = yield* client.execute(request)
    return { status: response.status, body: yield* response.json }
  })

const apiRequests = Effect.flatMap(Sandbox.Sandbox, (s) => s.requests("vippsApi"))
const tokenRequests = Effect.flatMap(Sandbox.Sandbox, (s) => s.requestCount("vippsToken"))
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const fast = { http: { baseBackoff: "1 millis", maxBackoff: "5 millis" } } as const

describe("VippsHttpClient against the sandbox's ePayment API", () => {
  it.live("every header on a write and a read; the second call's token comes from the cache", () =>
    Effect.gen(function* () {
      const created = yield* create(payment("order-10001"))
      expect(created).toEqual({ status: 201, body: expect.objectContaining({ reference: "order-10001" }) })
      const client = yield* VippsHttpClient.make()
      const read = yield* client.execute(HttpClientRequest.get("/epayment/v1/payments/order-10001"))
      expect(read.status).toBe(200)
      expect(yield* read.json).toMatchObject({ reference: "order-10001", state: "CREATED" })
      const [post, get] = yield* apiRequests
      for (const sent of [post, get]) {
        const h = sent?.headers ?? {}
        expect(h.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
        expect(h["ocp-apim-subscription-key"]).toBe(VIPPS_SUBSCRIPTION_KEY)
        expect(h["merchant-serial-number"]).toBe(MERCHANTS[0])
        expect(h["vipps-system-name"]).toBe("acme-pos")
        expect(h["vipps-system-version"]).toBe("4.2.0")
        expect(h["vipps-system-plugin-name"]).toBe("acme-vipps")
        expect(h["vipps-system-plugin-version"]).toBe("1.0.3")
        expect(h["client_secret"]).toBeUndefined()
      }
      expect(post?.headers["idempotency-key"]).toMatch(UUID_V4)
      expect(get?.headers["idempotency-key"]).toBeUndefined()
      expect(yield* tokenRequests).toBe(1)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a partner acts per merchant: each client names its merchant, one token per merchant", () =>
    Effect.gen(function* () {
      for (const [i, msn] of MERCHANTS.entries()) {
        const result = yield* create(
          payment(`partner-order-${i}0000`),
          VippsAccessToken.standard({ merchantSerialNumber: msn })
        )
        expect(result.status).toBe(201)
        yield* create(
          payment(`partner-order-${i}0001`),
          VippsAccessToken.standard({ merchantSerialNumber: msn })
        )
      }
      const sent = yield* apiRequests
      expect(sent.map((r) => r.headers["merchant-serial-number"])).toEqual(MERCHANTS.flatMap((m) => [m, m]))
      expect(yield* tokenRequests).toBe(3)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live(
    "the idempotency key comes from SecureRandom: the same seed, the same key",
    () =>
      Effect.gen(function* () {
        const keyWith = (seed: number) =>
          Effect.gen(function* () {
            yield* create(payment(`seeded-order-${seed}`))
            const [sent] = yield* apiRequests
            return sent?.headers["idempotency-key"]
          }).pipe(Effect.provide(vippsStack({ random: SecureRandom.layerSeeded(seed) })))
        const [a, b, c] = [yield* keyWith(7), yield* keyWith(7), yield* keyWith(8)]
        expect(a).toMatch(UUID_V4)
        expect(b).toBe(a)
        expect(c).not.toBe(a)
      }),
    // Three sandboxes (each generates RSA keys): more than 5 s on a loaded machine.
    30_000
  )

  it.live("a caller's own Idempotency-Key is kept; replaying it returns the first answer", () =>
    Effect.gen(function* () {
      const keyed = (reference: string) =>
        payment(reference).pipe(HttpClientRequest.setHeader("Idempotency-Key", "order-4711-attempt"))
      const first = yield* create(keyed("order-47110"))
      const replay = yield* create(keyed("order-47110"))
      expect(replay).toEqual(first)
      const sent = yield* apiRequests
      expect(sent.map((r) => r.headers["idempotency-key"])).toEqual([
        "order-4711-attempt",
        "order-4711-attempt"
      ])
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a 5xx is retried with the same Idempotency-Key", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("vippsApi", { errorRate: 0.5 })
      expect((yield* create(payment("order-50300"))).status).toBe(201)
      const sent = yield* apiRequests
      expect(sent).toHaveLength(2)
      expect(sent[1]?.headers["idempotency-key"]).toBe(sent[0]?.headers["idempotency-key"])
    }).pipe(Effect.provide(vippsStack(fast)))
  )

  it.live(
    "a 401: the token is dropped, a fresh one fetched, the request sent once more with the same key",
    () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        yield* create(payment("order-40100"))
        yield* sandbox.resetCounts
        yield* sandbox.setFault("vippsApi", { unauthorizedCount: 1 })
        expect((yield* create(payment("order-40101"))).status).toBe(201)
        const sent = yield* apiRequests
        expect(sent).toHaveLength(2)
        expect(sent[1]?.headers["idempotency-key"]).toBe(sent[0]?.headers["idempotency-key"])
        expect(sent[1]?.headers.authorization).not.toBe(sent[0]?.headers.authorization)
        expect(yield* tokenRequests).toBe(1)
      }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a second 401 is Unauthorized: exactly one retry", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      yield* sandbox.setFault("vippsApi", { unauthorizedCount: 5 })
      const error = yield* Effect.flip(create(payment("order-40102")))
      expect(error._tag).toBe("Unauthorized")
      expect(yield* sandbox.requestCount("vippsApi")).toBe(2)
      expect(yield* tokenRequests).toBe(2)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a problem+json answer is ApiProblem with status, extraDetails and trace id", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(create(payment("bad", -5)))
      expect(error._tag).toBe("ApiProblem")
      if (error._tag !== "ApiProblem") return
      expect(error.status).toBe(400)
      expect(error.title).toBe("Bad Request")
      expect(error.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(error.extraDetails.map((d) => d.name).sort()).toEqual(["amount.value", "reference"])
      expect(error.message).toContain("amount.value")
      expect(error.message).toContain(error.traceId ?? "no trace id")
      const missing = yield* Effect.flip(
        Effect.flatMap(VippsHttpClient.make(), (c) =>
          c.execute(HttpClientRequest.get("/epayment/v1/payments/none-such"))
        )
      )
      expect(missing._tag === "ApiProblem" && missing.status).toBe(404)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("partner keys without a merchant serial number: the API asks for one (ApiProblem 400)", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        create(payment("order-60000"), VippsAccessToken.standard({ merchantSerialNumber: null }))
      )
      expect(error._tag === "ApiProblem" && error.extraDetails).toEqual([
        { name: "Merchant-Serial-Number", reason: "Required" }
      ])
      const [sent] = yield* apiRequests
      expect(sent?.headers["merchant-serial-number"]).toBeUndefined()
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a specialized token sends no subscription key; ePayment refuses it, so Unauthorized", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(create(payment("order-70000"), VippsAccessToken.specialized()))
      expect(error._tag).toBe("Unauthorized")
      const sent = yield* apiRequests
      expect(sent.map((r) => r.headers["ocp-apim-subscription-key"])).toEqual([undefined, undefined])
      expect(sent[0]?.headers.authorization).toMatch(/^Bearer /)
    }).pipe(
      Effect.provide(
        vippsStack({
          withoutSubscriptionKey: true,
          config: { clientId: MANAGEMENT_CLIENT_ID, clientSecret: Redacted.make(MANAGEMENT_SECRET) }
        })
      )
    )
  )

  it.live("another origin is refused before a token or the subscription key is attached", () =>
    Effect.gen(function* () {
      const client = yield* VippsHttpClient.make()
      for (const url of [
        "http://127.0.0.2:1/epayment/v1/payments",
        "//evil.example/x",
        "/\\evil.example/x"
      ]) {
        const error = yield* Effect.flip(client.execute(HttpClientRequest.get(url)))
        expect(error._tag === "InsecureEndpoint" && error.reason).toBe("foreign-origin")
      }
      expect(yield* tokenRequests).toBe(0)
      expect(yield* apiRequests).toEqual([])
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("a malformed merchant serial number fails when the client is made, before any request", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        VippsHttpClient.make(VippsAccessToken.standard({ merchantSerialNumber: "MSN-1" }))
      )
      expect(error.code).toBe("invalid_merchant_serial_number")
      expect(yield* tokenRequests).toBe(0)
    }).pipe(Effect.provide(vippsStack()))
  )
})
