/**
 * TLS against the sandbox's `https` mode: with no insecure-loopback allowance, a client that
 * trusts the sandbox's generated certificate gets tokens; one that trusts only the usual roots
 * is refused at the handshake, gets `Transport` with reason `tls`, and does not retry.
 */
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Layer } from "effect"
import * as IntegratorAuth from "../src/IntegratorAuth.js"
import { integratorStack } from "./utils/sandboxStack.js"

/** Counts the requests the base client is asked to send (retries included). */
const counted = <R>(base: Layer.Layer<HttpClient.HttpClient, never, R>, counter: { sent: number }) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.tapRequest(client, () => Effect.sync(() => void counter.sent++))
    )
  ).pipe(Layer.provide(base))

/** Node's client with an agent that trusts the sandbox's certificate and nothing else. */
const trustingSandbox = Layer.unwrapEffect(
  Effect.map(Sandbox.Sandbox, (sandbox) =>
    NodeHttpClient.layerWithoutAgent.pipe(
      Layer.provide(NodeHttpClient.makeAgentLayer({ ca: sandbox.certificate ?? "" }))
    )
  )
)

const stack = (client: Layer.Layer<HttpClient.HttpClient, never, Sandbox.Sandbox>) =>
  integratorStack({ sandbox: { https: true }, client })

describe("TLS to the sandbox (https: true)", () => {
  it.scoped("a client that trusts its certificate gets a token over https", () => {
    const counter = { sent: 0 }
    return Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      expect(sandbox.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
      expect(sandbox.environment.allowInsecureLoopback).toBe(false)
      const auth = yield* IntegratorAuth.IntegratorAuth
      const token = yield* auth.accessToken()
      expect(token.tokenType).toBe("Bearer")
      expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      expect(counter.sent).toBe(1)
    }).pipe(Effect.provide(stack(counted(trustingSandbox, counter))))
  })

  it.scoped("a client that trusts only the usual roots: Transport(tls), one attempt, nothing sent", () => {
    const counter = { sent: 0 }
    return Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      const auth = yield* IntegratorAuth.IntegratorAuth
      const error = yield* Effect.flip(auth.accessToken())
      expect(error).toMatchObject({ _tag: "Transport", reason: "tls" })
      expect(counter.sent).toBe(1)
      expect(yield* sandbox.requestCount("integratorToken")).toBe(0)
    }).pipe(Effect.provide(stack(counted(FetchHttpClient.layer, counter))))
  })
})
