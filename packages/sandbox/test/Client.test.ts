/**
 * `Sandbox.Service.client`: requests handed to the sandbox in the caller's fiber. The sandbox then
 * reads the caller's clock, so a test clock moves token expiry on both sides.
 */
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Stream, TestClock } from "effect"
import type { Sandbox } from "../src/Sandbox.js"
import * as Flow from "./flow.js"

const integratorToken = (sandbox: Sandbox.Service) =>
  Effect.gen(function* () {
    const response = yield* sandbox.client.execute(
      HttpClientRequest.post(sandbox.integratorTokenUrl).pipe(
        HttpClientRequest.setHeader(
          "authorization",
          Flow.basic("sandbox-integrator-client", "sandbox-integrator-secret")
        ),
        HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials", merchant_vat: "DK12345678" })
      )
    )
    expect(response.status).toBe(200)
    const body = (yield* response.json) as { access_token: string; expires_in: number }
    return body
  })

const payment = (sandbox: Sandbox.Service, token: string, key: string, amount: number) =>
  Effect.flatMap(
    sandbox.client.execute(
      HttpClientRequest.post(`${sandbox.baseUrl}/pos/v10/payments`).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.setHeader("x-mobilepay-client-system-version", "1.0.0"),
        HttpClientRequest.setHeader("x-mobilepay-idempotency-key", key),
        HttpClientRequest.bodyUnsafeJson({ amount })
      )
    ),
    (response) => Effect.map(response.text, (text) => ({ status: response.status, text }))
  )

describe("Sandbox client (in process)", () => {
  it.effect("speaks the same protocol as the server: token, API call, idempotency, counters", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const discovery = yield* sandbox.client.execute(HttpClientRequest.get(sandbox.discoveryUrl))
        expect(yield* discovery.json).toMatchObject({ issuer: sandbox.issuer })
        const token = yield* integratorToken(sandbox)
        expect(token.expires_in).toBe(3700)
        const first = yield* payment(sandbox, token.access_token, "key-1", 100)
        expect(first.status).toBe(200)
        // Same key, same answer, even with another body.
        expect(yield* payment(sandbox, token.access_token, "key-1", 999)).toEqual(first)
        expect((yield* payment(sandbox, "not-a-jwt", "key-2", 100)).status).toBe(401)
        expect(yield* sandbox.requestCount("discovery")).toBe(1)
        expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
        expect(yield* sandbox.requestCount("api")).toBe(3)
      })
    )
  )

  it.effect("a streamed body arrives whole; a GET with a body is refused as the client's error", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const form = new TextEncoder().encode("grant_type=client_credentials&merchant_vat=DK12345678")
        const streamed = yield* sandbox.client.execute(
          HttpClientRequest.post(sandbox.integratorTokenUrl).pipe(
            HttpClientRequest.setHeader(
              "authorization",
              Flow.basic("sandbox-integrator-client", "sandbox-integrator-secret")
            ),
            HttpClientRequest.bodyStream(Stream.make(form.slice(0, 10), form.slice(10)), {
              contentType: "application/x-www-form-urlencoded"
            })
          )
        )
        expect(streamed.status).toBe(200)
        expect(yield* streamed.json).toMatchObject({ token_type: "Bearer", expires_in: 3700 })

        const getWithBody = yield* Effect.either(
          sandbox.client.execute(
            HttpClientRequest.get(sandbox.discoveryUrl).pipe(HttpClientRequest.bodyText("x"))
          )
        )
        expect(Either.isLeft(getWithBody) && getWithBody.left.reason).toBe("Encode")
      })
    )
  )

  it.effect("runs on the caller's clock: a token expires when the test clock says so", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const token = yield* integratorToken(sandbox)
        yield* TestClock.adjust("3699 seconds")
        expect((yield* payment(sandbox, token.access_token, "a", 1)).status).toBe(200)
        yield* TestClock.adjust("2 seconds")
        expect((yield* payment(sandbox, token.access_token, "b", 1)).status).toBe(401)
      })
    )
  )

  it.effect("a dropped connection and a foreign origin are transport errors; nothing leaves", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        yield* sandbox.setFault("jwks", { dropConnection: true })
        const dropped = yield* Effect.either(sandbox.client.execute(HttpClientRequest.get(sandbox.jwksUrl)))
        expect(Either.isLeft(dropped) && dropped.left._tag).toBe("RequestError")
        expect(Either.isLeft(dropped) && dropped.left.reason).toBe("Transport")
        expect(yield* sandbox.requestCount("jwks")).toBe(1)

        const port = Number(new URL(sandbox.baseUrl).port)
        const foreign = yield* Effect.either(
          sandbox.client.execute(
            HttpClientRequest.get(`http://127.0.0.1:${port === 1 ? 2 : port - 1}/api/merchants/me`)
          )
        )
        expect(Either.isLeft(foreign) && foreign.left.message).toContain("is not the sandbox")
        expect(yield* sandbox.requestCount("api")).toBe(0)
      })
    )
  )
})
