/**
 * Attacks through configuration and grants (RFC 9700 §2.3 privilege restriction, §4.1 redirect
 * URI validation): scopes nobody configured, a grant broader than the request, and redirect URIs
 * that are loopback in disguise in a production environment.
 */
import { describe, expect, it } from "@effect/vitest"
import { Environment } from "@mobilepay-auth/domain"
import { ConfigProvider, Effect } from "effect"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as MobilePayConfig from "../../src/MobilePayConfig.js"
import * as Hostile from "./hostile.js"

describe("attacks: configuration and least privilege", () => {
  it.scopedLive(
    "no scopes configured: a product scope is InvalidScope, only openid offline_access is asked",
    () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const error = yield* Effect.flip(consent.begin({ scopes: ["invoice"] }))
          expect({ ...error }).toMatchObject({ _tag: "InvalidScope", scope: "invoice" })
          const started = yield* consent.begin()
          expect(new URL(started.url).searchParams.get("scope")).toBe("openid offline_access")
        }).pipe(Effect.provide(Hostile.stack(hostile, { scopes: [] })))
      })
  )

  it.scopedLive(
    "a grant broader than the request is InvalidScope, not stored, and its tokens are revoked",
    () =>
      Effect.gen(function* () {
        const hostile = yield* Hostile.make
        return yield* Effect.gen(function* () {
          hostile.script.tokens = (body) => void (body["scope"] = "openid offline_access invoice webhooks")
          const { request, service } = yield* Hostile.consent(hostile, { scopes: ["invoice"] })
          const error = yield* Effect.flip(service.complete(request))
          expect({ ...error }).toMatchObject({ _tag: "InvalidScope", scope: "webhooks" })
          expect(yield* service.merchants).toEqual([])
          expect(hostile.revoked.map((r) => r.hint).sort()).toEqual(["access_token", "refresh_token"])
        }).pipe(Effect.provide(Hostile.stack(hostile)))
      })
  )

  describe("redirect URIs: loopback in any spelling is refused in production", () => {
    const disguised = [
      "https://localhost./callback",
      "https://app.localhost/callback",
      "https://app.localhost./callback",
      "https://[::ffff:7f00:1]/callback",
      "https://[::ffff:127.0.0.2]/callback",
      "https://127.1/callback",
      "https://0.0.0.0/callback"
    ]
    for (const redirectUri of disguised) {
      it.scopedLive(
        `${redirectUri}: InvalidRequest(invalid_redirect_uri) in production, accepted in sandbox`,
        () =>
          Effect.gen(function* () {
            const hostile = yield* Hostile.make
            const begin = (kind: "sandbox" | "production") =>
              Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.begin()).pipe(
                Effect.provide(Hostile.stack(hostile, { kind, redirectUri }))
              )
            const refused = yield* Effect.flip(begin("production"))
            expect({ ...refused }).toMatchObject({ _tag: "InvalidRequest", code: "invalid_redirect_uri" })
            yield* begin("sandbox")
          })
      )
    }
  })

  it.effect("a custom environment's kind comes from MOBILEPAY_KIND", () =>
    Effect.gen(function* () {
      const read = (kind: string | undefined) =>
        Effect.withConfigProvider(
          MobilePayConfig.config(),
          ConfigProvider.fromMap(
            new Map([
              ["MOBILEPAY_ENVIRONMENT", "custom"],
              ["MOBILEPAY_DISCOVERY_URL", "https://id.example.test/.well-known/openid-configuration"],
              ["MOBILEPAY_ISSUER", "https://id.example.test"],
              ["MOBILEPAY_INTEGRATOR_TOKEN_URL", "https://id.example.test/token"],
              ["MOBILEPAY_API_BASE_URL", "https://api.example.test"],
              ["MOBILEPAY_CLIENT_ID", "client"],
              ["MOBILEPAY_CLIENT_SECRET", "secret"],
              ...(kind === undefined ? [] : [["MOBILEPAY_KIND", kind] as const])
            ]),
            { pathDelim: "_" }
          )
        )
      expect((yield* read("production")).environment.kind).toBe("production")
      expect((yield* read(undefined)).environment.kind).toBe("sandbox")
      expect(yield* Effect.flip(read("staging"))).toBeDefined()
      const production = (yield* read("production")).environment
      expect(Environment.allowsRedirectUri(production, new URL("http://localhost:3000/callback"))).toBe(false)
    })
  )
})
