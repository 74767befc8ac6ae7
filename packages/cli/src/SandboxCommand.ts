/**
 * `mobilepay-auth sandbox`: the offline sandbox as a process, every knob reachable without code.
 * Each flag falls back to a `MOBILEPAY_SANDBOX_*` environment variable, then to the default its
 * help names; the printout lists everything a client needs, and `--dotenv FILE` writes it as a
 * dotenv file the other commands can load in one line.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { HttpServerError } from "@effect/platform"
import { SecureRandom } from "@mobilepay-auth/domain"
import { TokenCipher } from "@mobilepay-auth/platform"
import { defaults, Sandbox } from "@mobilepay-auth/sandbox"
import { Console, Data, Effect, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { flags, type Settings, settingsOf, usage } from "./internal/sandboxSettings.js"

/** The sandbox's certificate in a file of its own for as long as it serves (NODE_EXTRA_CA_CERTS). */
const certificateFile = (pem: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-sandbox-"))
      const file = Path.join(dir, "sandbox-ca.pem")
      Fs.writeFileSync(file, pem)
      return { dir, file }
    }),
    ({ dir }) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** The key an env file already holds, so a restart keeps a store's tokens readable. */
const existingKey = (file: string) => {
  try {
    return /^MOBILEPAY_ENCRYPTION_KEYS=(\S+)$/m.exec(Fs.readFileSync(file, "utf8"))?.[1]
  } catch {
    return undefined
  }
}

const clientSettings = (
  sb: Sandbox.Sandbox.Service,
  settings: Settings,
  trust: readonly [string, string]
): ReadonlyArray<readonly [string, string]> => {
  const gateway = settings.options.gateway
  return [
    ["MOBILEPAY_ENVIRONMENT", "custom"],
    trust,
    ["MOBILEPAY_DISCOVERY_URL", sb.discoveryUrl],
    ["MOBILEPAY_ISSUER", sb.issuer],
    ["MOBILEPAY_INTEGRATOR_TOKEN_URL", sb.integratorTokenUrl],
    ["MOBILEPAY_INTEGRATOR_ISSUER", sb.integratorIssuer],
    ["MOBILEPAY_API_BASE_URL", sb.baseUrl],
    ...(gateway === undefined
      ? []
      : [
          ["MOBILEPAY_GATEWAY_CLIENT_ID", gateway.clientId] as const,
          ["MOBILEPAY_GATEWAY_CLIENT_SECRET", gateway.clientSecret ?? ""] as const
        ]),
    ["MOBILEPAY_CLIENT_ID", settings.merchantClient.clientId],
    ["MOBILEPAY_CLIENT_SECRET", settings.merchantClient.clientSecret],
    ["MOBILEPAY_REDIRECT_URI", settings.merchantClient.redirectUris[0] ?? ""],
    ["MOBILEPAY_SCOPES", "invoice"],
    // The PoS client on its own, for configurations that read integrator credentials apart.
    ["MOBILEPAY_INTEGRATOR_CLIENT_ID", defaults.integratorClient.clientId],
    ["MOBILEPAY_INTEGRATOR_CLIENT_SECRET", defaults.integratorClient.clientSecret]
  ]
}

const writeEnvFile = (
  file: string,
  sb: Sandbox.Sandbox.Service,
  pairs: ReadonlyArray<readonly [string, string]>
) =>
  Effect.gen(function* () {
    const key =
      existingKey(file) ??
      `k1:${Redacted.value(yield* Effect.provide(TokenCipher.generateKey, SecureRandom.layerWebCrypto))}`
    const lines = [
      `# mobilepay-auth sandbox on ${sb.baseUrl}; load with: set -a; . ${file}; set +a`,
      ...pairs.map(([k, v]) => `${k}=${v}`),
      "# the token store's key (sandbox use only; kept when the file is written again)",
      `MOBILEPAY_ENCRYPTION_KEYS=${key}`
    ]
    yield* Effect.try({
      try: () => Fs.writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 }),
      catch: (cause) =>
        usage("env_file", `cannot write ${file}: ${cause instanceof Error ? cause.message : String(cause)}`)
    })
  })

const printout = (sb: Sandbox.Sandbox.Service, settings: Settings, envLines: ReadonlyArray<string>) => {
  const o = settings.options
  const client = settings.merchantClient
  const quirks = Object.entries(o.quirks ?? {})
  return [
    `MobilePay sandbox (offline) on ${sb.baseUrl}`,
    `  discovery          ${sb.discoveryUrl}`,
    `                     ${sb.baseUrl}/merchant-authentication-openidconnect/.well-known/openid-configuration`,
    `  issuer             ${sb.issuer} (not the discovery URL, as MobilePay's)`,
    `  authorize          ${sb.authorizeUrl}`,
    `  merchant token     ${sb.merchantTokenUrl}`,
    `  revocation         ${sb.revocationUrl}`,
    `  integrator token   ${sb.integratorTokenUrl} (issuer ${sb.integratorIssuer})`,
    `  API                GET ${sb.baseUrl}/api/merchants/me (merchant consent tokens)`,
    `                     POST ${sb.baseUrl}/pos/v10/payments, GET .../pos/v10/payments/{id} (integrator tokens)`,
    o.gateway === undefined
      ? "  gateway keys       not required"
      : `  gateway keys       x-ibm-client-id: ${o.gateway.clientId}, x-ibm-client-secret: ${o.gateway.clientSecret ?? "-"} (required on API calls)`,
    `  admin              ${sb.baseUrl}/admin (clock, consent, faults, counters; see docs/sandbox.md)`,
    "",
    "Clients (sandbox only):",
    `  merchant consent   ${client.clientId} / ${client.clientSecret}, rotation ${client.rotation}${client.requireVerifierOnRefresh === true ? ", code_verifier required on refresh" : ""}`,
    `                     scopes openid offline_access ${client.scopes.join(" ")}`,
    ...client.redirectUris.map((uri) => `                     redirect URI ${uri}`),
    `  integrator         ${defaults.integratorClient.clientId} / ${defaults.integratorClient.clientSecret} (and the merchant client's credentials)`,
    "Merchants (log in with a VAT as the user name to act for that merchant alone):",
    ...(o.merchants ?? defaults.merchants).map((m) => `  ${m.vat}  ${m.merchantId}  ${m.name}`),
    "  and any other well-formed DK or FI VAT",
    `Lifetimes: access token ${o.accessTokenLifetime} s, integrator token ${o.integratorTokenLifetime} s, refresh token ${o.refreshTokenLifetime} s (sliding), code ${o.codeLifetime} s; clock +${o.clockOffset} s`,
    `Quirks: ${quirks.length === 0 ? "defaults (single-use nonce)" : quirks.map(([k, v]) => `${k}=${String(v)}`).join(", ")}`,
    `Faults: ${settings.faults.length === 0 ? "none" : settings.faults.map((f) => `${f.endpoint} ${JSON.stringify(f.fault)}`).join("; ")}`,
    "The login page accepts any user name and password.",
    "",
    ...envLines,
    "Ctrl-C stops it."
  ].join("\n")
}

/**
 * The port the sandbox was asked to listen on is taken.
 *
 * @since 0.1.0
 * @category errors
 */
export class PortInUse extends Data.TaggedError("PortInUse")<{
  readonly host: string
  readonly port: number
}> {
  override get message() {
    return `${this.host}:${this.port} is already in use (another sandbox?)`
  }
}

/** A busy port is one line with a hint (the CLI's hints), not a stack trace. */
const portInUse = (host: string, port: number) => (defect: unknown) => {
  const busy =
    HttpServerError.isServerError(defect) &&
    defect._tag === "ServeError" &&
    typeof defect.cause === "object" &&
    defect.cause !== null &&
    "code" in defect.cause &&
    defect.cause.code === "EADDRINUSE"
  return busy ? Effect.fail(new PortInUse({ host, port })) : Effect.die(defect)
}

/**
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("sandbox", flags, (f) =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(f)
    const serve = Effect.gen(function* () {
      const sb = yield* Sandbox.Sandbox
      yield* Effect.forEach(settings.faults, ({ endpoint, fault }) => sb.setFault(endpoint, fault))
      const trust: readonly [string, string] =
        sb.certificate === undefined
          ? ["MOBILEPAY_ALLOW_INSECURE_LOOPBACK", "true"]
          : ["NODE_EXTRA_CA_CERTS", (yield* certificateFile(sb.certificate)).file]
      const pairs = clientSettings(sb, settings, trust)
      const envLines = Option.isSome(settings.envFile)
        ? yield* Effect.as(writeEnvFile(settings.envFile.value, sb, pairs), [
            `Client settings written to ${settings.envFile.value}; load them with:`,
            `  set -a; . ${settings.envFile.value}; set +a`
          ])
        : [
            "Point mobilepay-auth at it (or write these to a file with --dotenv FILE):",
            ...pairs.map(([k, v]) => `  export ${k}=${v}`),
            '  eval "$(mobilepay-auth keygen)" && export MOBILEPAY_ENCRYPTION_KEYS'
          ]
      yield* Console.log(printout(sb, settings, envLines))
      return yield* Effect.never
    })
    return yield* serve.pipe(
      Effect.scoped,
      Effect.provide(Sandbox.layer(settings.options)),
      Effect.catchAllDefect(portInUse(settings.options.host ?? "127.0.0.1", settings.options.port ?? 8700))
    )
  })
).pipe(Command.withDescription("Serve the offline MobilePay sandbox on loopback and print its settings."))
