// Calling MobilePay's APIs with MobilePayHttpClient: integrator (PoS) and merchant clients.
// CI type-checks this file.
import { HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Vat } from "@mobilepay-auth/domain"
import { MobilePayHttpClient } from "@mobilepay-auth/platform"
import { Effect, Schema } from "effect"

const Payment = Schema.Struct({ paymentId: Schema.String, status: Schema.String })

// A PoS payment on an unbound integrator token: the VAT goes in x-mobilepay-merchant-vat-number.
export const startPayment = (vat: Vat.Vat, amount: number, orderId: string) =>
  Effect.gen(function* () {
    const client = yield* MobilePayHttpClient.integrator({ merchantVat: vat, bound: false })
    const response = yield* client.execute(
      HttpClientRequest.post("/pos/v10/payments").pipe(
        // Your own idempotency key (at most 36 characters) survives restarts of your process too;
        // without one, the client generates a UUID that stays the same across this call's retries.
        HttpClientRequest.setHeader("x-mobilepay-idempotency-key", orderId),
        HttpClientRequest.bodyUnsafeJson({ amount })
      )
    )
    return yield* HttpClientResponse.schemaBodyJson(Payment)(response)
  })

// A second 401 (after one refresh and retry) is Unauthorized: consent, scopes or gateway keys.
export const startPaymentOrExplain = (vat: Vat.Vat, amount: number, orderId: string) =>
  startPayment(vat, amount, orderId).pipe(
    Effect.catchTag("Unauthorized", (e) => Effect.logError(e.message).pipe(Effect.as(undefined)))
  )

// On behalf of a merchant who consented (MerchantConsent): the same headers, its own token.
export const merchantProfile = (merchant: string) =>
  Effect.gen(function* () {
    const client = yield* MobilePayHttpClient.merchant(merchant)
    const response = yield* client.get("/api/merchants/me")
    return yield* response.json
  }).pipe(Effect.catchTag("ConsentRequired", () => Effect.succeed({ consentRequired: merchant })))
