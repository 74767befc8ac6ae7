import { describe, expect, it } from "@effect/vitest"
import { AuthError, Environment } from "@mobilepay-auth/domain"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Effect, Redacted } from "effect"
import { createMobilePayAuth, type MobilePayAuthOptions } from "../src/MobilePayAuth.js"
import * as TokenStore from "../src/TokenStore.js"

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
          expect(Redacted.value(token.accessToken).split(".")).toHaveLength(3)

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
          expect(authorization.setCookie).toMatch(/^__Host-[^=]+=[^;]+; Path=\/;.*HttpOnly; Secure; SameSite=None/)
          const headers = new Headers(callback.request.headers)
          headers.set("cookie", (authorization.setCookie ?? "").split(";")[0] ?? "")
          const handled = await mp.callbackHandler()(new Request(callback.request, { headers }))
          expect(handled.status).toBeLessThan(400)
          const [merchant] = await mp.merchants()
          expect(merchant?.scopes).toContain("invoice")

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
})
