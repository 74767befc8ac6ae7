/**
 * Effect services and layers for MobilePay authentication.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/platform
 */

/** @since 0.1.0 */
export * as AuthHttp from "./AuthHttp.js"
/** @since 0.1.0 */
export * as ConsentCallback from "./ConsentCallback.js"
/** @since 0.1.0 */
export * as Discovery from "./Discovery.js"
/** @since 0.1.0 */
export * as Grant from "./Grant.js"
/** @since 0.1.0 */
export * as MerchantConsent from "./MerchantConsent.js"
/** @since 0.1.0 */
export * as MobilePay from "./MobilePay.js"
/** @since 0.1.0 */
export * as MobilePayConfig from "./MobilePayConfig.js"
/** @since 0.1.0 */
export * as TokenCipher from "./TokenCipher.js"
/** @since 0.1.0 */
export * as TokenManager from "./TokenManager.js"
/** @since 0.1.0 */
export * as TokenStore from "./TokenStore.js"
/** @since 0.1.0 */
export * as TokenVault from "./TokenVault.js"
/** @since 0.1.0 */
export * as IntegratorAuth from "./IntegratorAuth.js"
/** @since 0.1.0 */
export * as MobilePayHttpClient from "./MobilePayHttpClient.js"
/** @since 0.1.0 */
export * as VippsConfig from "./VippsConfig.js"
/** @since 0.1.0 */
export * as VippsAccessToken from "./VippsAccessToken.js"
/** @since 0.1.0 */
export * as VippsHttpClient from "./VippsHttpClient.js"
/** @since 0.1.0 */
export * as MobilePayAuth from "./MobilePayAuth.js"
/** @since 0.1.0 */
export { createMobilePayAuth } from "./MobilePayAuth.js"
