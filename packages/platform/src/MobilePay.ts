/**
 * The whole toolkit as one layer. Give it settings (options or environment variables), a
 * `TokenStore` and an `HttpClient`; it provides integrator authentication, merchant consent,
 * the token manager, the encrypted vault and the hardened HTTP client, every one of them
 * reading the same `MobilePayConfig`: a setting given once is honoured everywhere.
 *
 * ```ts
 * const MobilePayLive = MobilePay.layerConfig().pipe(
 *   Layer.provide(SqliteTokenStore.layerConfig()),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { AuthError } from "@mobilepay-auth/domain"
import { type ConfigError, Effect, Layer, Option } from "effect"
import * as AuthHttp from "./AuthHttp.js"
import * as Discovery from "./Discovery.js"
import * as IntegratorAuth from "./IntegratorAuth.js"
import * as MerchantConsent from "./MerchantConsent.js"
import * as MobilePayConfig from "./MobilePayConfig.js"
import * as TokenCipher from "./TokenCipher.js"
import * as TokenManager from "./TokenManager.js"
import * as TokenStore from "./TokenStore.js"
import * as TokenVault from "./TokenVault.js"
import * as VippsAccessToken from "./VippsAccessToken.js"
import * as VippsConfig from "./VippsConfig.js"

/**
 * Tuning that is not a setting of the integration: how the token manager coordinates
 * processes and shuts down, and how the HTTP client retries. Policy, timeout and the loopback
 * opt-in come from `MobilePayConfig`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tuning {
  readonly tokenManager?: Omit<TokenManager.Options, "policy">
  readonly http?: Omit<AuthHttp.Options, "allowInsecureLoopback" | "timeout">
  readonly merchantConsent?: Omit<MerchantConsent.Options, "clientAuthentication">
  /** How long the provider's discovery document is kept. */
  readonly discovery?: Discovery.Options
}

/**
 * Options of {@link layer}: the settings of `MobilePayConfig` and the {@link Tuning}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends MobilePayConfig.Options, Tuning {}

/**
 * What {@link layer} provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | MobilePayConfig.MobilePayConfig
  | AuthHttp.AuthHttp
  | TokenVault.TokenVault
  | TokenManager.TokenManager
  | IntegratorAuth.IntegratorAuth
  | MerchantConsent.MerchantConsent
  | Discovery.Discovery

/**
 * What {@link layer} needs: where tokens are kept and how bytes travel.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = TokenStore.TokenStore | HttpClient.HttpClient

const missingKeys = new AuthError.InvalidConfiguration({
  setting: "encryptionKeys",
  description: "a durable token store needs encryption keys",
  hint: "set MOBILEPAY_ENCRYPTION_KEYS (or the encryptionKeys option); `mobilepay-auth keygen` makes one"
})

// The cipher for the configured keys; with none, a random key, but only for a store whose
// records die with the process anyway (anything else would be unreadable after a restart).
const cipherLayer = (config: MobilePayConfig.MobilePayConfig.Service, store: TokenStore.TokenStore.Service) =>
  Option.match(config.encryptionKeys, {
    onSome: (keys) =>
      TokenCipher.layer(keys).pipe(
        Layer.mapError(
          (e) =>
            new AuthError.InvalidConfiguration({
              setting: "encryptionKeys",
              description: e.description ?? e.code
            })
        )
      ),
    onNone: () =>
      store.ephemeral === true
        ? Layer.effect(
            TokenCipher.TokenCipher,
            Effect.flatMap(TokenCipher.generateKey, (secret) =>
              Effect.orDie(TokenCipher.make([{ id: "ephemeral", secret }]))
            )
          )
        : Layer.fail(missingKeys)
  })

/**
 * The services over a `MobilePayConfig` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromConfig = (
  tuning: Tuning = {}
): Layer.Layer<Services, AuthError.InvalidConfiguration, MobilePayConfig.MobilePayConfig | Requirements> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const config = yield* MobilePayConfig.MobilePayConfig
      const store = yield* TokenStore.TokenStore
      return Layer.mergeAll(
        IntegratorAuth.layer,
        MerchantConsent.layer({
          ...tuning.merchantConsent,
          clientAuthentication: config.clientAuthentication
        })
      ).pipe(
        Layer.provideMerge(Discovery.layer(tuning.discovery)),
        Layer.provideMerge(TokenManager.layer({ ...tuning.tokenManager, policy: config.policy })),
        Layer.provideMerge(TokenVault.layer),
        Layer.provide(cipherLayer(config, store)),
        Layer.provideMerge(
          AuthHttp.layer({
            ...tuning.http,
            allowInsecureLoopback: config.environment.allowInsecureLoopback,
            timeout: config.requestTimeout
          })
        ),
        Layer.provideMerge(Layer.succeed(MobilePayConfig.MobilePayConfig, config))
      )
    })
  )

/**
 * Every service, from options. Fails with `InvalidConfiguration` naming the option when a
 * setting is malformed, or when a durable store is given without encryption keys.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Services, AuthError.InvalidConfiguration, Requirements> =>
  layerFromConfig(options).pipe(Layer.provide(MobilePayConfig.layer(options)))

/**
 * Every service, with the settings from `Config` (environment variables `MOBILEPAY_*` by
 * default; see `MobilePayConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Tuning & { readonly prefix?: string } = {}
): Layer.Layer<Services, AuthError.InvalidConfiguration | ConfigError.ConfigError, Requirements> =>
  layerFromConfig(options).pipe(Layer.provide(MobilePayConfig.layerConfig(options.prefix)))

/**
 * What {@link withVipps} and {@link withVippsConfig} add: Vipps MobilePay access tokens (the
 * migration path) on the same token manager, store and HTTP client.
 *
 * @since 0.1.0
 * @category models
 */
export type VippsServices = VippsConfig.VippsConfig | VippsAccessToken.VippsAccessToken

/**
 * Adds Vipps MobilePay access tokens to a MobilePay layer, sharing its token manager (single
 * flight, proactive refresh), store and hardened HTTP client:
 * `MobilePay.layer(options).pipe(MobilePay.withVipps(vippsOptions))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const withVipps =
  (options: VippsConfig.Options) =>
  <E, R>(self: Layer.Layer<Services, E, R>): Layer.Layer<Services | VippsServices, E, R> =>
    VippsAccessToken.layer.pipe(Layer.provideMerge(VippsConfig.layer(options)), Layer.provideMerge(self))

/**
 * {@link withVipps} with the settings from `Config` (`VIPPS_*` environment variables by
 * default; see `VippsConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const withVippsConfig =
  (prefix?: string) =>
  <E, R>(
    self: Layer.Layer<Services, E, R>
  ): Layer.Layer<Services | VippsServices, E | ConfigError.ConfigError, R> =>
    VippsAccessToken.layer.pipe(Layer.provideMerge(VippsConfig.layerConfig(prefix)), Layer.provideMerge(self))
