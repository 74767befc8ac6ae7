/**
 * An offline MobilePay-compatible authorization server and API, for tests, demos and
 * integrators' own test suites.
 *
 * @since 0.1.0
 * @module @mobilepay-auth/sandbox
 */

/** @since 0.1.0 */
export * from "./Options.js"
/** @since 0.1.0 */
export * as Sandbox from "./Sandbox.js"
/** @since 0.1.0 */
export * as SandboxBrowser from "./Browser.js"
/** @since 0.1.0 */
export * as SandboxCertificate from "./Certificate.js"
/** @since 0.1.0 */
export * as SandboxFault from "./Faults.js"
/** @since 0.1.0 */
export {
  type SandboxVippsClient,
  type SandboxVippsOptions,
  type SandboxVippsSpecializedClient,
  vippsDefaults
} from "./Vipps.js"
