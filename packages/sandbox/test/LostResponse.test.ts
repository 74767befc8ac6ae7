/**
 * The `loseResponse` fault: the token endpoint does its work (issues tokens, spends a one-time
 * refresh token) and then the connection dies, so the client never hears. That is the failure a
 * real provider can inflict and the other faults (which act before the handler) cannot.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Faults from "../src/Faults.js"
import * as Flow from "./flow.js"

const refreshFails = (sandbox: Parameters<Parameters<typeof Flow.withSandbox>[0]>[0], refreshToken: string) =>
  Effect.map(
    Effect.either(
      Effect.tryPromise(() =>
        fetch(
          sandbox.merchantTokenUrl,
          Flow.form({
            grant_type: "refresh_token",
            refresh_token: refreshToken,
            client_id: Flow.CLIENT.id,
            client_secret: Flow.CLIENT.secret
          })
        )
      )
    ),
    Either.isLeft
  )

describe("fault: lose-response", () => {
  it("parses from the one-line form", () => {
    expect(Faults.parse("merchantToken:lose-response,times=1")).toEqual(
      Either.right({ endpoint: "merchantToken", fault: { loseResponse: true, times: 1 } })
    )
  })

  it.live("one-time rotation: the refresh token is spent although the client never got the answer", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
        yield* sandbox.setFault("merchantToken", { loseResponse: true, times: 1 })
        // The connection dies: no status, no body.
        expect(yield* refreshFails(sandbox, String(first.refresh_token))).toBe(true)
        // The rotation happened: the refresh token the client still holds is spent.
        const retry = yield* Flow.refresh(sandbox, String(first.refresh_token))
        expect(retry.json.error).toBe("invalid_grant")
        expect(yield* sandbox.requestCount("merchantToken")).toBe(3)
      })
    )
  )

  it.live("reuse rotation: the same loss costs nothing, the refresh token still works", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
          yield* sandbox.setFault("merchantToken", { loseResponse: true, times: 1 })
          expect(yield* refreshFails(sandbox, String(first.refresh_token))).toBe(true)
          expect((yield* Flow.refresh(sandbox, String(first.refresh_token))).status).toBe(200)
        }),
      {
        merchantClients: [
          {
            clientId: Flow.CLIENT.id,
            clientSecret: Flow.CLIENT.secret,
            redirectUris: [Flow.REDIRECT],
            scopes: ["invoice"],
            rotation: "reuse"
          }
        ]
      }
    )
  )
})
