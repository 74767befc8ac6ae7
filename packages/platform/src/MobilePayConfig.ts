/**
 * The settings of a MobilePay integration. `layerConfig` reads them from Effect `Config`,
 * so environment variables work as they are; a missing or malformed setting fails at layer
 * construction with a message naming it, never echoing a secret.
 *
 * @since 0.1.0
 */
import { AuthError, Environment, Scope, TokenLifecycle } from "@mobilepay-auth/domain"
import {
  type Array as Arr,
  Config,
  ConfigError,
  Context,
  Duration,
  Either,
  Layer,
  Option,
  Redacted
} from "effect"
import * as TokenCipher from "./TokenCipher.js"

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
 * The client id and secret of integrator authentication (PoS client credentials).
 *
 * @since 0.1.0
 * @category models
 */
export interface IntegratorCredentials {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
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
    /** The OpenID Connect client: merchant consent and its refreshes. */
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string>
    /**
     * The PoS integrator credentials of client credentials (`IntegratorAuth`). MobilePay issues
     * them apart from the OpenID Connect client; without them the OpenID Connect client's are used.
     */
    readonly integrator: IntegratorCredentials
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
    /**
     * Keys that seal tokens at rest; the first seals, all open. Required with a durable store;
     * without any, only an ephemeral (in-memory) store can be used.
     */
    readonly encryptionKeys: Option.Option<Arr.NonEmptyReadonlyArray<TokenCipher.KeyMaterial>>
    /**
     * How merchant consent authenticates at the token endpoint. Default `auto`: from discovery's
     * `token_endpoint_auth_methods_supported`, `client_secret_basic` preferred.
     */
    readonly clientAuthentication: ClientAuthentication
  }
}

/**
 * How the client authenticates at the merchant token and revocation endpoints.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthentication = "auto" | "client_secret_post" | "client_secret_basic"

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
  /** Separate PoS integrator credentials; default `clientId` / `clientSecret`. */
  readonly integrator?: IntegratorCredentials
  readonly gateway?: { readonly clientId: string; readonly clientSecret?: Redacted.Redacted<string> }
  readonly gatewayOnTokenCall?: boolean
  readonly clientSystemVersion?: string
  readonly redirectUri?: string
  readonly scopes?: ReadonlyArray<Scope.ProductScope>
  readonly sendVerifierOnRefresh?: boolean
  readonly policy?: TokenLifecycle.Policy
  readonly requestTimeout?: Duration.DurationInput
  /**
   * `id:base64key,id2:base64key` (the first seals) or the keys as a list. Required with a
   * durable store.
   */
  readonly encryptionKeys?:
    | string
    | Redacted.Redacted<string>
    | Arr.NonEmptyReadonlyArray<TokenCipher.KeyMaterial>
  readonly clientAuthentication?: ClientAuthentication
}

const invalid = (setting: string, description: string, hint?: string) =>
  new AuthError.InvalidConfiguration({ setting, description, ...(hint === undefined ? {} : { hint }) })

const versionPattern = /^\d+\.\d+\.\d+$/

const keysOf = (
  keys: Options["encryptionKeys"]
): Either.Either<
  Option.Option<Arr.NonEmptyReadonlyArray<TokenCipher.KeyMaterial>>,
  AuthError.InvalidConfiguration
> => {
  if (keys === undefined) return Either.right(Option.none())
  const list =
    typeof keys === "string" || Redacted.isRedacted(keys)
      ? TokenCipher.parseKeyList(typeof keys === "string" ? Redacted.make(keys) : keys)
      : Either.right(keys)
  return list.pipe(
    Either.flatMap(TokenCipher.checkKeys),
    Either.map(Option.some),
    Either.mapLeft((why) =>
      invalid("encryptionKeys", why, "id:base64key,... of 32-byte keys; `mobilepay-auth keygen` makes one")
    )
  )
}

/**
 * The settings from options, checked: an empty client id or secret, a client system version
 * that is not Major.Minor.Build, malformed encryption keys, a redirect URI that is not a URL or
 * a non-positive timeout are refused with `InvalidConfiguration` naming the option.
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (
  options: Options
): Either.Either<MobilePayConfig.Service, AuthError.InvalidConfiguration> =>
  Either.gen(function* () {
    if (options.clientId.trim() === "") return yield* Either.left(invalid("clientId", "is empty"))
    if (Redacted.value(options.clientSecret).trim() === "") {
      return yield* Either.left(invalid("clientSecret", "is empty"))
    }
    if (options.integrator !== undefined) {
      if (options.integrator.clientId.trim() === "") {
        return yield* Either.left(invalid("integrator.clientId", "is empty"))
      }
      if (Redacted.value(options.integrator.clientSecret).trim() === "") {
        return yield* Either.left(invalid("integrator.clientSecret", "is empty"))
      }
    }
    if (options.clientSystemVersion !== undefined && !versionPattern.test(options.clientSystemVersion)) {
      return yield* Either.left(invalid("clientSystemVersion", "expected Major.Minor.Build, e.g. 1.2.3"))
    }
    if (options.redirectUri !== undefined && !URL.canParse(options.redirectUri)) {
      return yield* Either.left(invalid("redirectUri", "is not an absolute URL"))
    }
    if (options.requestTimeout !== undefined) {
      const timeout = Duration.decodeUnknown(options.requestTimeout)
      if (Option.isNone(timeout) || Duration.toMillis(timeout.value) <= 0) {
        return yield* Either.left(invalid("requestTimeout", "must be a positive duration, e.g. 10 seconds"))
      }
    }
    const encryptionKeys = yield* keysOf(options.encryptionKeys)
    return { ...make(options), encryptionKeys }
  })

/**
 * The settings from options, for values known to be well formed (tests, generated keys).
 * Malformed encryption keys throw `InvalidConfiguration` rather than being dropped (as a
 * malformed duration throws in `Duration.decode`); {@link validate} and {@link layer} check
 * every setting and return the error instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): MobilePayConfig.Service => ({
  environment: options.environment,
  clientId: options.clientId,
  clientSecret: options.clientSecret,
  integrator: options.integrator ?? { clientId: options.clientId, clientSecret: options.clientSecret },
  gateway: Option.fromNullable(options.gateway).pipe(
    Option.map((g) => ({ clientId: g.clientId, clientSecret: Option.fromNullable(g.clientSecret) }))
  ),
  gatewayOnTokenCall: options.gatewayOnTokenCall ?? false,
  clientSystemVersion: options.clientSystemVersion ?? "1.0.0",
  redirectUri: Option.fromNullable(options.redirectUri),
  scopes: options.scopes ?? [],
  sendVerifierOnRefresh: options.sendVerifierOnRefresh ?? true,
  policy: options.policy ?? TokenLifecycle.defaultPolicy,
  requestTimeout: Duration.decode(options.requestTimeout ?? "10 seconds"),
  encryptionKeys: Either.getOrThrowWith(keysOf(options.encryptionKeys), (error) => error),
  clientAuthentication: options.clientAuthentication ?? "auto"
})

/**
 * The settings from options, checked by {@link validate}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<MobilePayConfig, AuthError.InvalidConfiguration> =>
  Layer.effect(MobilePayConfig, validate(options))

const customEnvironment = Config.all({
  discoveryUrl: Config.url("DISCOVERY_URL"),
  issuer: Config.nonEmptyString("ISSUER"),
  integratorTokenUrl: Config.url("INTEGRATOR_TOKEN_URL"),
  integratorIssuer: Config.option(Config.nonEmptyString("INTEGRATOR_ISSUER")),
  apiBaseUrl: Config.url("API_BASE_URL"),
  allowInsecureLoopback: Config.boolean("ALLOW_INSECURE_LOOPBACK").pipe(Config.withDefault(false)),
  // A custom provider may be a production one: then loopback redirect URIs are refused.
  kind: Config.literal("sandbox", "production")("KIND").pipe(Config.withDefault("sandbox" as const))
}).pipe(
  Config.map((c) =>
    Environment.custom({
      kind: c.kind,
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

const keysConfig = Config.redacted("ENCRYPTION_KEYS").pipe(
  Config.mapOrFail((text) =>
    Either.mapLeft(Either.flatMap(TokenCipher.parseKeyList(text), TokenCipher.checkKeys), (why) =>
      ConfigError.InvalidData(["ENCRYPTION_KEYS"], why)
    )
  )
)

// `10 seconds` (Effect's form) and the short `10s`, `500ms`, `2m` people type in env files.
const durationConfig = (name: string, fallback: Duration.Duration) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const short = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text)
      const unit = { ms: "millis", s: "seconds", m: "minutes", h: "hours" } as const
      const decoded = short
        ? Duration.decodeUnknown(`${short[1]} ${unit[short[2] as keyof typeof unit]}`)
        : Duration.decodeUnknown(text.trim())
      return Option.match(
        Option.filter(decoded, (d) => Duration.toMillis(d) > 0),
        {
          onNone: () =>
            Either.left(ConfigError.InvalidData([name], "expected a duration such as 10s or 10 seconds")),
          onSome: Either.right
        }
      )
    }),
    Config.withDefault(fallback)
  )

/**
 * The settings as a `Config`, every name under `prefix` (default `MOBILEPAY_`):
 * `ENVIRONMENT` (`sandbox-dk`, `sandbox-fi`, `production-dk`, `production-fi`, or `custom`
 * with `DISCOVERY_URL`, `ISSUER`, `INTEGRATOR_TOKEN_URL`, `API_BASE_URL`,
 * `ALLOW_INSECURE_LOOPBACK`, `KIND`: `sandbox` (default) or `production`), `CLIENT_ID`, `CLIENT_SECRET`,
 * `INTEGRATOR_CLIENT_ID`, `INTEGRATOR_CLIENT_SECRET` (the PoS integrator credentials, each
 * defaulting to the OpenID Connect client's), `GATEWAY_CLIENT_ID`,
 * `GATEWAY_CLIENT_SECRET`, `GATEWAY_ON_TOKEN_CALL`, `CLIENT_SYSTEM_VERSION`, `REDIRECT_URI`,
 * `SCOPES`, `SEND_VERIFIER_ON_REFRESH`, `REQUEST_TIMEOUT` (`10s` or `10 seconds`),
 * `ENCRYPTION_KEYS` (`id:base64key,...`), `CLIENT_AUTHENTICATION` (`client_secret_post` or
 * `client_secret_basic`).
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
      integratorClientId: Config.option(Config.nonEmptyString("INTEGRATOR_CLIENT_ID")),
      integratorClientSecret: Config.option(
        Config.redacted(Config.nonEmptyString("INTEGRATOR_CLIENT_SECRET"))
      ),
      gatewayClientId: Config.option(Config.nonEmptyString("GATEWAY_CLIENT_ID")),
      gatewayClientSecret: Config.option(Config.redacted("GATEWAY_CLIENT_SECRET")),
      gatewayOnTokenCall: Config.boolean("GATEWAY_ON_TOKEN_CALL").pipe(Config.withDefault(false)),
      clientSystemVersion: versionConfig,
      redirectUri: Config.option(Config.url("REDIRECT_URI")),
      scopes: scopesConfig,
      sendVerifierOnRefresh: Config.boolean("SEND_VERIFIER_ON_REFRESH").pipe(Config.withDefault(true)),
      requestTimeout: durationConfig("REQUEST_TIMEOUT", Duration.seconds(10)),
      encryptionKeys: Config.option(keysConfig),
      clientAuthentication: Config.literal(
        "auto",
        "client_secret_post",
        "client_secret_basic"
      )("CLIENT_AUTHENTICATION").pipe(Config.withDefault("auto" as const))
    }),
    prefix
  ).pipe(
    Config.map(
      (c): MobilePayConfig.Service => ({
        environment: c.environment,
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        integrator: {
          clientId: Option.getOrElse(c.integratorClientId, () => c.clientId),
          clientSecret: Option.getOrElse(c.integratorClientSecret, () => c.clientSecret)
        },
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
        requestTimeout: c.requestTimeout,
        encryptionKeys: c.encryptionKeys,
        clientAuthentication: c.clientAuthentication
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
