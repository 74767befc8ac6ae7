import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Sandbox, layer } from "../src/Sandbox.js"
import * as Flow from "./flow.js"

const withSandbox = <A, E>(
  f: (sandbox: Sandbox.Service) => Effect.Effect<A, E>,
  options: Parameters<typeof layer>[0] = {}
) => Effect.flatMap(Sandbox, f).pipe(Effect.provide(layer(options)))

describe("discovery and keys", () => {
  it.effect("publishes MobilePay's endpoints with an issuer that differs from the discovery URL", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const doc = JSON.parse((yield* Flow.http(sandbox.discoveryUrl)).text)
        expect(doc.issuer).toBe("https://api.mobilepay.dk/merchant")
        expect(sandbox.discoveryUrl.startsWith(doc.issuer)).toBe(false)
        expect(doc.authorization_endpoint).toBe(sandbox.authorizeUrl)
        expect(doc.token_endpoint).toBe(sandbox.merchantTokenUrl)
        expect(doc.revocation_endpoint).toBe(sandbox.revocationUrl)
        expect(doc.response_types_supported).toEqual(["code id_token"])
        expect(doc.code_challenge_methods_supported).toEqual(["S256"])
        expect(doc.token_endpoint_auth_methods_supported).toEqual([
          "client_secret_post",
          "client_secret_basic"
        ])
        expect(yield* sandbox.requestCount("discovery")).toBe(1)
      })
    )
  )

  it.effect("key rotation adds a key and keeps the old one, so earlier tokens still verify", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const tokens = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
        yield* sandbox.rotateKeys
        const jwks = JSON.parse((yield* Flow.http(sandbox.jwksUrl)).text)
        expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(["sandbox-key-1", "sandbox-key-2"])
        const me = yield* Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
          headers: { authorization: `Bearer ${String(tokens.access_token)}` }
        })
        expect(me.status).toBe(200)
        const fresh = yield* sandbox.signJwt({ sub: "x" })
        expect(JSON.parse(Buffer.from(fresh.split(".")[0] ?? "", "base64url").toString()).kid).toBe(
          "sandbox-key-2"
        )
      })
    )
  )
})

describe("authorize", () => {
  it.effect(
    "form_post: login and consent pages, then an auto-submitting form with code, id_token and state",
    () =>
      withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const result = yield* Flow.consent(sandbox, {}, "deny")
        expect(result.params?.error).toBe("access_denied")
        expect(result.params?.code).toBeUndefined()
      })
    )
  )
})

describe("merchant token endpoint", () => {
  it.effect("redeems a code with PKCE: merchant-bound RS256 access token, refresh token, ID token", () =>
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox((sandbox) =>
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
    withSandbox(
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
    withSandbox((sandbox) =>
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
    withSandbox(
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
    withSandbox(
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
    withSandbox((sandbox) =>
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

describe("integrator token endpoint", () => {
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
    withSandbox((sandbox) =>
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

describe("protected API", () => {
  const integratorToken = (sandbox: Sandbox.Service, vat?: string) =>
    Effect.map(
      Flow.http(sandbox.integratorTokenUrl, {
        ...Flow.form({ grant_type: "client_credentials", ...(vat ? { merchant_vat: vat } : {}) }),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: Flow.basic("sandbox-integrator-client", "sandbox-integrator-secret")
        }
      }),
      (r) => String(JSON.parse(r.text).access_token)
    )
  const pay = (sandbox: Sandbox.Service, headers: Record<string, string>, body = { amount: 100 }) =>
    Flow.http(`${sandbox.baseUrl}/pos/v10/payments`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })

  it.effect("PoS calls: VAT header rules (1151, 1159), system version, idempotency replay", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const unbound = yield* integratorToken(sandbox)
        const base = {
          authorization: `Bearer ${unbound}`,
          "x-mobilepay-client-system-version": "1.2.3",
          "x-mobilepay-idempotency-key": "2f1c1c8e-7f4a-4e43-9a43-0c8c7b1c0a11"
        }
        const noVat = yield* pay(sandbox, base)
        expect(noVat.status).toBe(400)
        expect(JSON.parse(noVat.text).code).toBe("1151")
        const badVat = yield* pay(sandbox, { ...base, "x-mobilepay-merchant-vat-number": "DK1" })
        expect(JSON.parse(badVat.text).code).toBe("1159")
        const first = yield* pay(sandbox, { ...base, "x-mobilepay-merchant-vat-number": "DK12345678" })
        expect(first.status).toBe(200)
        const again = yield* pay(
          sandbox,
          { ...base, "x-mobilepay-merchant-vat-number": "DK12345678" },
          { amount: 999 }
        )
        expect(again.text).toBe(first.text)
        const other = yield* pay(sandbox, {
          ...base,
          "x-mobilepay-merchant-vat-number": "DK12345678",
          "x-mobilepay-idempotency-key": "another"
        })
        expect(JSON.parse(other.text).paymentId).not.toBe(JSON.parse(first.text).paymentId)
        const noKey = yield* pay(sandbox, {
          authorization: base.authorization,
          "x-mobilepay-client-system-version": "1.2.3",
          "x-mobilepay-merchant-vat-number": "DK12345678"
        })
        expect(noKey.status).toBe(400)
        const noVersion = yield* pay(sandbox, {
          authorization: base.authorization,
          "x-mobilepay-idempotency-key": "k",
          "x-mobilepay-merchant-vat-number": "DK12345678"
        })
        expect(noVersion.status).toBe(400)
        const bound = yield* integratorToken(sandbox, "DK12345678")
        expect(
          (yield* pay(sandbox, {
            ...base,
            authorization: `Bearer ${bound}`,
            "x-mobilepay-idempotency-key": "b"
          })).status
        ).toBe(200)
      })
    )
  )

  it.effect("vague 401 for missing, forged, foreign-signed or expired tokens", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const me = (authorization?: string) =>
          Flow.http(
            `${sandbox.baseUrl}/api/merchants/me`,
            authorization ? { headers: { authorization } } : {}
          )
        const { params } = yield* Flow.consent(sandbox)
        const access = String((yield* Flow.redeem(sandbox, params?.code ?? "")).json.access_token)
        expect((yield* me(`Bearer ${access}`)).status).toBe(200)
        expect((yield* me()).status).toBe(401)
        expect((yield* me("Bearer not-a-jwt")).status).toBe(401)
        const foreign = yield* sandbox.signJwt({ merchant_id: "x", exp: 9_999_999_999 }, { foreign: true })
        const foreignResponse = yield* me(`Bearer ${foreign}`)
        expect(foreignResponse.status).toBe(401)
        expect(foreignResponse.text).toBe("Unauthorized")
        yield* TestClock.adjust("301 seconds")
        expect((yield* me(`Bearer ${access}`)).status).toBe(401)
      })
    )
  )

  it.effect("gateway keys are required when configured", () =>
    withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          const { params } = yield* Flow.consent(sandbox)
          const access = String((yield* Flow.redeem(sandbox, params?.code ?? "")).json.access_token)
          const call = (headers: Record<string, string>) =>
            Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
              headers: { authorization: `Bearer ${access}`, ...headers }
            })
          expect((yield* call({})).status).toBe(401)
          expect((yield* call({ "x-ibm-client-id": "gw" })).status).toBe(401)
          expect((yield* call({ "x-ibm-client-id": "gw", "x-ibm-client-secret": "gw-secret" })).status).toBe(
            200
          )
        }),
      { gateway: { clientId: "gw", clientSecret: "gw-secret" } }
    )
  )
})

describe("fault knobs", () => {
  it.effect("a share of 5xx, 429 with Retry-After, malformed and HTML bodies, counted per endpoint", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const statuses: Array<number> = []
        yield* sandbox.setFault("discovery", { errorRate: 0.5 })
        for (let i = 0; i < 4; i++) statuses.push((yield* Flow.http(sandbox.discoveryUrl)).status)
        expect(statuses).toEqual([503, 200, 503, 200])
        yield* sandbox.setFault("discovery", { status429: { retryAfterSeconds: 7 } })
        const limited = yield* Flow.http(sandbox.discoveryUrl)
        expect(limited.status).toBe(429)
        expect(limited.headers.get("retry-after")).toBe("7")
        yield* sandbox.setFault("discovery", { malformedBody: "json" })
        const malformed = yield* Flow.http(sandbox.discoveryUrl)
        expect(() => JSON.parse(malformed.text)).toThrow()
        yield* sandbox.setFault("discovery", { malformedBody: "html" })
        expect((yield* Flow.http(sandbox.discoveryUrl)).headers.get("content-type")).toContain("text/html")
        yield* sandbox.clearFaults
        expect((yield* Flow.http(sandbox.discoveryUrl)).status).toBe(200)
        expect(yield* sandbox.requestCount("discovery")).toBe(8)
        expect(yield* sandbox.requestCount("jwks")).toBe(0)
      })
    )
  )

  it.live("added latency and dropped connections", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        yield* sandbox.setFault("jwks", { latencyMs: 150 })
        const started = Date.now()
        expect((yield* Flow.http(sandbox.jwksUrl)).status).toBe(200)
        expect(Date.now() - started).toBeGreaterThanOrEqual(140)
        yield* sandbox.setFault("jwks", { dropConnection: true })
        const dropped = yield* Effect.either(
          Effect.tryPromise(() => fetch(sandbox.jwksUrl).then((r) => r.text()))
        )
        expect(dropped._tag).toBe("Left")
      })
    )
  )
})
