// Integrator authentication (PoS V10) in an Effect application: the layers, a bound and an
// unbound token, and the errors a caller can act on. CI type-checks this file.
import { FetchHttpClient } from "@effect/platform"
import { Vat } from "@mobilepay-auth/domain"
import { IntegratorAuth, MobilePay, TokenStore } from "@mobilepay-auth/platform"
import { Duration, Effect, Layer, Option, Redacted } from "effect"

// MOBILEPAY_ENVIRONMENT, MOBILEPAY_CLIENT_ID and MOBILEPAY_CLIENT_SECRET come from the environment.
// Integrator tokens are never persisted, so the in-memory store will do (it seals with a random key).
export const IntegratorLive = MobilePay.layerConfig().pipe(
  Layer.provide(TokenStore.layerMemory),
  Layer.provide(FetchHttpClient.layer)
)

// An unbound token: one for all your merchants; API calls name the merchant in a header.
export const unboundToken = Effect.gen(function* () {
  const auth = yield* IntegratorAuth.IntegratorAuth
  const tokens = yield* auth.accessToken()
  return tokens.accessToken // Redacted<string>
})

// A token bound to one merchant: sent with merchant_vat, it carries the merchant_vat claim.
export const boundToken = (vat: string) =>
  Effect.gen(function* () {
    const merchantVat = yield* Vat.parse(vat)
    const auth = yield* IntegratorAuth.IntegratorAuth
    const tokens = yield* auth.accessToken(Option.some(merchantVat))
    return { token: tokens.accessToken, expiresAt: new Date(tokens.expiresAt) }
  })

// The errors worth handling; everything else is a bug in configuration or on the server.
export const tokenOrAdvice = unboundToken.pipe(
  Effect.map((token) => `token of ${Redacted.value(token).length} characters`),
  Effect.catchTags({
    InvalidClient: () => Effect.succeed("check MOBILEPAY_CLIENT_ID and MOBILEPAY_CLIENT_SECRET"),
    RateLimited: (e) =>
      Effect.succeed(
        `rate limited; retry in ${Duration.format(Duration.millis(e.retryAfterMillis ?? 1000))}`
      ),
    Transport: (e) => Effect.succeed(`MobilePay unreachable (${e.reason}); the toolkit already retried`)
  })
)

export const program = Effect.provide(tokenOrAdvice, IntegratorLive)
