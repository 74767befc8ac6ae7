import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as jose from "jose"
import * as Flow from "./flow.js"

describe("front-channel ID token", () => {
  it.effect("verifies against the JWKS (RS256, kid) and binds the code with c_hash", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox, { nonce: "n-jwks" })
        const jwks = jose.createLocalJWKSet(JSON.parse((yield* Flow.http(sandbox.jwksUrl)).text))
        const { payload, protectedHeader } = yield* Effect.promise(() =>
          jose.jwtVerify(params?.id_token ?? "", jwks, {
            issuer: sandbox.issuer,
            audience: Flow.CLIENT.id,
            currentDate: new Date(0) // the test's clock
          })
        )
        expect(protectedHeader).toMatchObject({ alg: "RS256", kid: "sandbox-key-1" })
        const digest = new Uint8Array(
          yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(params?.code)))
        )
        expect(payload.c_hash).toBe(Buffer.from(digest.slice(0, 16)).toString("base64url"))
        expect(payload.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        expect(payload).toMatchObject({ nonce: "n-jwks", auth_time: 0, iat: 0, exp: 300 })
      })
    )
  )
})

describe("authorize quirks", () => {
  it.effect("singleUseNonce: false lets a nonce be used again", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const first = yield* Flow.consent(sandbox, { nonce: "again" })
          const second = yield* Flow.consent(sandbox, { nonce: "again" })
          expect(first.params?.code).toBeTruthy()
          expect(second.params?.code).toBeTruthy()
        }),
      { quirks: { singleUseNonce: false } }
    )
  )

  it.effect("a login form without a user name or password shows the login page again", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const page = yield* Flow.http(Flow.authorizeUrl(sandbox))
        const request = /name="request" value="([^"]*)"/.exec(page.text)?.[1] ?? ""
        const again = yield* Flow.http(
          `${sandbox.baseUrl}/account/login`,
          Flow.form({ request, username: "", password: "" })
        )
        expect(again.text).toContain('action="/account/login"')
        const unknown = yield* Flow.http(
          `${sandbox.baseUrl}/account/consent`,
          Flow.form({ request: "forged", decision: "allow" })
        )
        expect(unknown.status).toBe(400)
        expect(unknown.headers.get("location")).toBeNull()
      })
    )
  )
})

describe("authorize", () => {
  it.effect(
    "form_post: login and consent pages, then an auto-submitting form with code, id_token and state",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const state = "the-state"
          const result = yield* Flow.consent(sandbox, { state, nonce: "n-1" })
          expect(result.page.text).toContain('name="decision" value="allow"')
          expect(result.params?.state).toBe(state)
          expect(result.params?.code).toBeTruthy()
          const idToken = Flow.jwtPayload(result.params?.id_token ?? "")
          expect(idToken).toMatchObject({ iss: sandbox.issuer, aud: Flow.CLIENT.id, nonce: "n-1" })
          expect(typeof idToken.c_hash).toBe("string")
          expect(typeof idToken.sub).toBe("string")
        })
      )
  )

  it.effect("fragment: a 302 to the redirect URI with the parameters in the fragment", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const result = yield* Flow.consent(sandbox, { response_mode: "fragment" })
        expect(result.status).toBe(302)
        expect(result.location?.startsWith(`${Flow.REDIRECT}#`)).toBe(true)
        expect(result.params?.code).toBeTruthy()
        expect(result.params?.id_token).toBeTruthy()
      })
    )
  )

  it.effect("an unknown redirect URI or client gets a vague page, never a redirect", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        for (const overrides of [{ redirect_uri: "https://evil.example/cb" }, { client_id: "nobody" }]) {
          const page = yield* Flow.http(Flow.authorizeUrl(sandbox, overrides))
          expect(page.status).toBe(400)
          expect(page.headers.get("location")).toBeNull()
          expect(page.text).toContain("Something went wrong")
          expect(page.text).not.toContain("evil.example")
        }
      })
    )
  )

  it.effect("rejections go back to the registered redirect URI with an error", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const cases: Array<[Record<string, string | undefined>, string]> = [
          [{ code_challenge: undefined }, "invalid_request"],
          [{ code_challenge_method: "plain" }, "invalid_request"],
          [{ response_type: "code" }, "unsupported_response_type"],
          [{ scope: "offline_access invoice" }, "invalid_scope"],
          [{ scope: "openid offline_access payroll" }, "invalid_scope"],
          [{ merchant_vat: "DK123" }, "invalid_request"],
          [{ nonce: undefined }, "invalid_request"]
        ]
        for (const [overrides, error] of cases) {
          const page = yield* Flow.http(
            Flow.authorizeUrl(sandbox, { ...overrides, response_mode: "fragment" })
          )
          expect(page.status).toBe(302)
          expect(
            new URLSearchParams(new URL(page.headers.get("location") ?? "").hash.slice(1)).get("error")
          ).toBe(error)
        }
      })
    )
  )

  it.effect("a nonce is single use", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const first = yield* Flow.consent(sandbox, { nonce: "once", response_mode: "fragment" })
        expect(first.params?.code).toBeTruthy()
        const again = yield* Flow.http(
          Flow.authorizeUrl(sandbox, { nonce: "once", response_mode: "fragment" })
        )
        expect(
          new URLSearchParams(new URL(again.headers.get("location") ?? "").hash.slice(1)).get("error")
        ).toBe("invalid_request")
      })
    )
  )

  it.effect("deny sends access_denied back", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const result = yield* Flow.consent(sandbox, {}, "deny")
        expect(result.params?.error).toBe("access_denied")
        expect(result.params?.code).toBeUndefined()
      })
    )
  )
})
