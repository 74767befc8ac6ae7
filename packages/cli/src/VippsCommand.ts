/**
 * `mobilepay-auth token vipps`: a Vipps MobilePay access token (the migration path), from
 * `VIPPS_*` environment variables alone, so an integrator can try the new keys before any
 * MobilePay setting exists. Standard authentication by default, for the configured merchant
 * serial number or `--msn`; `--specialized` for management and accounting keys.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { FetchHttpClient } from "@effect/platform"
import { SecureRandom } from "@mobilepay-auth/domain"
import { AuthHttp, TokenManager, TokenVault, VippsAccessToken, VippsConfig } from "@mobilepay-auth/platform"
import { Console, Effect, Layer, Option, Redacted } from "effect"
import * as Ui from "./internal/ui.js"

/**
 * Vipps MobilePay tokens from `VIPPS_*` settings, cached in memory for the command's life.
 * Plain `http:` only when `VIPPS_ALLOW_INSECURE_LOOPBACK` allows it (the offline sandbox).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Layer.unwrapEffect(
  Effect.map(VippsConfig.config(), (config) =>
    VippsAccessToken.layer.pipe(
      Layer.provideMerge(TokenManager.layer()),
      Layer.provide(TokenVault.layerEphemeral),
      Layer.provideMerge(AuthHttp.layer({ allowInsecureLoopback: config.environment.allowInsecureLoopback })),
      Layer.provide(FetchHttpClient.layer),
      Layer.provideMerge(Layer.succeed(VippsConfig.VippsConfig, config)),
      Layer.provideMerge(SecureRandom.layerWebCrypto)
    )
  )
)

/**
 * @since 0.1.0
 * @category commands
 */
export const tokenVipps = Command.make(
  "vipps",
  {
    msn: Options.text("msn").pipe(
      Options.optional,
      Options.withDescription("the merchant serial number to act for (default: VIPPS_MERCHANT_SERIAL_NUMBER)")
    ),
    partnerLevel: Options.boolean("partner-level").pipe(
      Options.withDescription("no Merchant-Serial-Number, for partner-level calls")
    ),
    specialized: Options.boolean("specialized").pipe(
      Options.withDescription("specialized authentication (management or accounting keys)")
    ),
    scope: Options.text("scope").pipe(Options.optional, Options.withDescription("scope (specialized only)")),
    json: Options.boolean("json").pipe(
      Options.withDescription("print JSON (with the expiry) instead of the bare token")
    )
  },
  ({ json, msn, partnerLevel, scope, specialized }) =>
    Effect.gen(function* () {
      const tokens = yield* VippsAccessToken.VippsAccessToken
      const authentication = specialized
        ? VippsAccessToken.specialized({ scope: Option.getOrUndefined(scope) })
        : VippsAccessToken.standard({
            merchantSerialNumber: partnerLevel ? null : Option.getOrUndefined(msn)
          })
      const target = yield* tokens.target(authentication)
      const set = yield* Ui.withProgress(
        "requesting a Vipps MobilePay token",
        tokens.accessToken(authentication)
      )
      yield* Console.log(
        json
          ? JSON.stringify({
              access_token: Redacted.value(set.accessToken),
              token_type: set.tokenType,
              expires_at: new Date(set.expiresAt).toISOString(),
              authentication: target.kind,
              merchant_serial_number: Option.getOrNull(target.merchantSerialNumber),
              scope: Option.getOrNull(target.scope)
            })
          : Redacted.value(set.accessToken)
      )
    }).pipe(Effect.provide(layer))
).pipe(
  Command.withDescription(
    "Print a Vipps MobilePay access token (settings from VIPPS_* variables; see docs/migration.md)."
  )
)
