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

  it.effect(
    "a malformed request for a registered redirect URI gets the vague page, no redirect, no detail",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const cases: Array<Record<string, string | undefined>> = [
            { code_challenge: undefined },
            { code_challenge_method: "plain" },
            { code_challenge: "abc" }, // not the 43 characters of an S256 challenge
            { response_type: "code" },
            { response_mode: "query" },
            { state: undefined },
            { nonce: undefined },
            { scope: "offline_access invoice" },
            { scope: "openid offline_access payroll" },
            { merchant_vat: "DK123" },
            { prompt: "none login" },
            { prompt: "sideways" }
          ]
          for (const overrides of cases) {
            const page = yield* Flow.http(
              Flow.authorizeUrl(sandbox, { response_mode: "fragment", ...overrides })
            )
            expect({ overrides, status: page.status, location: page.headers.get("location") }).toEqual({
              overrides,
              status: 400,
              location: null
            })
            expect(page.text).toContain("Something went wrong")
            expect(page.text).not.toMatch(/error_description|PKCE|nonce|scope|merchant_vat/i)
          }
        })
      )
  )

  it.effect("offline_access is required: without it, no login page and no refresh token", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const result = yield* Flow.consent(sandbox, { scope: "openid invoice" })
        expect(result.status).toBe(400)
        expect(result.params).toBeUndefined()
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
        expect(again.status).toBe(400)
        expect(again.headers.get("location")).toBeNull()
      })
    )
  )

  it.effect("a nonce is spent when it arrives, even by a request that fails", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const failed = yield* Flow.http(Flow.authorizeUrl(sandbox, { nonce: "spent", state: undefined }))
        expect(failed.status).toBe(400)
        const retried = yield* Flow.consent(sandbox, { nonce: "spent" })
        expect(retried.status).toBe(400)
        expect(retried.params).toBeUndefined()
        // Per client: another nonce works at once.
        expect((yield* Flow.consent(sandbox, { nonce: "fresh" })).params?.code).toBeTruthy()
      })
    )
  )

  it.effect("prompt=none answers login_required at the redirect URI (the sandbox keeps no session)", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const page = yield* Flow.http(
          Flow.authorizeUrl(sandbox, { prompt: "none", response_mode: "fragment", state: "s-none" })
        )
        expect(page.status).toBe(302)
        const params = new URLSearchParams(new URL(page.headers.get("location") ?? "").hash.slice(1))
        expect(Object.fromEntries(params)).toEqual({ error: "login_required", state: "s-none" })
        // prompt=login still shows the login page.
        expect((yield* Flow.consent(sandbox, { prompt: "login" })).params?.code).toBeTruthy()
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
