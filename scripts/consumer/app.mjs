// A plain Node ESM application (no TypeScript, no tsx) using the Promise API against the
// offline sandbox, both installed from their packed tarballs: an integrator token, a merchant
// consent driven as a browser would, a merchant token, an API call and a revocation.
import { createMobilePayAuth } from "@mobilepay-auth/platform"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import assert from "node:assert/strict"

const REDIRECT = "http://127.0.0.1:8765/callback"
const scope = await Effect.runPromise(Scope.make())
const sandbox = await Effect.runPromise(
  Layer.buildWithScope(
    Sandbox.layer({
      merchantClients: [
        {
          clientId: "app",
          clientSecret: "app-secret-1",
          redirectUris: [REDIRECT],
          scopes: ["invoice"],
          rotation: "one-time"
        }
      ],
      integratorClients: [{ clientId: "pos", clientSecret: "pos-secret-1" }]
    }),
    scope
  ).pipe(Effect.map(Context.get(Sandbox.Sandbox)))
)

const integrator = createMobilePayAuth({
  environment: sandbox.environment,
  clientId: "pos",
  clientSecret: "pos-secret-1"
})
const mp = createMobilePayAuth({
  environment: sandbox.environment,
  clientId: "app",
  clientSecret: "app-secret-1",
  redirectUri: REDIRECT,
  scopes: ["invoice"]
})

try {
  const token = await integrator.integratorToken({ merchantVat: "DK12345678" })
  // Plain values: the token is read explicitly through `.value`, redacted everywhere else.
  assert.equal(String(token.accessToken), "<redacted>")
  assert.equal(JSON.stringify(token.accessToken), '"<redacted>"')
  assert.equal(token.accessToken.value.split(".").length, 3)
  assert.ok(token.expiresAt instanceof Date)
  console.log(`integrator token: expires ${token.expiresAt.toISOString()}`)

  const authorization = await mp.beginConsent({ merchantVat: "DK12345678" })
  const callback = await Effect.runPromise(
    SandboxBrowser.consent(authorization.url, { redirectUri: REDIRECT })
  )
  assert.equal(callback._tag, "FormPost")
  // The browser that began the consent carries its binding cookie back (login CSRF defence).
  assert.match(authorization.setCookie, /^__Host-.*HttpOnly; Secure; SameSite=None$/)
  const headers = new Headers(callback.request.headers)
  headers.set("cookie", authorization.setCookie.split(";")[0])
  const response = await mp.callbackHandler()(new Request(callback.request, { headers }))
  assert.ok(response.status < 400, `callback answered ${response.status}`)
  const [merchant] = await mp.merchants()
  assert.ok(merchant, "a merchant consented")
  assert.equal(merchant.merchantVat, "DK12345678")
  assert.ok(merchant.refreshedAt instanceof Date)
  console.log(`consent stored for merchant ${merchant.merchant} (scopes ${merchant.scopes.join(" ")})`)

  const merchantToken = await mp.merchantToken(merchant.merchant)
  assert.equal(String(merchantToken), "<redacted>")
  assert.equal(typeof merchantToken.value, "string")
  const me = await mp.fetch({ merchant: merchant.merchant }, "/api/merchants/me")
  assert.equal(me.status, 200)
  console.log(`API call as the merchant: HTTP ${me.status}`)

  const revoked = await mp.revoke(merchant.merchant)
  assert.equal(revoked.removed, true)
  const after = await mp.merchantToken(merchant.merchant).catch((e) => e)
  assert.equal(after._tag, "ConsentRequired")
  console.log(`revoked; the next token request is ${after._tag}`)

  const bad = (() => {
    try {
      createMobilePayAuth({ environment: sandbox.environment, clientId: "app", clientSecret: "" })
    } catch (e) {
      return e
    }
  })()
  assert.equal(bad?._tag, "InvalidConfiguration")
  console.log(`an empty secret is refused at creation: ${bad._tag}(${bad.setting})`)
  console.log("promise app: ok")
} finally {
  await mp.dispose()
  await integrator.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
}
