// Merchant consent in an Effect application: the layers, and the two halves of the flow.
// (Imports are workspace-relative so CI can type-check this file; in your application they are
// "effect", "@effect/platform" and "@mobilepay-auth/platform".)
import { FetchHttpClient } from "@effect/platform"
import { Effect, Layer } from "effect"
import { SecureRandom } from "@mobilepay-auth/domain"
import {
  AuthHttp,
  MerchantConsent,
  MobilePayConfig,
  TokenCipher,
  TokenManager,
  TokenStore,
  TokenVault
} from "@mobilepay-auth/platform"

// MOBILEPAY_ENVIRONMENT, MOBILEPAY_CLIENT_ID, MOBILEPAY_CLIENT_SECRET, MOBILEPAY_REDIRECT_URI,
// MOBILEPAY_SCOPES and MOBILEPAY_ENCRYPTION_KEYS come from the environment.
const Storage = TokenVault.layer.pipe(
  // Use the SQLite or PostgreSQL store of @mobilepay-auth/sql in production.
  Layer.provide(TokenStore.layerMemory),
  Layer.provide(TokenCipher.layerConfig())
)

export const MerchantConsentLive = MerchantConsent.layer().pipe(
  Layer.provideMerge(TokenManager.layer()),
  Layer.provideMerge(Storage),
  Layer.provide(AuthHttp.layer()),
  Layer.provide(FetchHttpClient.layer),
  Layer.provide(MobilePayConfig.layerConfig()),
  Layer.provideMerge(SecureRandom.layerWebCrypto)
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
