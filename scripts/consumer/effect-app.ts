// An Effect application: the one MobilePay layer from environment variables, on the SQLite
// store from environment variables, against the offline sandbox; consent, then a merchant
// token. Type-checked under `module: nodenext` and `moduleResolution: bundler`, then compiled
// and run with plain node.
import { FetchHttpClient } from "@effect/platform"
import { MerchantConsent, MobilePay } from "@mobilepay-auth/platform"
import type * as TokenManager from "@mobilepay-auth/platform/TokenManager"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { SqliteTokenStore } from "@mobilepay-auth/sql-sqlite"
import { Effect, Layer, Option, Redacted } from "effect"

const REDIRECT = "http://127.0.0.1:8766/callback"

const program = Effect.gen(function* () {
  const consent = yield* MerchantConsent.MerchantConsent
  const authorization = yield* consent.begin({ merchantVat: "DK12345678" })
  const callback = yield* SandboxBrowser.consent(authorization.url, { redirectUri: REDIRECT })
  if (callback._tag !== "FormPost") return yield* Effect.die("expected form_post")
  const binding = Option.getOrUndefined(authorization.binding)
  const consented = yield* consent.complete(callback.request, { binding })
  const token = yield* consent.accessToken(consented.merchant)
  const options: TokenManager.Options = {}
  yield* Effect.log(
    `merchant token of ${Redacted.value(token).length} characters ${Object.keys(options).length}`
  )
  return consented.merchant
})

const main = Effect.gen(function* () {
  const sandbox = yield* Sandbox.Sandbox
  const env = new Map([
    ["MOBILEPAY_ENVIRONMENT", "custom"],
    ["MOBILEPAY_DISCOVERY_URL", sandbox.environment.discoveryUrl],
    ["MOBILEPAY_ISSUER", sandbox.environment.issuer],
    ["MOBILEPAY_INTEGRATOR_TOKEN_URL", sandbox.environment.integratorTokenUrl],
    ["MOBILEPAY_API_BASE_URL", sandbox.environment.apiBaseUrl],
    ["MOBILEPAY_ALLOW_INSECURE_LOOPBACK", "true"],
    ["MOBILEPAY_CLIENT_ID", "app"],
    ["MOBILEPAY_CLIENT_SECRET", "app-secret-2"],
    ["MOBILEPAY_REDIRECT_URI", REDIRECT],
    ["MOBILEPAY_SCOPES", "invoice"],
    ["MOBILEPAY_ENCRYPTION_KEYS", `k1:${Buffer.alloc(32, 9).toString("base64")}`],
    ["MOBILEPAY_DATA_DIR", process.env.CONSUMER_DATA_DIR ?? ".data"]
  ])
  const MobilePayLive = MobilePay.layerConfig().pipe(
    Layer.provide(SqliteTokenStore.layerConfig()),
    Layer.provide(FetchHttpClient.layer)
  )
  // Settings from real environment variables, as a deployed application reads them.
  for (const [name, value] of env) process.env[name] = value
  const merchant = yield* program.pipe(Effect.provide(MobilePayLive))
  console.log(`effect app: merchant ${merchant} consented and served from the SQLite store: ok`)
})

Effect.runPromise(
  main.pipe(
    Effect.provide(
      Sandbox.layer({
        merchantClients: [
          {
            clientId: "app",
            clientSecret: "app-secret-2",
            redirectUris: [REDIRECT],
            scopes: ["invoice"],
            rotation: "one-time"
          }
        ]
      })
    )
  )
).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
