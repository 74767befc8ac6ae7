/**
 * The `mobilepay-auth` command (@effect/cli): the demo, the offline sandbox, tokens, consent,
 * revocation and the store. Settings come from `MOBILEPAY_*` environment variables (see
 * docs/getting-started.md); every error is one line with its typed reason, a hint, and an exit
 * code scripts can use.
 *
 * @since 0.1.0
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { AuthError, Scope, Vat } from "@mobilepay-auth/domain"
import {
  ConsentCallback,
  IntegratorAuth,
  MerchantConsent,
  MobilePay,
  MobilePayConfig,
  TokenCipher,
  TokenStore
} from "@mobilepay-auth/platform"
import { SqliteTokenStore } from "@mobilepay-auth/sql-sqlite"
import { Cause, Console, Deferred, Effect, Either, Layer, Option, Redacted } from "effect"
import { createServer } from "node:http"
import * as Demo from "./Demo.js"
import * as SandboxCommand from "./SandboxCommand.js"
import * as Ui from "./internal/ui.js"
import * as VippsCommand from "./VippsCommand.js"

// ---------------------------------------------------------------------------
// The integration, from the environment
// ---------------------------------------------------------------------------

// Settings from MOBILEPAY_* variables, tokens in the SQLite file under MOBILEPAY_DATA_DIR.
const integration = MobilePay.layerConfig().pipe(
  Layer.provideMerge(SqliteTokenStore.layerConfig()),
  Layer.provide(FetchHttpClient.layer)
)

// Integrator tokens are never stored: no database and no encryption keys for `token integrator`
// (an in-memory store, sealed with a key that dies with the process).
const integratorIntegration = MobilePay.layerConfig().pipe(
  Layer.provideMerge(TokenStore.layerMemory),
  Layer.provide(FetchHttpClient.layer)
)

// The merchant a command acts on, as `store list` prints it (the grant's merchant identity).
const merchantArg = Args.text({ name: "merchant" }).pipe(
  Args.withDescription("the merchant's identity as `mobilepay-auth store list` prints it")
)

const json = Options.boolean("json").pipe(
  Options.withDescription("print JSON (with the expiry) instead of the bare token")
)
const iso = (millis: number) => new Date(millis).toISOString()

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

// A command group run without its subcommand: the usage on stderr and exit code 2, so a script
// that forgot the subcommand fails instead of reading the help as output.
const group = (name: string, path: string) =>
  Command.make(name, {}, () =>
    Effect.gen(function* () {
      yield* Console.error(
        `error [Usage]: \`mobilepay-auth${path}\` needs a command\n  hint: see \`mobilepay-auth${path} --help\``
      )
      process.exitCode = Ui.ExitCode.usage
    })
  )

const demo = Command.make("demo", {}, () =>
  Effect.gen(function* () {
    const code = yield* Demo.summarize(yield* Demo.run)
    process.exitCode = code
  })
).pipe(Command.withDescription("Run every flow end to end against the in-process offline sandbox."))

const tokenIntegrator = Command.make(
  "integrator",
  {
    vat: Options.text("vat").pipe(
      Options.optional,
      Options.withDescription("bind the token to this merchant (DK12345678)")
    ),
    json
  },
  ({ json, vat }) =>
    Effect.gen(function* () {
      const merchantVat = Option.isSome(vat) ? Option.some(yield* Vat.parse(vat.value)) : Option.none()
      const auth = yield* IntegratorAuth.IntegratorAuth
      const tokens = yield* Ui.withProgress("requesting an integrator token", auth.accessToken(merchantVat))
      yield* Console.log(
        json
          ? JSON.stringify({
              access_token: Redacted.value(tokens.accessToken),
              token_type: tokens.tokenType,
              expires_at: iso(tokens.expiresAt),
              scope: tokens.scopes.join(" "),
              merchant_vat: Option.getOrNull(merchantVat)
            })
          : Redacted.value(tokens.accessToken)
      )
    }).pipe(Effect.provide(integratorIntegration))
).pipe(
  Command.withDescription(
    "Print a fresh integrator (client credentials) token. Needs no database and no encryption keys."
  )
)

const tokenMerchant = Command.make("merchant", { merchant: merchantArg, json }, ({ json, merchant }) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const token = yield* Ui.withProgress("getting the merchant's token", consent.accessToken(merchant))
    const info = (yield* consent.merchants).find((m) => m.merchant === merchant)
    yield* Console.log(
      json
        ? JSON.stringify({
            access_token: Redacted.value(token),
            token_type: "Bearer",
            merchant,
            expires_at: info ? iso(info.accessTokenExpiresAt) : null
          })
        : Redacted.value(token)
    )
  }).pipe(Effect.provide(integration))
).pipe(
  Command.withDescription(
    "Print a valid access token for a merchant who gave consent (refreshing it if needed)."
  )
)

const token = group("token", " token").pipe(
  Command.withDescription("Print tokens."),
  Command.withSubcommands([tokenIntegrator, tokenMerchant, VippsCommand.tokenVipps])
)

const printConsented = (consented: MerchantConsent.Consented) =>
  Console.log(
    `consent stored for merchant ${consented.merchant}` +
      `${Option.match(consented.merchantVat, { onNone: () => "", onSome: (v) => ` (${v})` })}; ` +
      `scopes ${consented.scopes.join(" ")}`
  )

const consentStart = Command.make(
  "start",
  {
    vat: Options.text("vat").pipe(
      Options.optional,
      Options.withDescription("the merchant to ask (DK12345678)")
    ),
    scopes: Options.text("scope").pipe(
      Options.repeated,
      Options.withDescription("a product scope; repeat for more (default: MOBILEPAY_SCOPES)")
    ),
    mode: Options.choice("mode", ["form_post", "fragment"]).pipe(Options.withDefault("form_post" as const))
  },
  ({ mode, scopes, vat }) =>
    Effect.gen(function* () {
      const config = yield* MobilePayConfig.MobilePayConfig
      const consent = yield* MerchantConsent.MerchantConsent
      const redirect = Option.map(config.redirectUri, (u) => new URL(u))
      if (
        Option.isNone(redirect) ||
        redirect.value.protocol !== "http:" ||
        !/^(127\.|localhost$|\[::1\]$)/.test(redirect.value.hostname)
      ) {
        return yield* Effect.fail(
          new AuthError.InvalidRequest({
            code: "redirect_not_loopback",
            description:
              "consent start listens on MOBILEPAY_REDIRECT_URI, which must be http on loopback; otherwise run your own callback and use `consent complete`"
          })
        )
      }
      yield* Effect.forEach(scopes, (s) =>
        Either.match(Scope.parseProductScopes([s]), { onLeft: Effect.fail, onRight: () => Effect.void })
      )
      const authorization = yield* consent.begin({
        // The explicit opt-out of the user-agent binding: the browser opening the printed URL never
        // talked to this process, so it carries no binding cookie; the loopback listener and the
        // single-use state are what tie the callback to this run.
        bindToUserAgent: false,
        responseMode: mode,
        ...(Option.isSome(vat) ? { merchantVat: vat.value } : {}),
        ...(scopes.length > 0 ? { scopes } : {})
      })
      const done = yield* Deferred.make<MerchantConsent.Consented, MerchantConsent.CompleteError>()
      const url = redirect.value
      yield* Layer.launch(
        HttpServer.serve(
          ConsentCallback.router(`/${url.pathname.replace(/^\//, "")}`, {
            onComplete: (outcome) =>
              outcome._tag === "Success"
                ? Deferred.succeed(done, outcome.consented)
                : Effect.asVoid(Deferred.fail(done, outcome.error))
          })
        ).pipe(
          Layer.provide(
            NodeHttpServer.layer(() => createServer(), {
              host: url.hostname.replace(/^\[|\]$/g, ""),
              port: Number(url.port || 80)
            })
          ),
          Layer.provide(Layer.succeed(MerchantConsent.MerchantConsent, consent))
        )
      ).pipe(Effect.forkScoped)
      yield* Console.log(
        `Open this URL in a browser (valid until ${iso(authorization.expiresAt)}):\n\n  ${authorization.url}\n`
      )
      const consented = yield* Ui.withProgress(
        `waiting for the callback on ${url.href}`,
        Deferred.await(done).pipe(
          Effect.timeoutFail({
            duration: "10 minutes",
            onTimeout: () => new AuthError.StateMismatch({ reason: "expired" })
          })
        )
      )
      yield* printConsented(consented)
    }).pipe(Effect.scoped, Effect.provide(integration))
).pipe(
  Command.withDescription(
    "Start merchant consent: print the authorize URL and wait for the callback on the loopback redirect URI."
  )
)

const redirectUrlArg = Args.text({ name: "redirect-url" }).pipe(
  Args.withDescription("the full URL the browser landed on, with its #fragment")
)

const consentComplete = Command.make("complete", { url: redirectUrlArg }, ({ url }) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    yield* printConsented(yield* Ui.withProgress("completing the consent", consent.complete(url)))
  }).pipe(Effect.provide(integration))
).pipe(Command.withDescription("Complete merchant consent from a pasted redirect URL (fragment mode)."))

const consentCommand = group("consent", " consent").pipe(
  Command.withDescription("Merchant consent (OpenID Connect hybrid flow with PKCE)."),
  Command.withSubcommands([consentStart, consentComplete])
)

const revoke = Command.make("revoke", { merchant: merchantArg }, ({ merchant }) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const result = yield* Ui.withProgress("revoking", consent.revoke(merchant))
    yield* Console.log(
      `${merchant}: ${result.removed ? "grant deleted from the store" : "nothing was stored"}; provider: ${result.provider}`
    )
  }).pipe(Effect.provide(integration))
).pipe(
  Command.withDescription("Revoke a merchant's consent at MobilePay and delete everything stored for it.")
)

const storeList = Command.make("list", {}, () =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const merchants = yield* consent.merchants
    if (merchants.length === 0) return yield* Console.log("no merchant grants stored")
    const rows = merchants.map((m) => [
      m.merchant,
      Option.getOrElse(m.merchantVat, () => "-"),
      m.scopes.join(" "),
      iso(m.accessTokenExpiresAt),
      iso(m.refreshedAt)
    ])
    const header = ["merchant", "vat", "scopes", "access token expires", "refreshed"]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
    for (const row of [header, ...rows]) {
      yield* Console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "))
    }
  }).pipe(Effect.provide(integration))
).pipe(Command.withDescription("List stored merchant grants: ids, scopes, expiries (never secrets)."))

const store = group("store", " store").pipe(
  Command.withDescription("The token store."),
  Command.withSubcommands([storeList])
)

const keyId = Options.text("id").pipe(
  Options.withDefault("k1"),
  Options.withDescription("the key's id, written before it (default k1; use a new id to rotate)")
)

const keygen = Command.make("keygen", { id: keyId }, ({ id }) =>
  Effect.gen(function* () {
    const key = yield* TokenCipher.generateKey
    yield* Console.log(`MOBILEPAY_ENCRYPTION_KEYS=${id}:${Redacted.value(key)}`)
  })
).pipe(
  Command.withDescription(
    "Print a new AES-256 key for MOBILEPAY_ENCRYPTION_KEYS (keep it secret; prepend new keys to rotate)."
  )
)

// What the integration reads, for `--help` (docs/getting-started.md describes each).
const environmentVariables = [
  "MOBILEPAY_ENVIRONMENT",
  "MOBILEPAY_CLIENT_ID",
  "MOBILEPAY_CLIENT_SECRET",
  "MOBILEPAY_INTEGRATOR_CLIENT_ID",
  "MOBILEPAY_INTEGRATOR_CLIENT_SECRET",
  "MOBILEPAY_REDIRECT_URI",
  "MOBILEPAY_SCOPES",
  "MOBILEPAY_ENCRYPTION_KEYS",
  "MOBILEPAY_DATA_DIR",
  "MOBILEPAY_GATEWAY_CLIENT_ID",
  "MOBILEPAY_GATEWAY_CLIENT_SECRET",
  "MOBILEPAY_CLIENT_SYSTEM_VERSION",
  "MOBILEPAY_CLIENT_AUTHENTICATION",
  "MOBILEPAY_REQUEST_TIMEOUT",
  "MOBILEPAY_SEND_VERIFIER_ON_REFRESH",
  "MOBILEPAY_DISCOVERY_URL",
  "MOBILEPAY_ISSUER",
  "MOBILEPAY_INTEGRATOR_TOKEN_URL",
  "MOBILEPAY_INTEGRATOR_ISSUER",
  "MOBILEPAY_API_BASE_URL",
  "MOBILEPAY_ALLOW_INSECURE_LOOPBACK",
  "VIPPS_* (token vipps)"
]

const root = group("mobilepay-auth", "").pipe(
  Command.withDescription(
    "MobilePay authentication: tokens, consent, revocation, and an offline sandbox. Exit codes: 0 ok, 1 failure, 2 usage or configuration, 3 consent required, 4 credentials rejected, 5 unavailable. " +
      `Environment variables: ${environmentVariables.join(", ")} (see docs/getting-started.md). ` +
      "Logs (--log-level) go to stderr; for --json output under pnpm, run `pnpm --silent mobilepay-auth`. NO_COLOR turns colours off."
  ),
  Command.withSubcommands([demo, SandboxCommand.command, token, consentCommand, revoke, store, keygen])
)

/**
 * Runs the command line; failures print one line with a hint and set the exit code.
 *
 * @since 0.1.0
 * @category programs
 */
export const cli = (argv: ReadonlyArray<string>) =>
  Command.run(root, { name: "mobilepay-auth", version: "0.1.0" })(argv).pipe(
    Effect.provide(Ui.stderrLogger),
    Effect.catchAllCause((cause) =>
      Effect.gen(function* () {
        const failure = Option.getOrUndefined(Cause.failureOption(cause))
        // @effect/cli has printed its own help and message for usage errors.
        if (ValidationError.isValidationError(failure)) {
          process.exitCode = ValidationError.isHelpRequested(failure) ? Ui.ExitCode.ok : Ui.ExitCode.usage
          return
        }
        process.exitCode = yield* Ui.reportFailure(cause)
      })
    ),
    (program) =>
      Effect.consoleWith((console) =>
        Effect.withConsole(
          program,
          Ui.plainConsole(console, { out: Ui.colours(process.stdout), err: Ui.colours(process.stderr) })
        )
      )
  )
