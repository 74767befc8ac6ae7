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

// The browser's form_post, carrying the binding cookie the begin step set in it.
const formPost = (params: URLSearchParams, cookie?: string) =>
  new Request(redirectUri, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(cookie === undefined ? {} : { cookie })
    },
    body: params.toString()
  })

const callbackParams = (fake: Effect.Effect.Success<ReturnType<typeof Fake.make>>) =>
  Effect.gen(function* () {
    const began = yield* ConsentCallback.begin({ merchantVat: "DK12345678" })
    const cookie = (began.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
    const params = yield* fake.authorize(began.headers.get("location") ?? "")
    return { params, cookie }
  })

describe("ConsentCallback", () => {
  it.effect("toWebHandler completes a form_post and answers a no-store page; a replay is a 400", () =>
    withStack((fake) =>
      Effect.gen(function* () {
        const runtime = yield* Effect.runtime<MerchantConsent.MerchantConsent>()
        const handler = ConsentCallback.toWebHandler(runtime)
        const { cookie, params } = yield* callbackParams(fake)
        const response = yield* Effect.promise(() => handler(formPost(params, cookie)))
        expect(response.status).toBe(200)
        expect(response.headers.get("cache-control")).toBe("no-store")
        expect(response.headers.get("set-cookie")).toContain("Max-Age=0")
        const html = yield* Effect.promise(() => response.text())
        expect(html).toContain("m-DK12345678")
        expect(html).not.toContain(params.get("code") ?? "no code")
        const consent = yield* MerchantConsent.MerchantConsent
        yield* consent.accessToken("m-DK12345678")
        const replay = yield* Effect.promise(() => handler(formPost(params, cookie)))
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

  it.effect("a declined consent is a 403 and reaches onComplete as ConsentRequired", () =>
    withStack(() =>
      Effect.gen(function* () {
        const began = yield* ConsentCallback.begin({ merchantVat: "DK12345678" })
        const cookie = (began.headers.get("set-cookie") ?? "").split(";")[0] ?? ""
        const state = new URL(began.headers.get("location") ?? "").searchParams.get("state") ?? ""
        const outcomes: Array<string> = []
        const handler = ConsentCallback.toWebHandler(
          yield* Effect.runtime<MerchantConsent.MerchantConsent>(),
          {
            onComplete: (outcome) =>
              Effect.sync(() => outcomes.push(outcome._tag === "Failure" ? outcome.error._tag : "Success"))
          }
        )
        const declined = new URLSearchParams({ error: "access_denied", state })
        const response = yield* Effect.promise(() => handler(formPost(declined, cookie)))
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
        const { cookie, params } = yield* callbackParams(fake)
        const response = yield* Effect.promise(() => handler(formPost(params, cookie)))
        expect(response.status).toBe(303)
        expect(response.headers.get("location")).toBe("/done?merchant=m-DK12345678")
        const consent = yield* MerchantConsent.MerchantConsent
        expect((yield* consent.merchants).map((m) => m.merchant)).toEqual(["m-DK12345678"])
      })
    )
  )
})
