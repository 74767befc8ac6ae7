/**
 * The merchant-consent stack for tests: an ephemeral encrypted vault, the token manager, the
 * hardened HTTP client over whatever `HttpClient` the test gives, and a configuration.
 */
import { Environment, SecureRandom } from "@mobilepay-auth/domain"
import { type HttpClient } from "@effect/platform"
import { Layer, Redacted } from "effect"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as TokenManager from "../../src/TokenManager.js"
import * as TokenVault from "../../src/TokenVault.js"

export interface StackOptions {
  readonly environment: Environment.Environment
  readonly clientId: string
  readonly clientSecret?: string
  readonly redirectUri: string
  readonly sendVerifierOnRefresh?: boolean
  readonly scopes?: ReadonlyArray<
    "subscriptions" | "invoice" | "transactionreporting" | "merchantpayments" | "webhooks"
  >
}

export const stack = (http: Layer.Layer<HttpClient.HttpClient>, options: StackOptions) =>
  MerchantConsent.layer().pipe(
    Layer.provideMerge(TokenManager.layer()),
    Layer.provideMerge(TokenVault.layerEphemeral),
    Layer.provide(
      AuthHttp.layer({ allowInsecureLoopback: options.environment.allowInsecureLoopback, maxRetries: 0 })
    ),
    Layer.provide(http),
    Layer.provideMerge(
      MobilePayConfig.layer({
        environment: options.environment,
        clientId: options.clientId,
        clientSecret: Redacted.make(options.clientSecret ?? "secret"),
        redirectUri: options.redirectUri,
        scopes: options.scopes ?? ["invoice", "subscriptions"],
        sendVerifierOnRefresh: options.sendVerifierOnRefresh ?? true
      })
    ),
    Layer.provideMerge(SecureRandom.layerWebCrypto)
  )
