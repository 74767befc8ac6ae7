/**
 * One end-to-end run in a real browser: headless Chromium (Debian's, driven by playwright-core)
 * logs in on the sandbox, gives consent, and the sandbox's auto-submitting form_post page
 * delivers the callback to our handler, which stores the grant.
 */
import { FetchHttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConsentCallback, MerchantConsent, MobilePay, TokenStore } from "@mobilepay-auth/platform"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Layer, Option, Redacted } from "effect"
import { existsSync } from "node:fs"
import { createServer } from "node:http"
import { chromium } from "playwright-core"
import { freePort } from "../src/internal/freePort.js"

const executable = process.env.MOBILEPAY_TEST_CHROMIUM ?? "/usr/bin/chromium"
const available = existsSync(executable)
if (!available && process.env.CI !== "true") {
  console.warn(`browser test skipped: no Chromium at ${executable} (CI installs it with .ci/chromium.sh)`)
}

describe.skipIf(!available && process.env.CI !== "true")("consent in headless Chromium", () => {
  it.live(
    "login, consent, form_post auto-submit to the callback, grant stored",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const redirectUri = `http://127.0.0.1:${port}/callback`
        const sandbox = yield* Effect.provide(
          Sandbox.Sandbox,
          yield* Layer.build(
            Sandbox.layer({
              merchantClients: [
                {
                  clientId: "web",
                  clientSecret: "web-secret",
                  redirectUris: [redirectUri],
                  scopes: ["invoice"],
                  rotation: "one-time"
                }
              ]
            })
          )
        )
        const context = yield* Layer.build(
          MobilePay.layer({
            environment: sandbox.environment,
            clientId: "web",
            clientSecret: Redacted.make("web-secret"),
            redirectUri,
            scopes: ["invoice"],
            encryptionKeys: [{ id: "t", secret: Redacted.make(Buffer.alloc(32, 7).toString("base64")) }]
          }).pipe(Layer.provide(TokenStore.layerMemory), Layer.provide(FetchHttpClient.layer))
        )
        const consent = yield* Effect.provide(MerchantConsent.MerchantConsent, context)
        yield* Layer.build(
          HttpServer.serve(ConsentCallback.router("/callback")).pipe(
            Layer.provide(NodeHttpServer.layer(() => createServer(), { host: "127.0.0.1", port })),
            Layer.provide(Layer.succeed(MerchantConsent.MerchantConsent, consent))
          )
        )
        // Begun here, not by the browser (no web app sets the binding cookie in it): the explicit opt-out.
        const authorization = yield* consent.begin({
          merchantVat: "DK12345678",
          responseMode: "form_post",
          bindToUserAgent: false
        })

        const finalText = yield* Effect.acquireUseRelease(
          Effect.promise(() =>
            chromium.launch({
              executablePath: executable,
              args: [
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync"
              ]
            })
          ),
          (browser) =>
            Effect.promise(async () => {
              const page = await browser.newPage()
              await page.goto(authorization.url)
              await page.fill('input[name="username"]', "anna")
              await page.fill('input[name="password"]', "secret-password")
              await page.click("#login")
              await page.click("#allow")
              // The sandbox's page submits itself (JavaScript) to our callback.
              await page.waitForURL(`${redirectUri}**`)
              return page.locator("body").innerText()
            }),
          (browser) => Effect.promise(() => browser.close())
        )
        expect(finalText.toLowerCase()).toContain("consent")
        const merchants = yield* consent.merchants
        expect(merchants.map((m) => Option.getOrUndefined(m.merchantVat))).toEqual(["DK12345678"])
        expect(yield* sandbox.requestCount("merchantToken")).toBe(1)
      }).pipe(Effect.scoped),
    60_000
  )
})
