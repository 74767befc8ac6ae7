// Merchant consent in an Effect application: the layers, and the two halves of the flow.
import { FetchHttpClient } from "@effect/platform"
import { MerchantConsent, MobilePay } from "@mobilepay-auth/platform"
import { SqliteTokenStore } from "@mobilepay-auth/sql-sqlite"
import { Effect, Layer } from "effect"

// MOBILEPAY_ENVIRONMENT, MOBILEPAY_CLIENT_ID, MOBILEPAY_CLIENT_SECRET, MOBILEPAY_REDIRECT_URI,
// MOBILEPAY_SCOPES and MOBILEPAY_ENCRYPTION_KEYS come from the environment; the SQLite file
// lives under MOBILEPAY_DATA_DIR (use @mobilepay-auth/sql-pg for many instances).
export const MerchantConsentLive = MobilePay.layerConfig().pipe(
  Layer.provide(SqliteTokenStore.layerConfig()),
  Layer.provide(FetchHttpClient.layer)
)

// 1. Your "connect MobilePay" button: send the merchant's browser to `url`.
export const startConsent = (merchantVat: string) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const { url } = yield* consent.begin({ merchantVat, scopes: ["invoice"] })
    return url
  })

// 2. Later, on behalf of that merchant: a valid access token, refreshed only when needed.
export const callInvoiceApi = (merchant: string) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const token = yield* consent.accessToken(merchant)
    return token // Redacted: `Redacted.value(token)` only where the header is written.
  }).pipe(
    Effect.catchTag("ConsentRequired", (error) =>
      Effect.logWarning(`merchant ${error.merchant ?? merchant} must consent again`).pipe(
        Effect.as(undefined)
      )
    )
  )
