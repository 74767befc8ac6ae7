/**
 * The toolkit's layers composed for one integration: configuration, the hardened HTTP
 * client, the encrypted vault on a store, the token manager, and both flows. The CLI and the
 * demo build on this; an application would compose the same pieces.
 *
 * @since 0.1.0
 */
import { FetchHttpClient } from "@effect/platform"
import { SecureRandom } from "@mobilepay-auth/domain"
import {
  AuthHttp,
  IntegratorAuth,
  MerchantConsent,
  MobilePayConfig,
  TokenCipher,
  TokenManager,
  type TokenStore,
  TokenVault
} from "@mobilepay-auth/platform"
import { type Array as Arr, Layer } from "effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface StackOptions<E> {
  readonly config: MobilePayConfig.MobilePayConfig.Service
  readonly store: Layer.Layer<TokenStore.TokenStore, E>
  readonly keys: Arr.NonEmptyReadonlyArray<TokenCipher.KeyMaterial>
}

/**
 * Everything an integration needs, from a configuration, a store and encryption keys.
 * Plain `http:` is allowed only when the environment says so (loopback, the offline sandbox).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E>(options: StackOptions<E>) =>
  Layer.mergeAll(MerchantConsent.layer(), IntegratorAuth.layer).pipe(
    Layer.provideMerge(TokenManager.layer({ policy: options.config.policy })),
    Layer.provideMerge(TokenVault.layer),
    Layer.provide(TokenCipher.layer(options.keys)),
    Layer.provideMerge(options.store),
    Layer.provideMerge(
      AuthHttp.layer({
        allowInsecureLoopback: options.config.environment.allowInsecureLoopback,
        timeout: options.config.requestTimeout
      })
    ),
    Layer.provide(FetchHttpClient.layer),
    Layer.provideMerge(Layer.succeed(MobilePayConfig.MobilePayConfig, options.config)),
    Layer.provideMerge(SecureRandom.layerWebCrypto)
  )
