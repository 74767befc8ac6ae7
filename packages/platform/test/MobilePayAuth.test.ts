import { describe, expect, it } from "@effect/vitest"
import { AuthError, Environment } from "@mobilepay-auth/domain"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Effect } from "effect"
import { inspect } from "node:util"
import { createMobilePayAuth, type MobilePayAuthOptions, SecretToken } from "../src/MobilePayAuth.js"
import * as TokenStore from "../src/TokenStore.js"
import * as VippsConfig from "../src/VippsConfig.js"
import {
  MERCHANTS,
  sandboxVipps,
  VIPPS_CLIENT_ID,
  VIPPS_CLIENT_SECRET,
  VIPPS_SUBSCRIPTION_KEY
} from "./utils/vippsStack.js"

const REDIRECT = "http://127.0.0.1:8765/callback"

const sandboxed = <A, E>(f: (sandbox: Sandbox.Sandbox.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(Sandbox.Sandbox, f).pipe(
    Effect.provide(
      Sandbox.layer({
        merchantClients: [
          {
            clientId: "app",
            clientSecret: "app-secret",
            redirectUris: [REDIRECT],
            scopes: ["invoice"],
            rotation: "one-time"
          }
        ],
        integratorClients: [{ clientId: "app", clientSecret: "app-secret" }]
      })
    )
  )

const auth = (sandbox: Sandbox.Sandbox.Service, secret = "app-secret") =>
  createMobilePayAuth({
    environment: sandbox.environment,
    clientId: "app",
    clientSecret: secret,
    redirectUri: REDIRECT,
    scopes: ["invoice"]
  })

describe("createMobilePayAuth (Promise API)", () => {
  it.live("integrator token, consent, merchant token, fetch with headers, revoke", () =>
    sandboxed((sandbox) =>
      Effect.promise(async () => {
        const mp = auth(sandbox)
        try {
          const token = await mp.integratorToken({ merchantVat: "DK12345678" })
          expect(token.accessToken.value.split(".")).toHaveLength(3)
          expect(token.expiresAt).toBeInstanceOf(Date)
          expect(token.expiresAt.getTime()).toBeGreaterThan(token.issuedAt.getTime())

          const payment = await mp.fetch(
            { integrator: true, merchantVat: "DK12345678" },
            "/pos/v10/payments",
            {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ amount: 100 })
            }
          )
          expect(payment.status).toBe(200)

          const authorization = await mp.beginConsent({ merchantVat: "DK12345678" })
          const callback = await Effect.runPromise(
            SandboxBrowser.consent(authorization.url, { redirectUri: REDIRECT })
          )
          if (callback._tag !== "FormPost") throw new Error("expected form_post")
          // The browser that began the consent carries the binding cookie back to the callback.
          expect(authorization.setCookie).toMatch(
            /^__Host-[^=]+=[^;]+; Path=\/;.*HttpOnly; Secure; SameSite=None/
          )
          const headers = new Headers(callback.request.headers)
          headers.set("cookie", (authorization.setCookie ?? "").split(";")[0] ?? "")
          const handled = await mp.callbackHandler()(new Request(callback.request, { headers }))
          expect(handled.status).toBeLessThan(400)
          const [merchant] = await mp.merchants()
          expect(merchant?.scopes).toContain("invoice")
          expect(merchant?.merchantVat).toBe("DK12345678")
          expect(merchant?.refreshedAt).toBeInstanceOf(Date)
          expect(merchant?.accessTokenExpiresAt).toBeInstanceOf(Date)

          const me = await mp.fetch({ merchant: merchant?.merchant ?? "" }, "/api/merchants/me")
          expect(await me.json()).toMatchObject({ vatNumber: "DK12345678" })

          expect((await mp.revoke(merchant?.merchant ?? "")).removed).toBe(true)
          const failure = await mp.merchantToken(merchant?.merchant ?? "").catch((e: unknown) => e)
          expect(failure).toBeInstanceOf(AuthError.ConsentRequired)
          expect((failure as AuthError.ConsentRequired)._tag).toBe("ConsentRequired")
        } finally {
          await mp.dispose()
        }
      })
    )
  )

  it.live("rejects with the typed error itself, without the secret", () =>
    sandboxed((sandbox) =>
      Effect.promise(async () => {
        const mp = auth(sandbox, "wrong-secret-value")
        try {
          const error = await mp.integratorToken().catch((e: unknown) => e)
          expect(error).toBeInstanceOf(AuthError.InvalidClient)
          expect(String(error)).not.toContain("wrong-secret-value")
          const bad = await mp.integratorToken({ merchantVat: "XX1" }).catch((e: unknown) => e)
          expect(bad).toBeInstanceOf(AuthError.InvalidVat)
        } finally {
          await mp.dispose()
        }
      })
    )
  )

  it("refuses malformed settings at creation with InvalidConfiguration naming the option", () => {
    const environment = Environment.builtIn["sandbox-dk"]
    const attempt = (options: Partial<MobilePayAuthOptions>) => {
      try {
        createMobilePayAuth({ environment, clientId: "app", clientSecret: "app-secret", ...options })
        return undefined
      } catch (error) {
        return error
      }
    }
    const settingOf = (options: Partial<MobilePayAuthOptions>) => {
      const error = attempt(options)
      expect(error).toBeInstanceOf(AuthError.InvalidConfiguration)
      return (error as AuthError.InvalidConfiguration).setting
    }
    expect(settingOf({ clientSecret: "" })).toBe("clientSecret")
    expect(settingOf({ clientSystemVersion: "v2" })).toBe("clientSystemVersion")
    // A malformed key list is reported as such (not dropped, then reported as missing keys).
    const malformed = attempt({ encryptionKeys: "k1:bm90LTMyLWJ5dGVzLXNlY3JldA==" })
    expect(malformed).toMatchObject({ _tag: "InvalidConfiguration", setting: "encryptionKeys" })
    expect(String(malformed)).toContain("32 bytes")
    expect(String(malformed)).not.toContain("bm90LTMyLWJ5dGVzLXNlY3JldA")
    // A durable store without keys: refused now, not on the first call.
    const durable = attempt({ store: TokenStore.layerMemory })
    expect(durable).toMatchObject({ _tag: "InvalidConfiguration", setting: "encryptionKeys" })
    expect(attempt({})).toBeUndefined()
  })

  it("a token is read through .value only: String, templates, JSON, inspect and spreads redact it", () => {
    const token = new SecretToken("eyJ.secret-token.sig")
    expect(token.value).toBe("eyJ.secret-token.sig")
    expect(String(token)).toBe("<redacted>")
    expect(`Bearer ${token}`).toBe("Bearer <redacted>")
    expect(JSON.stringify({ token })).toBe('{"token":"<redacted>"}')
    expect(inspect({ token })).not.toContain("secret-token")
    expect(JSON.stringify({ ...token })).toBe("{}")
  })

  // The browser's part of a consent: begin, MobilePay's pages, the callback with the binding cookie.
  const callbackOf = async (mp: ReturnType<typeof auth>) => {
    const start = await mp.beginConsent({ merchantVat: "DK12345678" })
    const callback = await Effect.runPromise(SandboxBrowser.consent(start.url, { redirectUri: REDIRECT }))
    if (callback._tag !== "FormPost") throw new Error("expected form_post")
    const headers = new Headers(callback.request.headers)
    headers.set("cookie", (start.setCookie ?? "").split(";")[0] ?? "")
    return new Request(callback.request, { headers })
  }

  it.live("callbackHandler takes plain and async hooks, handed plain values", () =>
    sandboxed((sandbox) =>
      Effect.promise(async () => {
        const mp = auth(sandbox)
        try {
          const seen: Array<unknown> = []
          const handler = mp.callbackHandler({
            onComplete: async (outcome) => {
              await Promise.resolve()
              seen.push(outcome)
            },
            successRedirect: (consented) => `/done?merchant=${consented.merchant}`
          })
          const answer = await handler(await callbackOf(mp))
          expect(answer.status).toBe(303)
          expect(seen).toHaveLength(1)
          const outcome = seen[0] as { _tag: string; consented: Record<string, unknown> }
          expect(outcome._tag).toBe("Success")
          expect(outcome.consented["merchantVat"]).toBe("DK12345678")
          expect(outcome.consented["expiresAt"]).toBeInstanceOf(Date)
          expect(answer.headers.get("location")).toBe(`/done?merchant=${outcome.consented["merchant"]}`)
          expect(await mp.merchants()).toHaveLength(1)
        } finally {
          await mp.dispose()
        }
      })
    )
  )

  it.live("a hook that throws or rejects undoes the consent: an error page and no stored grant", () =>
    sandboxed((sandbox) =>
      Effect.promise(async () => {
        const mp = auth(sandbox)
        try {
          const sync = await mp.callbackHandler({
            onComplete: () => {
              throw new Error("audit log unavailable")
            }
          })(await callbackOf(mp))
          expect(sync.status).toBe(500)
          expect(sync.headers.getSetCookie().join()).toMatch(/Max-Age=0/)
          expect(await mp.merchants()).toEqual([])

          const rejected = await mp.callbackHandler({
            onComplete: (outcome) =>
              outcome._tag === "Success" ? Promise.reject(new Error("database down")) : undefined
          })(await callbackOf(mp))
          expect(rejected.status).toBe(500)
          expect(await mp.merchants()).toEqual([])

          // The same consent with a hook that works is complete.
          const ok = await mp.callbackHandler({ onComplete: () => {} })(await callbackOf(mp))
          expect(ok.status).toBe(200)
          expect(await mp.merchants()).toHaveLength(1)
        } finally {
          await mp.dispose()
        }
      })
    )
  )

  it.live("a hook failing on a failed callback leaves the error answer as it was", () =>
    sandboxed((sandbox) =>
      Effect.promise(async () => {
        const mp = auth(sandbox)
        try {
          const request = await callbackOf(mp)
          const headers = new Headers(request.headers)
          headers.delete("cookie")
          const answer = await mp.callbackHandler({
            onComplete: () => {
              throw new Error("audit log unavailable")
            }
          })(new Request(request, { headers }))
          expect(answer.status).toBe(400)
        } finally {
          await mp.dispose()
        }
      })
    )
  )

  it.live("one instance, two credentials: PoS integrator client apart from the OpenID Connect client", () =>
    Effect.flatMap(Sandbox.Sandbox, (sandbox) =>
      Effect.promise(async () => {
        const options = {
          environment: sandbox.environment,
          clientId: "oidc-client",
          clientSecret: "oidc-secret",
          redirectUri: REDIRECT,
          scopes: ["invoice"] as const
        }
        const mp = createMobilePayAuth({
          ...options,
          integrator: { clientId: "pos", clientSecret: "pos-secret" }
        })
        // Without the integrator credentials, the OpenID Connect client is refused at the integrator endpoint.
        const single = createMobilePayAuth(options)
        try {
          const token = await mp.integratorToken({ merchantVat: "DK12345678" })
          expect(token.accessToken.value.split(".")).toHaveLength(3)
          expect(await single.integratorToken().catch((e: unknown) => e)).toBeInstanceOf(
            AuthError.InvalidClient
          )

          const answer = await mp.callbackHandler()(await callbackOf(mp))
          expect(answer.status).toBe(200)
          expect(await mp.merchants()).toHaveLength(1)
          expect(() =>
            createMobilePayAuth({ ...options, integrator: { clientId: "pos", clientSecret: " " } })
          ).toThrow(
            expect.objectContaining({ _tag: "InvalidConfiguration", setting: "integrator.clientSecret" })
          )
        } finally {
          await mp.dispose()
          await single.dispose()
        }
      })
    ).pipe(
      Effect.provide(
        Sandbox.layer({
          merchantClients: [
            {
              clientId: "oidc-client",
              clientSecret: "oidc-secret",
              redirectUris: [REDIRECT],
              scopes: ["invoice"],
              rotation: "one-time"
            }
          ],
          integratorClients: [{ clientId: "pos", clientSecret: "pos-secret" }]
        })
      )
    )
  )

  it.live(
    "Vipps MobilePay: vippsToken and fetch({ vipps }) on the same instance, cached per merchant serial number",
    () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        yield* Effect.promise(async () => {
          const mp = createMobilePayAuth({
            environment: sandbox.environment,
            clientId: "app",
            clientSecret: "app-secret",
            vipps: {
              environment: VippsConfig.custom({ baseUrl: sandbox.baseUrl, allowInsecureLoopback: true }),
              clientId: VIPPS_CLIENT_ID,
              clientSecret: VIPPS_CLIENT_SECRET,
              subscriptionKey: VIPPS_SUBSCRIPTION_KEY,
              merchantSerialNumber: MERCHANTS[0]
            }
          })
          try {
            const token = await mp.vippsToken({ merchantSerialNumber: MERCHANTS[1] })
            expect(String(token)).not.toContain(token.value)
            expect((await mp.vippsToken({ merchantSerialNumber: MERCHANTS[1] })).value).toBe(token.value)
            const created = await mp.fetch(
              { vipps: { merchantSerialNumber: MERCHANTS[1] } },
              "/epayment/v1/payments",
              {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                  amount: { currency: "NOK", value: 4900 },
                  paymentMethod: { type: "WALLET" },
                  reference: "facade-10001",
                  userFlow: "WEB_REDIRECT",
                  returnUrl: "https://shop.example/return"
                })
              }
            )
            expect(created.status).toBe(201)
            const [sent] = (await Effect.runPromise(sandbox.requests("vippsApi"))).slice(-1)
            expect(sent?.headers["merchant-serial-number"]).toBe(MERCHANTS[1])
            expect(sent?.headers["idempotency-key"]).toBeDefined()
            expect(await Effect.runPromise(sandbox.requestCount("vippsToken"))).toBe(1)
          } finally {
            await mp.dispose()
          }
          const without = createMobilePayAuth({
            environment: sandbox.environment,
            clientId: "app",
            clientSecret: "s"
          })
          const refused = await without.vippsToken().catch((e: unknown) => e)
          expect(refused).toMatchObject({ _tag: "InvalidConfiguration", setting: "vipps" })
          await without.dispose()
        })
      }).pipe(Effect.provide(Sandbox.layer({ vipps: sandboxVipps() })))
  )
})
