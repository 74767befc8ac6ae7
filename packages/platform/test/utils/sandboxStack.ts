/**
 * The platform stack pointed at an in-process sandbox, for tests over real loopback HTTP.
 * Build it inside the test so sandbox and client share the test's Clock.
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import type { Environment } from "@mobilepay-auth/domain"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Layer, Redacted } from "effect"
import * as MobilePay from "../../src/MobilePay.js"
import type * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as TokenStore from "../../src/TokenStore.js"

export const CLIENT_ID = "it-client"
export const CLIENT_SECRET = "it-client-secret-7f3a9c"

export interface Options {
  readonly sandbox?: Parameters<typeof Sandbox.layer>[0]
  readonly config?: Partial<MobilePayConfig.Options>
  readonly http?: MobilePay.Tuning["http"]
  readonly manager?: MobilePay.Tuning["tokenManager"]
  /** The HTTP client under AuthHttp (it may read the sandbox, e.g. its certificate); default `fetch`. */
  readonly client?: Layer.Layer<HttpClient.HttpClient, never, Sandbox.Sandbox>
}

/**
 * Every service (the one `MobilePay.layer`) on an in-memory store over `client`, for
 * `environment`; AuthHttp and TokenManager tuning from `options`.
 */
export const platformStack = <E, R>(
  environment: Environment.Environment,
  client: Layer.Layer<HttpClient.HttpClient, E, R>,
  options: Omit<Options, "sandbox" | "client"> = {}
) =>
  MobilePay.layer({
    environment,
    clientId: CLIENT_ID,
    clientSecret: Redacted.make(CLIENT_SECRET),
    clientSystemVersion: "2.3.4",
    ...options.config,
    ...(options.http === undefined ? {} : { http: options.http }),
    ...(options.manager === undefined ? {} : { tokenManager: options.manager })
  }).pipe(Layer.provideMerge(TokenStore.layerMemory), Layer.provide(client), Layer.orDie)

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
