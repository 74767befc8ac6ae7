import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Sandbox } from "../src/Sandbox.js"
import * as Flow from "./flow.js"

const me = (sandbox: Sandbox.Service, accessToken: string) =>
  Flow.http(`${sandbox.baseUrl}/api/merchants/me`, { headers: { authorization: `Bearer ${accessToken}` } })

const consentTokens = (
  sandbox: Sandbox.Service,
  overrides: Record<string, string | undefined>,
  user?: string
) =>
  Effect.gen(function* () {
    const { params } = yield* Flow.consent(sandbox, overrides, "allow", user)
    return (yield* Flow.redeem(sandbox, params?.code ?? "")).json
  })

describe("GET /api/merchants/me", () => {
  it.effect("finds the merchant of an unbound token for a single-merchant user; 403 for several", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const single = yield* consentTokens(sandbox, { merchant_vat: undefined }, "DK87654321")
        expect(Flow.jwtPayload(String(single.access_token)).merchant_id).toBeUndefined()
        const found = yield* me(sandbox, String(single.access_token))
        expect(found.status).toBe(200)
        expect(JSON.parse(found.text)).toEqual({
          merchantId: "0f5b2a9c-3d7e-4c1a-8b6f-2e4d9a1c5b02",
          vatNumber: "DK87654321",
          name: "Sandbox Bikes A/S"
        })
        const several = yield* consentTokens(sandbox, { merchant_vat: undefined }, "accountant")
        expect((yield* me(sandbox, String(several.access_token))).status).toBe(403)
      })
    )
  )

  it.effect(
    "each API takes its own flow's tokens: no integrator token on merchant APIs, no consent token on PoS",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const integrator = JSON.parse(
            (yield* Flow.integratorToken(sandbox, { merchant_vat: "FI12345678" })).text
          )
          const refused = yield* me(sandbox, String(integrator.access_token))
          expect(refused).toMatchObject({ status: 401, text: "Unauthorized" })
          const consent = yield* consentTokens(sandbox, {})
          const pos = yield* Flow.http(`${sandbox.baseUrl}/pos/v10/payments`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${String(consent.access_token)}`,
              "content-type": "application/json",
              "x-mobilepay-client-system-version": "1.0.0",
              "x-mobilepay-idempotency-key": crypto.randomUUID()
            },
            body: "{}"
          })
          expect(pos).toMatchObject({ status: 401, text: "Unauthorized" })
          expect((yield* me(sandbox, String(consent.access_token))).status).toBe(200)
        })
      )
  )
})

describe("revoked consent", () => {
  it.effect("by default its access tokens get the vague 401 at once", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const tokens = yield* consentTokens(sandbox, {})
        expect((yield* me(sandbox, String(tokens.access_token))).status).toBe(200)
        expect(yield* sandbox.revokeConsent("8c2c6d4e-1f0a-4d8e-9a51-1b3f0d6a7e01")).toBe(1)
        const after = yield* me(sandbox, String(tokens.access_token))
        expect(after).toMatchObject({ status: 401, text: "Unauthorized" })
        expect(yield* sandbox.revokeConsent("DK12345678")).toBe(0) // nothing left to revoke
      })
    )
  )

  it.effect("quirk: access tokens keep working until they expire; the refresh fails at once", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const tokens = yield* consentTokens(sandbox, {})
          const admin = yield* Flow.http(`${sandbox.baseUrl}/admin/merchants/DK12345678/revoke-consent`, {
            method: "POST"
          })
          expect(JSON.parse(admin.text)).toEqual({ revoked: 1 })
          expect((yield* me(sandbox, String(tokens.access_token))).status).toBe(200)
          expect((yield* Flow.refresh(sandbox, String(tokens.refresh_token))).json.error).toBe(
            "invalid_grant"
          )
          yield* TestClock.adjust("301 seconds")
          expect((yield* me(sandbox, String(tokens.access_token))).status).toBe(401)
        }),
      { quirks: { revokedAccessTokensWorkUntilExpiry: true } }
    )
  )
})

describe("POST /pos/v10/payments", () => {
  const pay = (sandbox: Sandbox.Service, token: string, key: string) =>
    Flow.http(`${sandbox.baseUrl}/pos/v10/payments`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "x-mobilepay-client-system-version": "1.0.0",
        "x-mobilepay-idempotency-key": key
      },
      body: JSON.stringify({ amount: 1 })
    })

  it.effect("an idempotency key is remembered for 24 hours, by the sandbox's clock", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const token = String(
            JSON.parse((yield* Flow.integratorToken(sandbox, { merchant_vat: "DK12345678" })).text)
              .access_token
          )
          const first = JSON.parse((yield* pay(sandbox, token, "k-1")).text).paymentId
          yield* TestClock.adjust("23 hours")
          expect(JSON.parse((yield* pay(sandbox, token, "k-1")).text).paymentId).toBe(first)
          yield* TestClock.adjust("2 hours")
          expect(JSON.parse((yield* pay(sandbox, token, "k-1")).text).paymentId).not.toBe(first)
          expect((yield* pay(sandbox, token, "x".repeat(37))).status).toBe(400)
        }),
      { integratorTokenLifetime: 3 * 24 * 3600 }
    )
  )

  it.effect("missing gateway secret, or a token signed by someone else, is the vague 401", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const token = String(
            JSON.parse((yield* Flow.integratorToken(sandbox, { merchant_vat: "DK12345678" })).text)
              .access_token
          )
          const call = (bearer: string, headers: Record<string, string>) =>
            Flow.http(`${sandbox.baseUrl}/pos/v10/payments`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${bearer}`,
                "x-mobilepay-client-system-version": "1.0.0",
                "x-mobilepay-idempotency-key": crypto.randomUUID(),
                ...headers
              }
            })
          const gw = { "x-ibm-client-id": "gw", "x-ibm-client-secret": "s" }
          expect((yield* call(token, gw)).status).toBe(200)
          expect((yield* call(token, { "x-ibm-client-id": "gw" })).status).toBe(401)
          const claims = Flow.jwtPayload(token)
          const forged = yield* sandbox.signJwt(claims, { foreign: true })
          const refused = yield* call(forged, gw)
          expect(refused).toMatchObject({ status: 401, text: "Unauthorized" })
        }),
      { gateway: { clientId: "gw", clientSecret: "s" } }
    )
  )
})

describe("protected API", () => {
  const integratorToken = (sandbox: Sandbox.Service, vat?: string) =>
    Effect.map(
      Flow.http(sandbox.integratorTokenUrl, {
        ...Flow.form({ grant_type: "client_credentials", ...(vat ? { merchant_vat: vat } : {}) }),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: Flow.basic("sandbox-integrator-client", "sandbox-integrator-secret")
        }
      }),
      (r) => String(JSON.parse(r.text).access_token)
    )
  const pay = (sandbox: Sandbox.Service, headers: Record<string, string>, body = { amount: 100 }) =>
    Flow.http(`${sandbox.baseUrl}/pos/v10/payments`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })

  it.effect("PoS calls: VAT header rules (1151, 1159), system version, idempotency replay", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const unbound = yield* integratorToken(sandbox)
        const base = {
          authorization: `Bearer ${unbound}`,
          "x-mobilepay-client-system-version": "1.2.3",
          "x-mobilepay-idempotency-key": "2f1c1c8e-7f4a-4e43-9a43-0c8c7b1c0a11"
        }
        const noVat = yield* pay(sandbox, base)
        expect(noVat.status).toBe(400)
        expect(JSON.parse(noVat.text).code).toBe("1151")
        const badVat = yield* pay(sandbox, { ...base, "x-mobilepay-merchant-vat-number": "DK1" })
        expect(JSON.parse(badVat.text).code).toBe("1159")
        const first = yield* pay(sandbox, { ...base, "x-mobilepay-merchant-vat-number": "DK12345678" })
        expect(first.status).toBe(200)
        const again = yield* pay(
          sandbox,
          { ...base, "x-mobilepay-merchant-vat-number": "DK12345678" },
          { amount: 999 }
        )
        expect(again.text).toBe(first.text)
        const other = yield* pay(sandbox, {
          ...base,
          "x-mobilepay-merchant-vat-number": "DK12345678",
          "x-mobilepay-idempotency-key": "another"
        })
        expect(JSON.parse(other.text).paymentId).not.toBe(JSON.parse(first.text).paymentId)
        const noKey = yield* pay(sandbox, {
          authorization: base.authorization,
          "x-mobilepay-client-system-version": "1.2.3",
          "x-mobilepay-merchant-vat-number": "DK12345678"
        })
        expect(noKey.status).toBe(400)
        const noVersion = yield* pay(sandbox, {
          authorization: base.authorization,
          "x-mobilepay-idempotency-key": "k",
          "x-mobilepay-merchant-vat-number": "DK12345678"
        })
        expect(noVersion.status).toBe(400)
        const bound = yield* integratorToken(sandbox, "DK12345678")
        expect(
          (yield* pay(sandbox, {
            ...base,
            authorization: `Bearer ${bound}`,
            "x-mobilepay-idempotency-key": "b"
          })).status
        ).toBe(200)
      })
    )
  )

  it.effect("a token bound to one merchant cannot pay for another through the VAT header (1159)", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const bound = yield* integratorToken(sandbox, "DK12345678")
        const headers = {
          authorization: `Bearer ${bound}`,
          "x-mobilepay-client-system-version": "1.2.3",
          "x-mobilepay-idempotency-key": crypto.randomUUID()
        }
        const other = yield* pay(sandbox, { ...headers, "x-mobilepay-merchant-vat-number": "DK87654321" })
        expect(other.status).toBe(400)
        expect(JSON.parse(other.text).code).toBe("1159")
        const same = yield* pay(sandbox, { ...headers, "x-mobilepay-merchant-vat-number": "DK12345678" })
        expect(same.status).toBe(200)
        expect(JSON.parse(same.text).merchantVat).toBe("DK12345678")
      })
    )
  )

  it.effect("GET /pos/v10/payments/{id}: the merchant's own payment; 404 for another merchant's", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const headers = (token: string) => ({
          authorization: `Bearer ${token}`,
          "x-mobilepay-client-system-version": "1.2.3"
        })
        const cafe = yield* integratorToken(sandbox, "DK12345678")
        const created = JSON.parse(
          (yield* pay(sandbox, { ...headers(cafe), "x-mobilepay-idempotency-key": "g-1" })).text
        )
        const url = `${sandbox.baseUrl}/pos/v10/payments/${created.paymentId}`
        const found = yield* Flow.http(url, { headers: headers(cafe) })
        expect(found.status).toBe(200)
        expect(JSON.parse(found.text)).toEqual(created)
        const bikes = yield* integratorToken(sandbox, "DK87654321")
        expect((yield* Flow.http(url, { headers: headers(bikes) })).status).toBe(404)
        expect((yield* Flow.http(url)).status).toBe(401)
      })
    )
  )

  it.effect("vague 401 for missing, forged, foreign-signed or expired tokens", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const me = (authorization?: string) =>
          Flow.http(
            `${sandbox.baseUrl}/api/merchants/me`,
            authorization ? { headers: { authorization } } : {}
          )
        const { params } = yield* Flow.consent(sandbox)
        const access = String((yield* Flow.redeem(sandbox, params?.code ?? "")).json.access_token)
        expect((yield* me(`Bearer ${access}`)).status).toBe(200)
        const missing = yield* me()
        expect(missing.status).toBe(401)
        expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="MobilePay"')
        const garbage = yield* me("Bearer not-a-jwt")
        expect(garbage.status).toBe(401)
        expect(garbage.headers.get("www-authenticate")).toBe(
          'Bearer realm="MobilePay", error="invalid_token"'
        )
        const foreign = yield* sandbox.signJwt({ merchant_id: "x", exp: 9_999_999_999 }, { foreign: true })
        const foreignResponse = yield* me(`Bearer ${foreign}`)
        expect(foreignResponse.status).toBe(401)
        expect(foreignResponse.text).toBe("Unauthorized")
        yield* TestClock.adjust("301 seconds")
        expect((yield* me(`Bearer ${access}`)).status).toBe(401)
      })
    )
  )

  it.effect("gateway keys are required when configured", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const access = String((yield* Flow.redeem(sandbox, params?.code ?? "")).json.access_token)
          const call = (headers: Record<string, string>) =>
            Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
              headers: { authorization: `Bearer ${access}`, ...headers }
            })
          expect((yield* call({})).status).toBe(401)
          expect((yield* call({ "x-ibm-client-id": "gw" })).status).toBe(401)
          expect((yield* call({ "x-ibm-client-id": "gw", "x-ibm-client-secret": "gw-secret" })).status).toBe(
            200
          )
        }),
      { gateway: { clientId: "gw", clientSecret: "gw-secret" } }
    )
  )
})
