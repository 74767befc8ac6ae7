/**
 * The platform stack pointed at an in-process sandbox, for tests over real loopback HTTP.
 * Build it inside the test so sandbox and client share the test's Clock.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { type Environment, SecureRandom } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Layer, Redacted } from "effect"
import * as AuthHttp from "../../src/AuthHttp.js"
import * as IntegratorAuth from "../../src/IntegratorAuth.js"
import * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as TokenManager from "../../src/TokenManager.js"
import * as TokenVault from "../../src/TokenVault.js"

export const CLIENT_ID = "it-client"
export const CLIENT_SECRET = "it-client-secret-7f3a9c"

export interface Options {
  readonly sandbox?: Parameters<typeof Sandbox.layer>[0]
  readonly config?: Partial<MobilePayConfig.Options>
  readonly http?: AuthHttp.Options
  readonly manager?: TokenManager.Options
  /** The HTTP client under AuthHttp (it may read the sandbox, e.g. its certificate); default `fetch`. */
  readonly client?: Layer.Layer<HttpClient.HttpClient, never, Sandbox.Sandbox>
}

/**
 * IntegratorAuth and everything below it (token manager, ephemeral vault, AuthHttp allowing
 * loopback http, config, WebCrypto) over `client`, for `environment`.
 */
export const platformStack = <E, R>(
  environment: Environment.Environment,
  client: Layer.Layer<HttpClient.HttpClient, E, R>,
  options: Omit<Options, "sandbox" | "client"> = {}
) =>
  IntegratorAuth.layer.pipe(
    Layer.provideMerge(TokenManager.layer(options.manager)),
    Layer.provideMerge(TokenVault.layerEphemeral),
    Layer.provideMerge(AuthHttp.layer({ allowInsecureLoopback: true, ...options.http })),
    Layer.provide(client),
    Layer.provideMerge(
      MobilePayConfig.layer({
        environment,
        clientId: CLIENT_ID,
        clientSecret: Redacted.make(CLIENT_SECRET),
        clientSystemVersion: "2.3.4",
        ...options.config
      })
    ),
    Layer.provideMerge(SecureRandom.layerWebCrypto)
  )

/** Sandbox + IntegratorAuth + everything below it, as one layer. */
export const integratorStack = (options: Options = {}) =>
  Layer.unwrapEffect(
    Effect.map(Sandbox.Sandbox, (sandbox) =>
      platformStack(
        sandbox.environment,
        Layer.provide(options.client ?? FetchHttpClient.layer, Layer.succeed(Sandbox.Sandbox, sandbox)),
        options
      )
    )
  ).pipe(
    Layer.provideMerge(
      Sandbox.layer({
        integratorClients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
        ...options.sandbox
      })
    )
  )
