/**
 * The merchant-consent stack for tests: the one layer on an in-memory store (so a random
 * sealing key), over whatever `HttpClient` the test gives, without retries.
 */
import type { Environment } from "@mobilepay-auth/domain"
import { type HttpClient } from "@effect/platform"
import { Layer, Redacted } from "effect"
import * as MobilePay from "../../src/MobilePay.js"
import * as TokenStore from "../../src/TokenStore.js"

export interface StackOptions {
  readonly environment: Environment.Environment
  readonly clientId: string
  readonly clientSecret?: string
  readonly redirectUri: string
  readonly sendVerifierOnRefresh?: boolean
  readonly scopes?: ReadonlyArray<
    "subscriptions" | "invoice" | "transactionreporting" | "merchantpayments" | "webhooks"
  >
}

export const stack = (http: Layer.Layer<HttpClient.HttpClient>, options: StackOptions) =>
  MobilePay.layer({
    environment: options.environment,
    clientId: options.clientId,
    clientSecret: Redacted.make(options.clientSecret ?? "secret"),
    redirectUri: options.redirectUri,
    scopes: options.scopes ?? ["invoice", "subscriptions"],
    sendVerifierOnRefresh: options.sendVerifierOnRefresh ?? true,
    http: { maxRetries: 0 }
  }).pipe(Layer.provideMerge(TokenStore.layerMemory), Layer.provide(http), Layer.orDie)
