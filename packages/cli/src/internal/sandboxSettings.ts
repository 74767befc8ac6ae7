/**
 * The `sandbox` command's knobs: flags, their `MOBILEPAY_SANDBOX_*` variables and defaults, and how
 * they become the sandbox's options. Flag first, then variable, then default; a bad value is a
 * usage error naming it.
 *
 * @since 0.1.0
 */
import { Options } from "@effect/cli"
import { AuthError } from "@mobilepay-auth/domain"
import {
  defaults,
  SandboxFault,
  type SandboxMerchant,
  type SandboxOptions,
  type SandboxQuirks
} from "@mobilepay-auth/sandbox"
import { Config, Effect, Either, Option } from "effect"

export const usage = (code: string, description: string) =>
  new AuthError.InvalidRequest({ code, description })

/** Gateway keys the CLI's sandbox requires by default, so a client that forgets them finds out here. */
const gatewayDefaults = { clientId: "sandbox-gateway-client", clientSecret: "sandbox-gateway-secret" }

const quirkNames: Record<string, keyof SandboxQuirks | "requireVerifierOnRefresh"> = {
  "single-use-nonce": "singleUseNonce",
  "revoked-access-tokens-work-until-expiry": "revokedAccessTokensWorkUntilExpiry",
  "integrator-token-requires-gateway-client-id": "integratorTokenRequiresGatewayClientId",
  "failed-code-exchange-burns-code": "failedCodeExchangeBurnsCode",
  "require-verifier-on-refresh": "requireVerifierOnRefresh"
}

/** `name` or `name=true|false`. */
const parseQuirk = (spec: string) => {
  const [name = "", value = "true"] = spec.split("=", 2).map((s) => s.trim())
  const key = quirkNames[name]
  if (key === undefined) {
    return Either.left(`quirk "${name}": one of ${Object.keys(quirkNames).join(", ")}`)
  }
  if (value !== "true" && value !== "false")
    return Either.left(`quirk "${name}": true or false, got ${value}`)
  return Either.right([key, value === "true"] as const)
}

/** `VAT` or `VAT=Name`; the merchant id is derived from the VAT, stable across runs. */
const parseMerchant = (spec: string): Either.Either<SandboxMerchant | string, string> => {
  const [vat = "", name] = spec.split("=", 2).map((s) => s.trim())
  if (!/^(DK|FI)\d{8}$/.test(vat))
    return Either.left(`merchant "${spec}": DK or FI and 8 digits, e.g. DK12345678`)
  const known = defaults.merchants.find((m) => m.vat === vat)
  if (name === undefined) return Either.right(known ?? vat)
  return Either.right({ vat, name, merchantId: known?.merchantId ?? merchantIdOf(vat) })
}

const merchantIdOf = (vat: string) => {
  const hash = [...vat].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7)
  const hex = hash.toString(16).padStart(8, "0")
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`
}

const env = (name: string) => `MOBILEPAY_SANDBOX_${name}`
const described = (text: string, fallback: string, variable: string) =>
  `${text} (default ${fallback}; env ${env(variable)})`

/** @internal The command's flags; each names its default and variable. */
export const flags = {
  host: Options.text("host").pipe(
    Options.optional,
    Options.withDescription(described("loopback address to listen on", "127.0.0.1", "HOST"))
  ),
  port: Options.integer("port").pipe(
    Options.optional,
    Options.withDescription(described("port; 0 picks a free one", "8700", "PORT"))
  ),
  https: Options.boolean("https").pipe(
    Options.withDescription(
      "serve TLS with a self-signed certificate generated now, written to a file for NODE_EXTRA_CA_CERTS (default off)"
    )
  ),
  // Not `--env-file`: Node reads that flag even after the script's name and exits when the file
  // does not exist yet (nodejs/node#54232), before this program runs.
  envFile: Options.file("dotenv").pipe(
    Options.optional,
    Options.withDescription(
      described(
        "write the client settings to FILE as dotenv (load: set -a; . FILE; set +a)",
        "none",
        "DOTENV"
      )
    )
  ),
  rotation: Options.choice("rotation", ["one-time", "reuse"]).pipe(
    Options.optional,
    Options.withDescription(
      described("refresh-token rotation of the merchant client", "one-time", "ROTATION")
    )
  ),
  redirectUris: Options.text("redirect-uri").pipe(
    Options.repeated,
    Options.withDescription(
      described(
        "a redirect URI of the merchant client; repeat for more",
        defaults.merchantClient.redirectUris.join(" and "),
        "REDIRECT_URIS (comma-separated)"
      )
    )
  ),
  accessTokenLifetime: Options.integer("access-token-lifetime").pipe(
    Options.optional,
    Options.withDescription(
      described("merchant access-token lifetime, seconds", "300", "ACCESS_TOKEN_LIFETIME")
    )
  ),
  integratorTokenLifetime: Options.integer("integrator-token-lifetime").pipe(
    Options.optional,
    Options.withDescription(
      described("integrator access-token lifetime, seconds", "3700", "INTEGRATOR_TOKEN_LIFETIME")
    )
  ),
  refreshTokenLifetime: Options.integer("refresh-token-lifetime").pipe(
    Options.optional,
    Options.withDescription(
      described(
        "refresh-token lifetime, seconds, renewed on use",
        "34128000 (395 days)",
        "REFRESH_TOKEN_LIFETIME"
      )
    )
  ),
  codeLifetime: Options.integer("code-lifetime").pipe(
    Options.optional,
    Options.withDescription(described("authorization-code lifetime, seconds", "300", "CODE_LIFETIME"))
  ),
  clockOffset: Options.integer("clock-offset").pipe(
    Options.optional,
    Options.withDescription(
      described(
        "start the sandbox's clock this many seconds ahead (admin API: advance later)",
        "0",
        "CLOCK_OFFSET"
      )
    )
  ),
  gatewayClientId: Options.text("gateway-client-id").pipe(
    Options.optional,
    Options.withDescription(
      described("x-ibm-client-id the API requires", gatewayDefaults.clientId, "GATEWAY_CLIENT_ID")
    )
  ),
  gatewayClientSecret: Options.text("gateway-client-secret").pipe(
    Options.optional,
    Options.withDescription(
      described("x-ibm-client-secret the API requires", gatewayDefaults.clientSecret, "GATEWAY_CLIENT_SECRET")
    )
  ),
  noGateway: Options.boolean("no-gateway").pipe(
    Options.withDescription(
      "do not require gateway keys on API calls (default: required; env MOBILEPAY_SANDBOX_NO_GATEWAY)"
    )
  ),
  merchants: Options.text("merchant").pipe(
    Options.repeated,
    Options.withDescription(
      described(
        "a known merchant, VAT or VAT=Name; repeat for more (any well-formed VAT works anyway)",
        defaults.merchants.map((m) => m.vat).join(", "),
        "MERCHANTS (comma-separated)"
      )
    )
  ),
  quirks: Options.text("quirk").pipe(
    Options.repeated,
    Options.withDescription(
      described(
        `a MobilePay quirk, NAME or NAME=false: ${Object.keys(quirkNames).join(", ")}; repeat for more`,
        "single-use-nonce only",
        "QUIRKS (comma-separated)"
      )
    )
  ),
  faults: Options.text("fault").pipe(
    Options.repeated,
    Options.withDescription(
      described(
        "a fault, ENDPOINT:EFFECT[,EFFECT], e.g. merchantToken:429=30,times=3 (see docs/sandbox.md); repeat for more",
        "none",
        "FAULTS (semicolon-separated)"
      )
    )
  )
}

type Flags = {
  readonly [K in keyof typeof flags]: (typeof flags)[K] extends Options.Options<infer A> ? A : never
}

/** The flag, else the environment variable, else the default. */
const knob = <A>(flag: Option.Option<A>, config: Config.Config<A>, fallback: A) =>
  Option.isSome(flag)
    ? Effect.succeed(flag.value)
    : Effect.map(
        Config.option(config),
        Option.getOrElse(() => fallback)
      )

const list = (flag: ReadonlyArray<string>, name: string, separator: string) =>
  flag.length > 0
    ? Effect.succeed(flag)
    : Effect.map(Config.option(Config.string(env(name))), (value) =>
        Option.match(value, {
          onNone: () => [],
          onSome: (text) =>
            text
              .split(separator)
              .map((s) => s.trim())
              .filter((s) => s.length > 0)
        })
      )

const eachOrFail = <A>(
  specs: ReadonlyArray<string>,
  code: string,
  parse: (s: string) => Either.Either<A, string>
) => Effect.forEach(specs, (spec) => Effect.mapError(parse(spec), (why) => usage(code, why)))

/** @internal Every flag and variable resolved into the sandbox's options, the faults to set and the env file. */
export const settingsOf = (f: Flags) =>
  Effect.gen(function* () {
    const host = yield* knob(f.host, Config.string(env("HOST")), "127.0.0.1")
    if (!/^(127\.|::1$|localhost$)/.test(host)) {
      return yield* Effect.fail(usage("not_loopback", "the sandbox serves on loopback only"))
    }
    const rotation = yield* knob(f.rotation, Config.literal("one-time", "reuse")(env("ROTATION")), "one-time")
    const redirects = yield* list(f.redirectUris, "REDIRECT_URIS", ",")
    const quirks = Object.fromEntries(
      yield* eachOrFail(yield* list(f.quirks, "QUIRKS", ","), "quirk", parseQuirk)
    )
    const merchants = yield* eachOrFail(yield* list(f.merchants, "MERCHANTS", ","), "merchant", parseMerchant)
    const faults = yield* eachOrFail(yield* list(f.faults, "FAULTS", ";"), "fault", SandboxFault.parse)
    const noGateway = f.noGateway || (yield* knob(Option.none(), Config.boolean(env("NO_GATEWAY")), false))
    const gateway = noGateway
      ? undefined
      : {
          clientId: yield* knob(
            f.gatewayClientId,
            Config.string(env("GATEWAY_CLIENT_ID")),
            gatewayDefaults.clientId
          ),
          clientSecret: yield* knob(
            f.gatewayClientSecret,
            Config.string(env("GATEWAY_CLIENT_SECRET")),
            gatewayDefaults.clientSecret
          )
        }
    const { requireVerifierOnRefresh, ...sandboxQuirks } = quirks
    const merchantClient = {
      ...defaults.merchantClient,
      rotation,
      ...(redirects.length > 0 ? { redirectUris: redirects } : {}),
      ...(requireVerifierOnRefresh === undefined ? {} : { requireVerifierOnRefresh })
    }
    const options: SandboxOptions = {
      host,
      port: yield* knob(f.port, Config.integer(env("PORT")), 8700),
      https: f.https,
      merchantClients: [merchantClient],
      // The merchant client's credentials work for client credentials too, so one env file serves
      // every command (the demo's single client does the same).
      integratorClients: [
        defaults.integratorClient,
        { clientId: merchantClient.clientId, clientSecret: merchantClient.clientSecret }
      ],
      accessTokenLifetime: yield* knob(
        f.accessTokenLifetime,
        Config.integer(env("ACCESS_TOKEN_LIFETIME")),
        300
      ),
      integratorTokenLifetime: yield* knob(
        f.integratorTokenLifetime,
        Config.integer(env("INTEGRATOR_TOKEN_LIFETIME")),
        3700
      ),
      refreshTokenLifetime: yield* knob(
        f.refreshTokenLifetime,
        Config.integer(env("REFRESH_TOKEN_LIFETIME")),
        395 * 24 * 3600
      ),
      codeLifetime: yield* knob(f.codeLifetime, Config.integer(env("CODE_LIFETIME")), 300),
      clockOffset: yield* knob(f.clockOffset, Config.integer(env("CLOCK_OFFSET")), 0),
      ...(merchants.length > 0
        ? {
            merchants: merchants.flatMap((m) =>
              typeof m === "string" ? [{ vat: m, name: `Merchant ${m}`, merchantId: merchantIdOf(m) }] : [m]
            )
          }
        : {}),
      quirks: sandboxQuirks,
      ...(gateway === undefined ? {} : { gateway })
    }
    const envFile = Option.isSome(f.envFile) ? f.envFile : yield* Config.option(Config.string(env("DOTENV")))
    return { options, faults, envFile, merchantClient }
  })

/** @internal */
export type Settings = Effect.Effect.Success<ReturnType<typeof settingsOf>>
