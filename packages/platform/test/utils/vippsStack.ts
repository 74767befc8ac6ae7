/**
 * The Vipps MobilePay services pointed at an in-process sandbox over loopback HTTP, composed
 * as an application would: VippsAccessToken on the token manager, the ephemeral vault, AuthHttp
 * (loopback http allowed), VippsConfig and WebCrypto. Build it inside the test so sandbox and
 * client share the test's Clock.
 */
import { FetchHttpClient } from "@effect/platform"
import { SecureRandom } from "@mobilepay-auth/domain"
import { Sandbox, type SandboxVippsOptions } from "@mobilepay-auth/sandbox"
import { Effect, Layer, Redacted } from "effect"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as TokenManager from "../../src/TokenManager.js"
import * as TokenVault from "../../src/TokenVault.js"
import * as VippsAccessToken from "../../src/VippsAccessToken.js"
import * as VippsConfig from "../../src/VippsConfig.js"

export const VIPPS_CLIENT_ID = "vipps-it-partner"
export const VIPPS_CLIENT_SECRET = "vipps-it-secret-41c9e2d7"
export const VIPPS_SUBSCRIPTION_KEY = "vipps-it-subscription-5b7d0a3f"
export const VIPPS_SECONDARY_KEY = "vipps-it-subscription-second-c81e"
export const MANAGEMENT_CLIENT_ID = "vipps-it-management"
export const MANAGEMENT_SECRET = "vipps-it-management-secret-90ab"
export const MERCHANTS = ["123456", "654321", "777777"] as const

export interface Options {
  readonly sandbox?: SandboxVippsOptions
  readonly config?: Partial<VippsConfig.Options>
  readonly http?: AuthHttp.Options
  readonly manager?: TokenManager.Options
  readonly random?: Layer.Layer<SecureRandom.SecureRandom>
  /** Leave the subscription key out of the configuration (specialized keys have none). */
  readonly withoutSubscriptionKey?: boolean
}

/** The sandbox's Vipps clients: partner keys for three merchants, and management keys. */
export const sandboxVipps = (options: SandboxVippsOptions = {}): SandboxVippsOptions => ({
  clients: [
    {
      clientId: VIPPS_CLIENT_ID,
      clientSecret: VIPPS_CLIENT_SECRET,
      subscriptionKey: VIPPS_SUBSCRIPTION_KEY,
      secondarySubscriptionKey: VIPPS_SECONDARY_KEY,
      merchantSerialNumbers: MERCHANTS
    }
  ],
  specializedClients: [
    { clientId: MANAGEMENT_CLIENT_ID, clientSecret: MANAGEMENT_SECRET, scopes: ["management", "report"] }
  ],
  ...options
})

/** The settings the tests use against `baseUrl`, with `overrides`. */
export const configOptions = (
  baseUrl: string,
  overrides: Partial<VippsConfig.Options> = {},
  withoutSubscriptionKey = false
): VippsConfig.Options => {
  const { subscriptionKey, ...options } = settings(baseUrl, overrides)
  return withoutSubscriptionKey || subscriptionKey === undefined ? options : { ...options, subscriptionKey }
}

const settings = (baseUrl: string, overrides: Partial<VippsConfig.Options>): VippsConfig.Options => ({
  environment: VippsConfig.custom({ baseUrl, allowInsecureLoopback: true, name: "vipps-sandbox" }),
  clientId: VIPPS_CLIENT_ID,
  clientSecret: Redacted.make(VIPPS_CLIENT_SECRET),
  subscriptionKey: Redacted.make(VIPPS_SUBSCRIPTION_KEY),
  merchantSerialNumber: MERCHANTS[0],
  system: { name: "acme-pos", version: "4.2.0", pluginName: "acme-vipps", pluginVersion: "1.0.3" },
  ...overrides
})

/** VippsAccessToken and everything below it, over `FetchHttpClient`, for the sandbox in context. */
export const vippsServices = (options: Omit<Options, "sandbox"> = {}) =>
  Layer.unwrapEffect(
    Effect.map(Sandbox.Sandbox, (sandbox) =>
      VippsAccessToken.layer.pipe(
        Layer.provideMerge(TokenManager.layer(options.manager)),
        Layer.provideMerge(TokenVault.layerEphemeral),
        Layer.provideMerge(AuthHttp.layer({ allowInsecureLoopback: true, ...options.http })),
        Layer.provide(FetchHttpClient.layer),
        Layer.provideMerge(
          VippsConfig.layer(configOptions(sandbox.baseUrl, options.config, options.withoutSubscriptionKey))
        ),
        Layer.provideMerge(options.random ?? SecureRandom.layerWebCrypto)
      )
    )
  )

/** Sandbox + VippsAccessToken + everything below it, as one layer. */
export const vippsStack = (options: Options = {}) =>
  vippsServices(options).pipe(Layer.provideMerge(Sandbox.layer({ vipps: sandboxVipps(options.sandbox) })))
