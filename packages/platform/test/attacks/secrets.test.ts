/**
 * Attacks on secrets (RFC 9700 §4.14; MobilePay: keep the client secret secret): every output a
 * caller sees (errors, stored grants as they are inspected or serialised) is searched for the
 * secrets the flow handled, including ones a hostile server echoes back.
 */
import { inspect } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TokenManager from "../../src/TokenManager.js"
import * as Hostile from "./hostile.js"

const outputs = (value: unknown) => [String(value), JSON.stringify(value), inspect(value, { depth: 12 })]

describe("attacks: secrets", () => {
  it.scopedLive("the code_verifier is Redacted in a stored grant: not in inspect, JSON or String", () =>
    Effect.gen(function* () {
      const hostile = yield* Hostile.make
      return yield* Effect.gen(function* () {
        const { request, service } = yield* Hostile.consent(hostile)
        const done = yield* service.complete(request)
        const verifier = new URLSearchParams(hostile.received.find((r) => r.path === "/token")?.body).get(
          "code_verifier"
        )
        expect(verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/)
        const manager = yield* TokenManager.TokenManager
        const stored = Option.getOrThrow(
          yield* manager.stored(`merchant:${Hostile.clientId}:${done.merchant}`)
        )
        for (const output of outputs(stored)) expect(output).not.toContain(verifier)
        for (const output of outputs(stored.attributes)) expect(output).not.toContain(verifier)
      }).pipe(Effect.provide(Hostile.stack(hostile)))
    })
  )

  it.scopedLive(
    "a client secret a server echoes in error_description is scrubbed by value, however short",
    () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.routes = {
            "/token": (request) => ({
              status: 400,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                error: "invalid_client",
                error_description: `unknown client secret ${Hostile.clientSecret} (${encodeURIComponent(Hostile.clientSecret)}); got ${request.body}`
              })
            })
          }
          const { request, service } = yield* Hostile.consent(hostile)
          const error = yield* Effect.flip(service.complete(request))
          expect(error._tag).toBe("InvalidClient")
          const verifier = new URLSearchParams(hostile.received.find((r) => r.path === "/token")?.body).get(
            "code_verifier"
          )
          for (const output of [...outputs(error), error.message]) {
            expect(output).not.toContain(Hostile.clientSecret)
            expect(output).not.toContain(verifier ?? "no verifier")
          }
          expect(error.message).toContain("<redacted>")
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
  )
})
