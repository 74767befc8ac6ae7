import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Sandbox } from "../src/Sandbox.js"
import * as Flow from "./flow.js"

describe("merchant token endpoint rejections", () => {
  it.effect("redirect_uri must match the one authorized", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const response = yield* Flow.redeem(sandbox, params?.code ?? "", {
          redirect_uri: "http://localhost:8765/callback"
        })
        expect(response.status).toBe(400)
        expect(response.json.error).toBe("invalid_grant")
      })
    )
  )

  it.effect("a verifier shorter than 43 characters fails even when its S256 matches", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const short = "a".repeat(42)
        const { params } = yield* Flow.consent(sandbox, { code_challenge: yield* Flow.challengeOf(short) })
        const response = yield* Flow.redeem(sandbox, params?.code ?? "", { code_verifier: short })
        expect(response.json.error).toBe("invalid_grant")
      })
    )
  )

  it.effect("unsupported_grant_type, and invalid_client without credentials", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const password = yield* Flow.http(
          sandbox.merchantTokenUrl,
          Flow.form({ grant_type: "password", client_id: Flow.CLIENT.id, client_secret: Flow.CLIENT.secret })
        )
        expect(password.status).toBe(400)
        expect(JSON.parse(password.text).error).toBe("unsupported_grant_type")
        const anonymous = yield* Flow.http(
          sandbox.merchantTokenUrl,
          Flow.form({ grant_type: "refresh_token" })
        )
        expect(anonymous.status).toBe(401)
        expect(JSON.parse(anonymous.text).error).toBe("invalid_client")
        expect(anonymous.headers.get("cache-control")).toBe("no-store")
      })
    )
  )
})

describe("integrator token endpoint", () => {
  it.effect("quirk: the gateway client id may be required on the token call (pre-2022 docs)", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const without = yield* Flow.integratorToken(sandbox)
          expect(without.status).toBe(401)
          expect(JSON.parse(without.text).error).toBe("invalid_client")
          const withHeader = yield* Flow.integratorToken(sandbox, {}, { "x-ibm-client-id": "gw" })
          expect(withHeader.status).toBe(200)
        }),
      { gateway: { clientId: "gw" }, quirks: { integratorTokenRequiresGatewayClientId: true } }
    )
  )

  it.effect("a malformed merchant_vat is invalid_request; other grant types are unsupported", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const bad = yield* Flow.integratorToken(sandbox, { merchant_vat: "SE12345678" })
        expect(bad.status).toBe(400)
        expect(JSON.parse(bad.text).error).toBe("invalid_request")
        const grant = yield* Flow.integratorToken(sandbox, { grant_type: "authorization_code" })
        expect(JSON.parse(grant.text).error).toBe("unsupported_grant_type")
      })
    )
  )
})

describe("merchant token endpoint", () => {
  it.effect("redeems a code with PKCE: merchant-bound RS256 access token, refresh token, ID token", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox, { nonce: "n-2" })
        const response = yield* Flow.redeem(sandbox, params?.code ?? "")
        expect(response.status).toBe(200)
        expect(response.json).toMatchObject({ token_type: "Bearer", expires_in: 300 })
        const access = Flow.jwtPayload(String(response.json.access_token))
        expect(access.merchant_id).toBe("8c2c6d4e-1f0a-4d8e-9a51-1b3f0d6a7e01")
        const idToken = Flow.jwtPayload(String(response.json.id_token))
        expect(idToken).toMatchObject({
          nonce: "n-2",
          aud: Flow.CLIENT.id,
          sub: Flow.jwtPayload(params?.id_token ?? "").sub
        })
        expect(typeof response.json.refresh_token).toBe("string")
      })
    )
  )

  it.effect("client_secret_basic works; a wrong secret is invalid_client", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const wrong = yield* Flow.redeem(sandbox, params?.code ?? "", { client_secret: "nope" })
        expect(wrong.status).toBe(401)
        expect(wrong.json.error).toBe("invalid_client")
        const viaBasic = yield* Flow.http(sandbox.merchantTokenUrl, {
          ...Flow.form({
            grant_type: "authorization_code",
            code: params?.code ?? "",
            redirect_uri: Flow.REDIRECT,
            code_verifier: Flow.VERIFIER
          }),
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: Flow.basic(Flow.CLIENT.id, Flow.CLIENT.secret)
          }
        })
        expect(viaBasic.status).toBe(200)
      })
    )
  )

  it.effect("a wrong PKCE verifier is invalid_grant", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const response = yield* Flow.redeem(sandbox, params?.code ?? "", {
          code_verifier: "x".repeat(43)
        })
        expect(response.json.error).toBe("invalid_grant")
      })
    )
  )

  it.effect("a reused code is invalid_grant and revokes what it issued", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const first = yield* Flow.redeem(sandbox, params?.code ?? "")
        expect(first.status).toBe(200)
        const replay = yield* Flow.redeem(sandbox, params?.code ?? "")
        expect(replay.json.error).toBe("invalid_grant")
        const refreshed = yield* Flow.refresh(sandbox, String(first.json.refresh_token))
        expect(refreshed.json.error).toBe("invalid_grant")
      })
    )
  )

  it.effect("a code expires after its lifetime", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          yield* TestClock.adjust("301 seconds")
          const response = yield* Flow.redeem(sandbox, params?.code ?? "")
          expect(response.json.error).toBe("invalid_grant")
        }),
      { codeLifetime: 300 }
    )
  )

  it.effect("one-time rotation: each refresh returns a new refresh token and retires the old", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
        const second = yield* Flow.refresh(sandbox, String(first.refresh_token))
        expect(second.status).toBe(200)
        expect(second.json.refresh_token).not.toBe(first.refresh_token)
        const reuse = yield* Flow.refresh(sandbox, String(first.refresh_token))
        expect(reuse.json.error).toBe("invalid_grant")
        expect((yield* Flow.refresh(sandbox, String(second.json.refresh_token))).status).toBe(200)
      })
    )
  )

  it.effect("reuse rotation: the same refresh token keeps working and slides", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
          for (let i = 0; i < 3; i++) {
            yield* TestClock.adjust("50 seconds") // each use renews the 100 s lifetime
            const again = yield* Flow.refresh(sandbox, String(first.refresh_token))
            expect(again.status).toBe(200)
            expect(again.json.refresh_token).toBeUndefined()
          }
          yield* TestClock.adjust("101 seconds")
          expect((yield* Flow.refresh(sandbox, String(first.refresh_token))).json.error).toBe("invalid_grant")
        }),
      {
        refreshTokenLifetime: 100,
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

  it.effect("a client may require the code_verifier on refresh", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
          expect((yield* Flow.refresh(sandbox, String(first.refresh_token))).json.error).toBe("invalid_grant")
          const ok = yield* Flow.refresh(sandbox, String(first.refresh_token), {
            code_verifier: Flow.VERIFIER
          })
          expect(ok.status).toBe(200)
        }),
      {
        merchantClients: [
          {
            clientId: Flow.CLIENT.id,
            clientSecret: Flow.CLIENT.secret,
            redirectUris: [Flow.REDIRECT],
            scopes: ["invoice"],
            rotation: "reuse",
            requireVerifierOnRefresh: true
          }
        ]
      }
    )
  )

  it.effect("revocation (RFC 7009) and the admin revoke-consent end the grant", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const a = (yield* Flow.redeem(sandbox, (yield* Flow.consent(sandbox)).params?.code ?? "")).json
        const revoked = yield* Flow.http(
          sandbox.revocationUrl,
          Flow.form({
            token: String(a.refresh_token),
            client_id: Flow.CLIENT.id,
            client_secret: Flow.CLIENT.secret
          })
        )
        expect(revoked.status).toBe(200)
        expect((yield* Flow.refresh(sandbox, String(a.refresh_token))).json.error).toBe("invalid_grant")
        const unknown = yield* Flow.http(
          sandbox.revocationUrl,
          Flow.form({ token: "unknown", client_id: Flow.CLIENT.id, client_secret: Flow.CLIENT.secret })
        )
        expect(unknown.status).toBe(200)

        const b = (yield* Flow.redeem(sandbox, (yield* Flow.consent(sandbox)).params?.code ?? "")).json
        const admin = yield* Flow.http(`${sandbox.baseUrl}/admin/merchants/DK12345678/revoke-consent`, {
          method: "POST"
        })
        expect(JSON.parse(admin.text)).toEqual({ revoked: 1 })
        expect((yield* Flow.refresh(sandbox, String(b.refresh_token))).json.error).toBe("invalid_grant")
        const me = yield* Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
          headers: { authorization: `Bearer ${String(b.access_token)}` }
        })
        expect(me.status).toBe(401)
        expect(me.text).toBe("Unauthorized")
      })
    )
  )
})

describe("integrator token endpoint: client credentials", () => {
  const token = (
    sandbox: Sandbox.Service,
    body: Record<string, string>,
    secret = "sandbox-integrator-secret"
  ) =>
    Flow.http(sandbox.integratorTokenUrl, {
      ...Flow.form(body),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: Flow.basic("sandbox-integrator-client", secret)
      }
    })

  it.effect("client credentials with Basic auth, optional merchant_vat claim, 3700 s", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const unbound = JSON.parse((yield* token(sandbox, { grant_type: "client_credentials" })).text)
        expect(unbound).toMatchObject({ expires_in: 3700, token_type: "Bearer", scope: "integrator_scope" })
        const claims = Flow.jwtPayload(unbound.access_token)
        expect(claims.iss).toBe(sandbox.integratorIssuer)
        expect(claims.merchant_vat).toBeUndefined()
        const bound = JSON.parse(
          (yield* token(sandbox, { grant_type: "client_credentials", merchant_vat: "DK12345678" })).text
        )
        expect(Flow.jwtPayload(bound.access_token).merchant_vat).toBe("DK12345678")
        const wrong = yield* token(sandbox, { grant_type: "client_credentials" }, "nope")
        expect(wrong.status).toBe(401)
        expect(JSON.parse(wrong.text).error).toBe("invalid_client")
        expect(yield* sandbox.requestCount("integratorToken")).toBe(3)
      })
    )
  )
})

describe("token endpoints: strict where MobilePay is", () => {
  const me = (sandbox: Sandbox.Service, accessToken: unknown) =>
    Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
      headers: { authorization: `Bearer ${String(accessToken)}` }
    })

  it.effect(
    "refresh with scope: a subset narrows the access token, a scope never granted is invalid_scope",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox, {
            scope: "openid offline_access invoice subscriptions"
          })
          const first = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
          const wider = yield* Flow.refresh(sandbox, String(first.refresh_token), {
            scope: "openid offline_access invoice webhooks"
          })
          expect(wider.status).toBe(400)
          expect(wider.json.error).toBe("invalid_scope")
          const narrow = yield* Flow.refresh(sandbox, String(first.refresh_token), {
            scope: "openid invoice"
          })
          expect(narrow.status).toBe(200)
          expect(narrow.json.scope).toBe("openid invoice")
          expect(Flow.jwtPayload(String(narrow.json.access_token)).scope).toBe("openid invoice")
          // The grant itself is not narrowed: without scope, the next refresh gets all of it again.
          const full = yield* Flow.refresh(sandbox, String(narrow.json.refresh_token))
          expect(full.json.scope).toBe("openid offline_access invoice subscriptions")
        })
      )
  )

  it.effect("Basic and a secret in the body at once is invalid_request; a 401 names the Basic scheme", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const both = yield* Flow.http(sandbox.merchantTokenUrl, {
          ...Flow.form({
            grant_type: "authorization_code",
            code: params?.code ?? "",
            redirect_uri: Flow.REDIRECT,
            code_verifier: Flow.VERIFIER,
            client_id: Flow.CLIENT.id,
            client_secret: Flow.CLIENT.secret
          }),
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: Flow.basic(Flow.CLIENT.id, Flow.CLIENT.secret)
          }
        })
        expect(both.status).toBe(400)
        expect(JSON.parse(both.text).error).toBe("invalid_request")
        const integrator = yield* Flow.integratorToken(sandbox, {
          client_secret: "sandbox-integrator-secret"
        })
        expect(JSON.parse(integrator.text).error).toBe("invalid_request")
        const wrong = yield* Flow.redeem(sandbox, params?.code ?? "", { client_secret: "nope" })
        expect(wrong.status).toBe(401)
        expect(wrong.headers.get("www-authenticate")).toBe('Basic realm="MobilePay"')
        // Neither attempt used the code up.
        expect((yield* Flow.redeem(sandbox, params?.code ?? "")).status).toBe(200)
      })
    )
  )

  it.effect("a missing grant_type is invalid_request on both token endpoints", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const merchant = yield* Flow.http(
          sandbox.merchantTokenUrl,
          Flow.form({ client_id: Flow.CLIENT.id, client_secret: Flow.CLIENT.secret })
        )
        expect(merchant.status).toBe(400)
        expect(JSON.parse(merchant.text).error).toBe("invalid_request")
        const integrator = yield* Flow.integratorToken(sandbox, { grant_type: "" })
        expect(integrator.status).toBe(400)
        expect(JSON.parse(integrator.text).error).toBe("invalid_request")
      })
    )
  )

  it.effect("a revoked access token stops working at once; the refresh token still works", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const tokens = (yield* Flow.redeem(sandbox, (yield* Flow.consent(sandbox)).params?.code ?? "")).json
        expect((yield* me(sandbox, tokens.access_token)).status).toBe(200)
        const revoked = yield* Flow.http(
          sandbox.revocationUrl,
          Flow.form({
            token: String(tokens.access_token),
            token_type_hint: "access_token",
            client_id: Flow.CLIENT.id,
            client_secret: Flow.CLIENT.secret
          })
        )
        expect(revoked.status).toBe(200)
        expect((yield* me(sandbox, tokens.access_token)).status).toBe(401)
        const refreshed = yield* Flow.refresh(sandbox, String(tokens.refresh_token))
        expect((yield* me(sandbox, refreshed.json.access_token)).status).toBe(200)
      })
    )
  )

  it.effect(
    "a failed code exchange leaves the code for the right verifier; a replay after success still revokes",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const code = params?.code ?? ""
          expect((yield* Flow.redeem(sandbox, code, { code_verifier: "x".repeat(43) })).json.error).toBe(
            "invalid_grant"
          )
          expect(
            (yield* Flow.redeem(sandbox, code, { redirect_uri: "http://localhost:8765/callback" })).status
          ).toBe(400)
          const ok = yield* Flow.redeem(sandbox, code)
          expect(ok.status).toBe(200)
          expect((yield* Flow.redeem(sandbox, code)).json.error).toBe("invalid_grant")
          expect((yield* Flow.refresh(sandbox, String(ok.json.refresh_token))).json.error).toBe(
            "invalid_grant"
          )
        })
      )
  )

  it.effect("quirk failedCodeExchangeBurnsCode: a failed exchange uses the code up", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          yield* Flow.redeem(sandbox, params?.code ?? "", { code_verifier: "x".repeat(43) })
          expect((yield* Flow.redeem(sandbox, params?.code ?? "")).json.error).toBe("invalid_grant")
        }),
      { quirks: { failedCodeExchangeBurnsCode: true } }
    )
  )
})
