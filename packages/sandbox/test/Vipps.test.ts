/**
 * The sandbox's Vipps MobilePay endpoints over real HTTP, checked against the shapes Vipps
 * MobilePay documents: string numbers, Azure AD errors, the gateway's own 401, specialized
 * client credentials, and an ePayment API that checks headers and answers RFC 7807 problems.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Sandbox } from "../src/Sandbox.js"
import { vippsDefaults } from "../src/Vipps.js"
import * as Flow from "./flow.js"

const partner = vippsDefaults.client
const management = vippsDefaults.specializedClient

const standardHeaders = (overrides: Record<string, string | undefined> = {}) =>
  Object.fromEntries(
    Object.entries({
      client_id: partner.clientId,
      client_secret: partner.clientSecret,
      "ocp-apim-subscription-key": partner.subscriptionKey,
      "merchant-serial-number": "123456",
      ...overrides
    }).filter((e): e is [string, string] => e[1] !== undefined)
  )

const standardToken = (sandbox: Sandbox.Service, overrides: Record<string, string | undefined> = {}) =>
  Effect.map(
    Flow.http(`${sandbox.baseUrl}/accesstoken/get`, { method: "POST", headers: standardHeaders(overrides) }),
    (r) => ({ ...r, json: JSON.parse(r.text) as Record<string, unknown> })
  )

const createPayment = (
  sandbox: Sandbox.Service,
  token: string,
  headers: Record<string, string | undefined> = {},
  body: unknown = { amount: { currency: "NOK", value: 1000 }, reference: "sandbox-order-1" }
) =>
  Flow.http(`${sandbox.baseUrl}/epayment/v1/payments`, {
    method: "POST",
    headers: Object.fromEntries(
      Object.entries({
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "ocp-apim-subscription-key": partner.subscriptionKey,
        "merchant-serial-number": "123456",
        "idempotency-key": "key-1",
        ...headers
      }).filter((e): e is [string, string] => e[1] !== undefined)
    ),
    body: JSON.stringify(body)
  })

describe("POST /accesstoken/get", () => {
  it.effect("answers with every number as a string, and the token as Vipps MobilePay's fields", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { json, status } = yield* standardToken(sandbox)
        expect(status).toBe(200)
        expect(json).toMatchObject({
          token_type: "Bearer",
          expires_in: "3600",
          ext_expires_in: "3600",
          resource: expect.any(String),
          access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/)
        })
        expect(Number(json.expires_on) - Number(json.not_before)).toBe(3600)
        expect(Flow.jwtPayload(String(json.access_token)).msn).toBe("123456")
        expect(yield* sandbox.requestCount("vippsToken")).toBe(1)
      })
    )
  )

  it.effect("the gateway checks the subscription key first: missing or unknown is its own 401", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const missing = yield* standardToken(sandbox, { "ocp-apim-subscription-key": undefined })
        expect(missing.status).toBe(401)
        expect(missing.json).toMatchObject({ statusCode: 401, message: expect.stringContaining("missing") })
        const unknown = yield* standardToken(sandbox, { "ocp-apim-subscription-key": "nope" })
        expect(unknown.json.message).toContain("invalid subscription key")
      })
    )
  )

  it.effect("wrong credentials are Azure AD errors with codes and a trace id", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const secret = yield* standardToken(sandbox, { client_secret: "wrong" })
        expect(secret.status).toBe(401)
        expect(secret.json).toMatchObject({
          error: "invalid_client",
          error_codes: [7000215],
          trace_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          correlation_id: expect.any(String)
        })
        expect(secret.json.error_description).toMatch(/^AADSTS7000215: /)
        const client = yield* standardToken(sandbox, { client_id: "someone-else" })
        expect(client.json).toMatchObject({ error: "unauthorized_client", error_codes: [700016] })
        const merchant = yield* standardToken(sandbox, { "merchant-serial-number": "999999" })
        expect(merchant.status).toBe(400)
        expect(merchant.json.error).toBe("invalid_request")
      })
    )
  )

  it.effect("without Merchant-Serial-Number, partner keys get a partner-level token", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { json } = yield* standardToken(sandbox, { "merchant-serial-number": undefined })
        expect(Flow.jwtPayload(String(json.access_token)).msn).toBeUndefined()
      })
    )
  )

  it.effect("faults and counters work as on MobilePay's endpoints", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        yield* sandbox.setFault("vippsToken", { status429: { retryAfterSeconds: 7 }, times: 1 })
        const limited = yield* standardToken(sandbox)
        expect(limited.status).toBe(429)
        expect(limited.headers.get("retry-after")).toBe("7")
        expect((yield* standardToken(sandbox)).status).toBe(200)
        expect(yield* sandbox.requestCount("vippsToken")).toBe(2)
      })
    )
  )
})

describe("POST /miami/v1/token (specialized)", () => {
  const token = (
    sandbox: Sandbox.Service,
    body: Record<string, string>,
    secret: string = management.clientSecret
  ) =>
    Effect.map(
      Flow.http(`${sandbox.baseUrl}/miami/v1/token`, {
        ...Flow.form(body),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: Flow.basic(management.clientId, secret)
        }
      }),
      (r) => ({ ...r, json: JSON.parse(r.text) as Record<string, unknown> })
    )

  it.effect("client credentials with Basic: a 15-minute token, expires_in a number", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { json, status } = yield* token(sandbox, { grant_type: "client_credentials" })
        expect(status).toBe(200)
        expect(json).toMatchObject({ token_type: "Bearer", expires_in: 900 })
        expect((yield* sandbox.requests("vippsSpecializedToken"))[0]?.path).toBe("/miami/v1/token")
      })
    )
  )

  it.effect("without grant_type: invalid_client, as Vipps MobilePay answers; a wrong secret: 401", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const missing = yield* token(sandbox, {})
        expect(missing.json.error).toBe("invalid_client")
        const wrong = yield* token(sandbox, { grant_type: "client_credentials" }, "wrong")
        expect(wrong.status).toBe(401)
      })
    )
  )
})

describe("the ePayment API", () => {
  it.effect("creates and reads a payment; a replayed Idempotency-Key returns the first answer", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const access = String((yield* standardToken(sandbox)).json.access_token)
        const created = yield* createPayment(sandbox, access)
        expect(created.status).toBe(201)
        expect(JSON.parse(created.text)).toMatchObject({ reference: "sandbox-order-1" })
        const replay = yield* createPayment(sandbox, access)
        expect(replay.text).toBe(created.text)
        const conflict = yield* createPayment(sandbox, access, { "idempotency-key": "key-2" })
        expect(conflict.status).toBe(409)
        const read = yield* Flow.http(`${sandbox.baseUrl}/epayment/v1/payments/sandbox-order-1`, {
          headers: {
            authorization: `Bearer ${access}`,
            "ocp-apim-subscription-key": partner.subscriptionKey,
            "merchant-serial-number": "123456"
          }
        })
        expect(JSON.parse(read.text)).toMatchObject({ reference: "sandbox-order-1", state: "CREATED" })
      })
    )
  )

  it.effect("answers problems as application/problem+json with extraDetails and a trace id", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const access = String((yield* standardToken(sandbox)).json.access_token)
        const invalid = yield* createPayment(sandbox, access, {}, { amount: { currency: "SEK", value: 0 } })
        expect(invalid.status).toBe(400)
        expect(invalid.headers.get("content-type")).toContain("application/problem+json")
        const body = JSON.parse(invalid.text)
        expect(body).toMatchObject({
          status: 400,
          title: "Bad Request",
          traceId: expect.stringMatching(/^[0-9a-f]{32}$/)
        })
        expect(body.extraDetails.map((d: { name: string }) => d.name).sort()).toEqual([
          "amount.currency",
          "amount.value",
          "reference"
        ])
        const noKey = yield* createPayment(sandbox, access, { "idempotency-key": undefined })
        expect(JSON.parse(noKey.text).extraDetails).toEqual([
          { name: "Idempotency-Key", reason: "Required, at most 50 characters" }
        ])
      })
    )
  )

  it.effect("checks every header: subscription key, bearer, merchant serial number", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const bound = String((yield* standardToken(sandbox)).json.access_token)
        const partnerLevel = String(
          (yield* standardToken(sandbox, { "merchant-serial-number": undefined })).json.access_token
        )
        const noKey = yield* createPayment(sandbox, bound, { "ocp-apim-subscription-key": undefined })
        expect([noKey.status, JSON.parse(noKey.text).statusCode]).toEqual([401, 401])
        const badToken = yield* createPayment(sandbox, "not-a-token")
        expect([badToken.status, badToken.headers.get("content-type")]).toEqual([
          401,
          expect.stringContaining("problem")
        ])
        const otherMerchant = yield* createPayment(sandbox, bound, { "merchant-serial-number": "654321" })
        expect(otherMerchant.status).toBe(403)
        const noMerchant = yield* createPayment(sandbox, partnerLevel, {
          "merchant-serial-number": undefined
        })
        expect(noMerchant.status).toBe(400)
        const forMerchant = yield* createPayment(sandbox, partnerLevel, {
          "merchant-serial-number": "654321"
        })
        expect(forMerchant.status).toBe(201)
      })
    )
  )

  it.effect("an expired token is a 401 problem: tokens live an hour", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const access = String((yield* standardToken(sandbox)).json.access_token)
        yield* TestClock.adjust("3601 seconds")
        expect((yield* createPayment(sandbox, access)).status).toBe(401)
      })
    )
  )
})
