/**
 * Runs the offline sandbox as a process: `pnpm sandbox` (or `mobilepay-auth sandbox`).
 * Reads `HOST` (default 127.0.0.1) and `PORT` (default 8700); Ctrl-C stops it.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect } from "effect"
import { defaults } from "./Options.js"
import { layer, Sandbox } from "./Sandbox.js"

const program = Effect.gen(function* () {
  const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
  const port = yield* Config.integer("PORT").pipe(Config.withDefault(8700))
  return yield* Effect.gen(function* () {
    const sandbox = yield* Sandbox
    yield* Console.log(
      [
        `MobilePay sandbox (offline) on ${sandbox.baseUrl}`,
        `  discovery         ${sandbox.discoveryUrl}`,
        `  issuer            ${sandbox.issuer}`,
        `  integrator token  ${sandbox.integratorTokenUrl}`,
        `  merchant client   ${defaults.merchantClient.clientId} / ${defaults.merchantClient.clientSecret}`,
        `                    redirect URIs ${defaults.merchantClient.redirectUris.join(", ")}`,
        `  integrator client ${defaults.integratorClient.clientId} / ${defaults.integratorClient.clientSecret}`,
        `  merchants         ${defaults.merchants.map((m) => m.vat).join(", ")}`,
        "Ctrl-C stops it."
      ].join("\n")
    )
    return yield* Effect.never
  }).pipe(Effect.provide(layer({ host, port })))
})

NodeRuntime.runMain(program)
