import { HttpApp } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Environment } from "@mobilepay-auth/domain"
import { Effect } from "effect"
import * as ConsentCallback from "../src/ConsentCallback.js"
import * as MerchantConsent from "../src/MerchantConsent.js"
import * as Fake from "./consent/fakeProvider.js"
import { stack } from "./consent/stack.js"

const clientId = "integrator-client"
const redirectUri = "https://app.example.test/callback"

const withStack = <A, E>(
  body: (
    fake: Effect.Effect.Success<ReturnType<typeof Fake.make>>
  ) => Effect.Effect<A, E, MerchantConsent.MerchantConsent>
) =>
  Effect.gen(function* () {
    const fake = yield* Fake.make({ clientId })
    return yield* body(fake).pipe(
      Effect.provide(
        stack(fake.layer, {
          environment: Environment.custom({
            discoveryUrl: Fake.discoveryUrl,
            issuer: Fake.issuer,
            integratorTokenUrl: "https://api.mobilepay.test/integrator-authentication/connect/token",
            apiBaseUrl: "https://api.mobilepay.test"
          }),
          clientId,
          redirectUri
        })
      )
    )
  })

const formPost = (params: URLSearchParams) =>
  new Request(redirectUri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: params.toString()
  })

const callbackParams = (fake: Effect.Effect.Success<ReturnType<typeof Fake.make>>) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const started = yield* consent.begin({ merchantVat: "DK12345678" })
    return yield* fake.authorize(started.url)
  })

describe("ConsentCallback", () => {
  it.effect("toWebHandler completes a form_post and answers a no-store page; a replay is a 400", () =>
    withStack((fake) =>
      Effect.gen(function* () {
        const runtime = yield* Effect.runtime<MerchantConsent.MerchantConsent>()
        const handler = ConsentCallback.toWebHandler(runtime)
        const params = yield* callbackParams(fake)
        const response = yield* Effect.promise(() => handler(formPost(params)))
        expect(response.status).toBe(200)
        expect(response.headers.get("cache-control")).toBe("no-store")
        const html = yield* Effect.promise(() => response.text())
        expect(html).toContain("m-DK12345678")
        expect(html).not.toContain(params.get("code") ?? "no code")
        const consent = yield* MerchantConsent.MerchantConsent
        yield* consent.accessToken("m-DK12345678")
        const replay = yield* Effect.promise(() => handler(formPost(params)))
        expect(replay.status).toBe(400)
      })
    )
  )

  it.effect("a bare GET gets the fragment relay page; other methods get 405", () =>
    withStack(() =>
      Effect.gen(function* () {
        const handler = ConsentCallback.toWebHandler(yield* Effect.runtime<MerchantConsent.MerchantConsent>())
        const relay = yield* Effect.promise(() => handler(new Request(redirectUri)))
        expect(relay.status).toBe(200)
        expect(relay.headers.get("content-security-policy")).toContain("form-action 'self'")
        expect(yield* Effect.promise(() => relay.text())).toContain("location.hash")
        const put = yield* Effect.promise(() =>
          handler(new Request(redirectUri, { method: "PUT", body: "" }))
        )
        expect(put.status).toBe(405)
      })
    )
  )

  it.effect("a declined consent in the query is a 403 and reaches onComplete as ConsentRequired", () =>
    withStack(() =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const started = yield* consent.begin({ merchantVat: "DK12345678" })
        const outcomes: Array<string> = []
        const handler = ConsentCallback.toWebHandler(
          yield* Effect.runtime<MerchantConsent.MerchantConsent>(),
          {
            onComplete: (outcome) =>
              Effect.sync(() => outcomes.push(outcome._tag === "Failure" ? outcome.error._tag : "Success"))
          }
        )
        const url = `${redirectUri}?error=access_denied&state=${started.state}`
        const response = yield* Effect.promise(() => handler(new Request(url)))
        expect(response.status).toBe(403)
        expect(outcomes).toEqual(["ConsentRequired"])
      })
    )
  )

  it.effect("the HttpRouter route completes a form_post and redirects to successRedirect", () =>
    withStack((fake) =>
      Effect.gen(function* () {
        const router = ConsentCallback.router("/callback", {
          successRedirect: (done) => `/done?merchant=${done.merchant}`
        })
        const handler = HttpApp.toWebHandlerRuntime(yield* Effect.runtime<MerchantConsent.MerchantConsent>())(
          router
        )
        const params = yield* callbackParams(fake)
        const response = yield* Effect.promise(() => handler(formPost(params)))
        expect(response.status).toBe(303)
        expect(response.headers.get("location")).toBe("/done?merchant=m-DK12345678")
        const consent = yield* MerchantConsent.MerchantConsent
        expect((yield* consent.merchants).map((m) => m.merchant)).toEqual(["m-DK12345678"])
      })
    )
  )
})
