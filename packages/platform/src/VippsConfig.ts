/**
 * The settings of a Vipps MobilePay integration (the successor of MobilePay's PoS V10 and
 * merchant consent): where the APIs live, the client id and secret, the subscription key, the
 * merchant serial number, and the `Vipps-System-*` headers. `layerConfig` reads `VIPPS_*`
 * environment variables; a missing or malformed setting fails naming it, never echoing a secret.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Context, Data, Either, Layer, Option, type Redacted } from "effect"

/**
 * Where the Vipps MobilePay APIs live: `test` (apitest.vipps.no), `production` (api.vipps.no),
 * or a custom base URL (the offline sandbox, a proxy).
 *
 * @since 0.1.0
 * @category models
 */
export interface VippsEnvironment {
  readonly name: string
  readonly kind: "test" | "production"
  /** e.g. `https://apitest.vipps.no`, without a trailing slash. */
  readonly baseUrl: string
  /** Plain `http:` to a loopback address (tests, the offline sandbox); never for test or production. */
  readonly allowInsecureLoopback: boolean
}

/**
 * Vipps MobilePay's test environment.
 *
 * @since 0.1.0
 * @category environments
 */
export const test: VippsEnvironment = Data.struct({
  name: "vipps-test",
  kind: "test",
  baseUrl: "https://apitest.vipps.no",
  allowInsecureLoopback: false
})

/**
 * Vipps MobilePay production.
 *
 * @since 0.1.0
 * @category environments
 */
export const production: VippsEnvironment = Data.struct({
  name: "vipps-production",
  kind: "production",
  baseUrl: "https://api.vipps.no",
  allowInsecureLoopback: false
})

/**
 * Any compatible base URL, such as the offline sandbox's.
 *
 * @since 0.1.0
 * @category environments
 */
export const custom = (options: {
  readonly baseUrl: string
  readonly name?: string
  readonly allowInsecureLoopback?: boolean
}): VippsEnvironment =>
  Data.struct({
    name: options.name ?? "vipps-custom",
    kind: "test",
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    allowInsecureLoopback: options.allowInsecureLoopback ?? false
  })

/**
 * The `Vipps-System-*` headers: who is calling, for Vipps MobilePay's support and statistics.
 *
 * @since 0.1.0
 * @category models
 */
export interface SystemInfo {
  readonly name: Option.Option<string>
  readonly version: Option.Option<string>
  readonly pluginName: Option.Option<string>
  readonly pluginVersion: Option.Option<string>
}

/**
 * The `Vipps-System-*` headers for `system`, those that are set.
 *
 * @since 0.1.0
 * @category utils
 */
export const systemHeaders = (system: SystemInfo): Record<string, string> => {
  const headers: Record<string, string> = {}
  const set = (name: string, value: Option.Option<string>) => {
    if (Option.isSome(value)) headers[name] = value.value
  }
  set("vipps-system-name", system.name)
  set("vipps-system-version", system.version)
  set("vipps-system-plugin-name", system.pluginName)
  set("vipps-system-plugin-version", system.pluginVersion)
  return headers
}

/**
 * @since 0.1.0
 * @category tags
 */
export class VippsConfig extends Context.Tag("@mobilepay-auth/platform/VippsConfig")<
  VippsConfig,
  VippsConfig.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace VippsConfig {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly environment: VippsEnvironment
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string>
    /** `Ocp-Apim-Subscription-Key`: needed by standard authentication, not by specialized. */
    readonly subscriptionKey: Option.Option<Redacted.Redacted<string>>
    /** The merchant to act for when a call names none (partners name one per call). */
    readonly merchantSerialNumber: Option.Option<string>
    readonly system: SystemInfo
    /** The token path of specialized authentication (`/miami/v1/token`, to be renamed). */
    readonly specializedTokenPath: string
    /** Keep tokens in the `TokenVault`, so instances sharing a store share them. Default false. */
    readonly shareTokens: boolean
  }
}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly environment: VippsEnvironment
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly subscriptionKey?: Redacted.Redacted<string>
  readonly merchantSerialNumber?: string
  readonly system?: {
    readonly name?: string
    readonly version?: string
    readonly pluginName?: string
    readonly pluginVersion?: string
  }
  readonly specializedTokenPath?: string
  readonly shareTokens?: boolean
}

/**
 * A merchant serial number: digits only (Vipps MobilePay's are 5 to 7 digits; up to 12 accepted).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isMerchantSerialNumber = (value: string): boolean => /^\d{4,12}$/.test(value)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): VippsConfig.Service => ({
  environment: options.environment,
  clientId: options.clientId,
  clientSecret: options.clientSecret,
  subscriptionKey: Option.fromNullable(options.subscriptionKey),
  merchantSerialNumber: Option.fromNullable(options.merchantSerialNumber),
  system: {
    name: Option.fromNullable(options.system?.name),
    version: Option.fromNullable(options.system?.version),
    pluginName: Option.fromNullable(options.system?.pluginName),
    pluginVersion: Option.fromNullable(options.system?.pluginVersion)
  },
  specializedTokenPath: options.specializedTokenPath ?? "/miami/v1/token",
  shareTokens: options.shareTokens ?? false
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<VippsConfig> => Layer.succeed(VippsConfig, make(options))

// Validations outside a primitive report the bare prefix, so each names its setting explicitly.
const invalid = (name: string, why: string) => ConfigError.InvalidData([name], why)

const environmentConfig: Config.Config<VippsEnvironment> = Config.all({
  environment: Config.string("ENVIRONMENT").pipe(Config.withDefault("test")),
  allowInsecureLoopback: Config.boolean("ALLOW_INSECURE_LOOPBACK").pipe(Config.withDefault(false))
}).pipe(
  Config.mapOrFail(({ allowInsecureLoopback, environment }) => {
    if (environment === "test") return Either.right(test)
    if (environment === "production") return Either.right(production)
    const url = URL.canParse(environment) ? new URL(environment) : undefined
    return url !== undefined && (url.protocol === "https:" || url.protocol === "http:")
      ? Either.right(custom({ baseUrl: url.href, allowInsecureLoopback }))
      : Either.left(invalid("ENVIRONMENT", "expected test, production, or a base URL such as https://host"))
  })
)

const merchantSerialNumberConfig = Config.option(Config.string("MERCHANT_SERIAL_NUMBER")).pipe(
  Config.mapOrFail((msn) =>
    Option.isSome(msn) && !isMerchantSerialNumber(msn.value)
      ? Either.left(invalid("MERCHANT_SERIAL_NUMBER", "expected digits only, e.g. 123456"))
      : Either.right(msn)
  )
)

/**
 * The settings as a `Config`, every name under `prefix` (default `VIPPS_`): `ENVIRONMENT`
 * (`test`, the default; `production`; or a base URL, with `ALLOW_INSECURE_LOOPBACK` for
 * loopback http), `CLIENT_ID`, `CLIENT_SECRET`, `SUBSCRIPTION_KEY`, `MERCHANT_SERIAL_NUMBER`,
 * `SYSTEM_NAME`, `SYSTEM_VERSION`, `SYSTEM_PLUGIN_NAME`, `SYSTEM_PLUGIN_VERSION`,
 * `SPECIALIZED_TOKEN_PATH`, `SHARE_TOKENS`.
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix = "VIPPS"): Config.Config<VippsConfig.Service> =>
  Config.nested(
    Config.all({
      environment: environmentConfig,
      clientId: Config.nonEmptyString("CLIENT_ID"),
      clientSecret: Config.redacted(Config.nonEmptyString("CLIENT_SECRET")),
      subscriptionKey: Config.option(Config.redacted(Config.nonEmptyString("SUBSCRIPTION_KEY"))),
      merchantSerialNumber: merchantSerialNumberConfig,
      systemName: Config.option(Config.nonEmptyString("SYSTEM_NAME")),
      systemVersion: Config.option(Config.nonEmptyString("SYSTEM_VERSION")),
      systemPluginName: Config.option(Config.nonEmptyString("SYSTEM_PLUGIN_NAME")),
      systemPluginVersion: Config.option(Config.nonEmptyString("SYSTEM_PLUGIN_VERSION")),
      specializedTokenPath: Config.string("SPECIALIZED_TOKEN_PATH").pipe(
        Config.withDefault("/miami/v1/token"),
        Config.mapOrFail((path) =>
          /^\/[\w\-./]*$/.test(path)
            ? Either.right(path)
            : Either.left(invalid("SPECIALIZED_TOKEN_PATH", "expected a path such as /miami/v1/token"))
        )
      ),
      shareTokens: Config.boolean("SHARE_TOKENS").pipe(Config.withDefault(false))
    }),
    prefix
  ).pipe(
    Config.map(
      (c): VippsConfig.Service => ({
        environment: c.environment,
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        subscriptionKey: c.subscriptionKey,
        merchantSerialNumber: c.merchantSerialNumber,
        system: {
          name: c.systemName,
          version: c.systemVersion,
          pluginName: c.systemPluginName,
          pluginVersion: c.systemPluginVersion
        },
        specializedTokenPath: c.specializedTokenPath,
        shareTokens: c.shareTokens
      })
    )
  )

/**
 * The settings from `Config` (environment variables by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (prefix = "VIPPS"): Layer.Layer<VippsConfig, ConfigError.ConfigError> =>
  Layer.effect(VippsConfig, config(prefix))
