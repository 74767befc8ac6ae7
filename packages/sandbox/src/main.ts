/**
 * Runs the offline sandbox as a process: `npx tsx packages/sandbox/src/main.ts` (the CLI's
 * `mobilepay-auth sandbox` does the same with flags). Reads `HOST` (default 127.0.0.1), `PORT`
 * (default 8700) and `HTTPS` (`true` for a generated self-signed certificate, printed at
 * start); Ctrl-C stops it.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect } from "effect"
import { defaults } from "./Options.js"
import { layer, Sandbox } from "./Sandbox.js"

const loopback = new Set(["127.0.0.1", "::1", "localhost"])

const program = Effect.gen(function* () {
  const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
  const port = yield* Config.integer("PORT").pipe(
    Config.validate({
      message: "a port, 0 to 65535 (0: any free port)",
      validation: (n) => n >= 0 && n <= 65535
    }),
    Config.withDefault(8700)
  )
  const https = yield* Config.boolean("HTTPS").pipe(Config.withDefault(false))
  if (!loopback.has(host)) {
    return yield* Effect.fail(`HOST=${host}: the sandbox serves on loopback only (127.0.0.1, ::1, localhost)`)
  }
  return yield* Effect.gen(function* () {
    const sandbox = yield* Sandbox
    const client = defaults.merchantClient
    const integrator = defaults.integratorClient
    yield* Console.log(
      [
        `MobilePay sandbox (offline) on ${sandbox.baseUrl}`,
        `  discovery          ${sandbox.discoveryUrl}`,
        `  issuer             ${sandbox.issuer}`,
        `  integrator issuer  ${sandbox.integratorIssuer}`,
        `  merchant token     ${sandbox.merchantTokenUrl}`,
        `  integrator token   ${sandbox.integratorTokenUrl}`,
        `  merchant client    ${client.clientId} / ${client.clientSecret} (${client.rotation} rotation)`,
        `                     redirect URIs ${client.redirectUris.join(", ")}`,
        `  integrator client  ${integrator.clientId} / ${integrator.clientSecret}`,
        `  merchants          ${defaults.merchants.map((m) => `${m.vat} (${m.name})`).join(", ")}`,
        ...(sandbox.certificate === undefined
          ? []
          : ["Trust this certificate (and only it):", sandbox.certificate]),
        "Ctrl-C stops it."
      ].join("\n")
    )
    return yield* Effect.never
  }).pipe(Effect.provide(layer({ host, port, https })))
})

NodeRuntime.runMain(program)
