/**
 * The settings of a MobilePay integration. `layerConfig` reads them from Effect `Config`,
 * so environment variables work as they are; a missing or malformed setting fails at layer
 * construction with a message naming it, never echoing a secret.
 *
 * @since 0.1.0
 */
import { Environment, Scope, TokenLifecycle } from "@mobilepay-auth/domain"
import { Config, ConfigError, Context, Duration, Either, Layer, Option, Redacted } from "effect"

/**
 * API gateway keys (`x-ibm-client-id` / `x-ibm-client-secret`) that older MobilePay APIs want.
 *
 * @since 0.1.0
 * @category models
 */
export interface GatewayKeys {
  readonly clientId: string
  readonly clientSecret: Option.Option<Redacted.Redacted<string>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class MobilePayConfig extends Context.Tag("@mobilepay-auth/platform/MobilePayConfig")<
  MobilePayConfig,
  MobilePayConfig.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace MobilePayConfig {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    readonly environment: Environment.Environment
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string>
    readonly gateway: Option.Option<GatewayKeys>
    /** Also send `x-ibm-client-id` on the integrator token call (older docs). Default false. */
    readonly gatewayOnTokenCall: boolean
    /** `x-mobilepay-client-system-version` (Major.Minor.Build). */
    readonly clientSystemVersion: string
    /** Where merchant consent redirects back to. */
    readonly redirectUri: Option.Option<string>
    /** Product scopes this integration asks for (least privilege). */
    readonly scopes: ReadonlyArray<Scope.ProductScope>
    /** Send the stored `code_verifier` with every refresh (MobilePay's docs); default true. */
    readonly sendVerifierOnRefresh: boolean
    readonly policy: TokenLifecycle.Policy
    readonly requestTimeout: Duration.Duration
  }
}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly environment: Environment.Environment
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly gateway?: { readonly clientId: string; readonly clientSecret?: Redacted.Redacted<string> }
  readonly gatewayOnTokenCall?: boolean
  readonly clientSystemVersion?: string
  readonly redirectUri?: string
  readonly scopes?: ReadonlyArray<Scope.ProductScope>
  readonly sendVerifierOnRefresh?: boolean
  readonly policy?: TokenLifecycle.Policy
  readonly requestTimeout?: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): MobilePayConfig.Service => ({
  environment: options.environment,
  clientId: options.clientId,
  clientSecret: options.clientSecret,
  gateway: Option.fromNullable(options.gateway).pipe(
    Option.map((g) => ({ clientId: g.clientId, clientSecret: Option.fromNullable(g.clientSecret) }))
  ),
  gatewayOnTokenCall: options.gatewayOnTokenCall ?? false,
  clientSystemVersion: options.clientSystemVersion ?? "1.0.0",
  redirectUri: Option.fromNullable(options.redirectUri),
  scopes: options.scopes ?? [],
  sendVerifierOnRefresh: options.sendVerifierOnRefresh ?? true,
  policy: options.policy ?? TokenLifecycle.defaultPolicy,
  requestTimeout: Duration.decode(options.requestTimeout ?? "10 seconds")
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<MobilePayConfig> =>
  Layer.succeed(MobilePayConfig, make(options))

const customEnvironment = Config.all({
  discoveryUrl: Config.url("DISCOVERY_URL"),
  issuer: Config.nonEmptyString("ISSUER"),
  integratorTokenUrl: Config.url("INTEGRATOR_TOKEN_URL"),
  integratorIssuer: Config.option(Config.nonEmptyString("INTEGRATOR_ISSUER")),
  apiBaseUrl: Config.url("API_BASE_URL"),
  allowInsecureLoopback: Config.boolean("ALLOW_INSECURE_LOOPBACK").pipe(Config.withDefault(false))
}).pipe(
  Config.map((c) =>
    Environment.custom({
      discoveryUrl: c.discoveryUrl.href,
      issuer: c.issuer,
      integratorTokenUrl: c.integratorTokenUrl.href,
      ...Option.match(c.integratorIssuer, {
        onNone: () => ({}),
        onSome: (integratorIssuer) => ({ integratorIssuer })
      }),
      apiBaseUrl: c.apiBaseUrl.href.replace(/\/$/, ""),
      allowInsecureLoopback: c.allowInsecureLoopback
    })
  )
)

// A built-in environment by name, or `custom` with its URLs (required only then).
const environmentConfig: Config.Config<Environment.Environment> = Config.literal(
  "sandbox-dk",
  "sandbox-fi",
  "production-dk",
  "production-fi",
  "custom"
)("ENVIRONMENT").pipe(
  Config.withDefault("sandbox-dk" as const),
  Config.zip(Config.option(customEnvironment)),
  Config.mapOrFail(([name, custom]) =>
    name !== "custom"
      ? Either.right(Environment.builtIn[name])
      : Either.fromOption(custom, () =>
          ConfigError.MissingData(
            ["ENVIRONMENT"],
            "custom needs DISCOVERY_URL, ISSUER, INTEGRATOR_TOKEN_URL and API_BASE_URL"
          )
        )
  )
)

const scopesConfig = Config.string("SCOPES").pipe(
  Config.withDefault(""),
  Config.mapOrFail((text) =>
    Either.mapLeft(Scope.parseProductScopes(Scope.split(text.replace(/,/g, " "))), (e) =>
      ConfigError.InvalidData(["SCOPES"], e.message)
    )
  )
)

// The path is given explicitly (as for SCOPES): a validation outside the primitive would report
// the bare prefix, and the message would not name the setting.
const versionConfig = Config.string("CLIENT_SYSTEM_VERSION").pipe(
  Config.withDefault("1.0.0"),
  Config.mapOrFail((v) =>
    /^\d+\.\d+\.\d+$/.test(v)
      ? Either.right(v)
      : Either.left(
          ConfigError.InvalidData(["CLIENT_SYSTEM_VERSION"], "expected Major.Minor.Build, e.g. 1.2.3")
        )
  )
)

/**
 * The settings as a `Config`, every name under `prefix` (default `MOBILEPAY_`):
 * `ENVIRONMENT` (`sandbox-dk`, `sandbox-fi`, `production-dk`, `production-fi`, or `custom`
 * with `DISCOVERY_URL`, `ISSUER`, `INTEGRATOR_TOKEN_URL`, `API_BASE_URL`,
 * `ALLOW_INSECURE_LOOPBACK`), `CLIENT_ID`, `CLIENT_SECRET`, `GATEWAY_CLIENT_ID`,
 * `GATEWAY_CLIENT_SECRET`, `GATEWAY_ON_TOKEN_CALL`, `CLIENT_SYSTEM_VERSION`, `REDIRECT_URI`,
 * `SCOPES`, `SEND_VERIFIER_ON_REFRESH`, `REQUEST_TIMEOUT`.
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix = "MOBILEPAY"): Config.Config<MobilePayConfig.Service> =>
  Config.nested(
    Config.all({
      environment: environmentConfig,
      clientId: Config.nonEmptyString("CLIENT_ID"),
      clientSecret: Config.redacted(Config.nonEmptyString("CLIENT_SECRET")),
      gatewayClientId: Config.option(Config.nonEmptyString("GATEWAY_CLIENT_ID")),
      gatewayClientSecret: Config.option(Config.redacted("GATEWAY_CLIENT_SECRET")),
      gatewayOnTokenCall: Config.boolean("GATEWAY_ON_TOKEN_CALL").pipe(Config.withDefault(false)),
      clientSystemVersion: versionConfig,
      redirectUri: Config.option(Config.url("REDIRECT_URI")),
      scopes: scopesConfig,
      sendVerifierOnRefresh: Config.boolean("SEND_VERIFIER_ON_REFRESH").pipe(Config.withDefault(true)),
      requestTimeout: Config.duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))
    }),
    prefix
  ).pipe(
    Config.map(
      (c): MobilePayConfig.Service => ({
        environment: c.environment,
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        gateway: Option.map(c.gatewayClientId, (clientId) => ({
          clientId,
          clientSecret: c.gatewayClientSecret
        })),
        gatewayOnTokenCall: c.gatewayOnTokenCall,
        clientSystemVersion: c.clientSystemVersion,
        redirectUri: Option.map(c.redirectUri, (u) => u.href),
        scopes: c.scopes,
        sendVerifierOnRefresh: c.sendVerifierOnRefresh,
        policy: TokenLifecycle.defaultPolicy,
        requestTimeout: c.requestTimeout
      })
    )
  )

/**
 * The settings from `Config` (environment variables by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (prefix = "MOBILEPAY"): Layer.Layer<MobilePayConfig, ConfigError.ConfigError> =>
  Layer.effect(MobilePayConfig, config(prefix))
