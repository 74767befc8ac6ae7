/**
 * Merchant-consent tests against the in-memory provider: the flow's own rules (state, nonce,
 * scopes, redirect URIs, ID token checks, storage) without sockets. Imported by
 * MerchantConsent.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Environment } from "@mobilepay-auth/domain"
import { Effect, Option, Redacted, TestClock } from "effect"
import * as MerchantConsent from "../../src/MerchantConsent.js"
import * as TokenManager from "../../src/TokenManager.js"
import * as Fake from "./fakeProvider.js"
import { predictedRefreshes, thirtyDays } from "./simulation.js"
import { stack } from "./stack.js"

const environment = (kind: "sandbox" | "production" = "sandbox") =>
  Environment.custom({
    kind,
    discoveryUrl: Fake.discoveryUrl,
    issuer: Fake.issuer,
    integratorTokenUrl: "https://api.mobilepay.test/integrator-authentication/connect/token",
    apiBaseUrl: "https://api.mobilepay.test"
  })

const clientId = "integrator-client"
const redirectUri = "https://app.example.test/callback"

const withFake = <A, E>(
  body: (
    fake: Effect.Effect.Success<ReturnType<typeof Fake.make>>
  ) => Effect.Effect<A, E, MerchantConsent.MerchantConsent | TokenManager.TokenManager>,
  options: {
    rotation?: "reuse" | "one-time"
    kind?: "sandbox" | "production"
    redirectUri?: string
    sendVerifierOnRefresh?: boolean
    offlineAccessNeedsPromptConsent?: boolean
  } = {}
) =>
  Effect.gen(function* () {
    const fake = yield* Fake.make({
      clientId,
      ...(options.rotation ? { rotation: options.rotation } : {}),
      offlineAccessNeedsPromptConsent: options.offlineAccessNeedsPromptConsent ?? false
    })
    return yield* body(fake).pipe(
      Effect.provide(
        stack(fake.layer, {
          environment: environment(options.kind),
          clientId,
          redirectUri: options.redirectUri ?? redirectUri,
          ...(options.sendVerifierOnRefresh === undefined
            ? {}
            : { sendVerifierOnRefresh: options.sendVerifierOnRefresh })
        })
      )
    )
  })

const consentFor = (
  fake: Effect.Effect.Success<ReturnType<typeof Fake.make>>,
  tamper?: (c: Record<string, unknown>) => void
) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const started = yield* consent.begin({ merchantVat: "dk 1234 5678", scopes: ["invoice"] })
    const callback = yield* fake.authorize(started.url, tamper)
    // The browser that began the consent completes it: its binding goes with every completion.
    const bound: MerchantConsent.MerchantConsent.Service = {
      ...consent,
      complete: (input, options) =>
        consent.complete(input, options ?? { binding: Option.getOrUndefined(started.binding) })
    }
    return { consent: bound, started, callback }
  })

export const unitSuite = () =>
  describe("MerchantConsent (in-memory provider)", () => {
    it.effect("begin builds MobilePay's hybrid-flow authorize URL", () =>
      withFake(() =>
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const started = yield* consent.begin({ merchantVat: "DK12345678", scopes: ["invoice"] })
          const url = new URL(started.url)
          expect(`${url.origin}${url.pathname}`).toBe(`${Fake.host}/account/connect/authorize`)
          const p = url.searchParams
          expect(p.get("response_type")).toBe("code id_token")
          expect(p.get("response_mode")).toBe("form_post")
          expect(p.get("client_id")).toBe(clientId)
          expect(p.get("redirect_uri")).toBe(redirectUri)
          expect(p.get("scope")).toBe("openid offline_access invoice")
          expect(p.get("state")).toBe(started.state)
          expect(p.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/)
          expect(p.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/)
          expect(p.get("code_challenge_method")).toBe("S256")
          expect(p.get("merchant_vat")).toBe("DK12345678")
          expect(started.expiresAt).toBe(10 * 60 * 1000)
        })
      )
    )

    it.effect(
      "begin sends prompt, max_age, ui_locales and login_hint when given, and refuses malformed ones",
      () =>
        withFake(() =>
          Effect.gen(function* () {
            const consent = yield* MerchantConsent.MerchantConsent
            const plain = new URL((yield* consent.begin({ bindToUserAgent: false })).url).searchParams
            for (const name of ["prompt", "max_age", "ui_locales", "login_hint"])
              expect(plain.has(name)).toBe(false)
            const started = yield* consent.begin({
              bindToUserAgent: false,
              prompt: ["login", "consent"],
              maxAge: 600,
              uiLocales: ["da", "en-GB"],
              loginHint: "merchant@example.test"
            })
            const p = new URL(started.url).searchParams
            expect(p.get("prompt")).toBe("login consent")
            expect(p.get("max_age")).toBe("600")
            expect(p.get("ui_locales")).toBe("da en-GB")
            expect(p.get("login_hint")).toBe("merchant@example.test")
            for (const bad of [
              { prompt: ["none", "consent"] as const },
              { maxAge: -1 },
              { maxAge: 1.5 },
              { uiLocales: ["da dk"] },
              { loginHint: "a\nb" }
            ]) {
              expect(yield* Effect.flip(consent.begin({ bindToUserAgent: false, ...bad }))).toMatchObject({
                _tag: "InvalidRequest",
                code: "invalid_authorization_parameter"
              })
            }
          })
        )
    )

    it.effect(
      "a provider that drops offline_access without prompt=consent: complete says no-refresh-token; with it, consent works",
      () =>
        withFake(
          (fake) =>
            Effect.gen(function* () {
              const consent = yield* MerchantConsent.MerchantConsent
              const manager = yield* TokenManager.TokenManager
              const plain = yield* consent.begin({ merchantVat: "DK12345678", bindToUserAgent: false })
              const refused = yield* Effect.flip(consent.complete(yield* fake.authorize(plain.url)))
              expect(refused).toMatchObject({ _tag: "ProtocolViolation", reason: "no-refresh-token" })
              expect(refused.message).toContain("prompt")
              expect((yield* consent.merchants).length).toBe(0)
              const asked = yield* consent.begin({
                merchantVat: "DK12345678",
                bindToUserAgent: false,
                prompt: "consent"
              })
              const done = yield* consent.complete(yield* fake.authorize(asked.url))
              const stored = yield* manager.stored(`merchant:${clientId}:${done.merchant}`)
              expect(Option.flatMap(stored, (g) => g.tokens.refreshToken).pipe(Option.isSome)).toBe(true)
            }),
          { offlineAccessNeedsPromptConsent: true }
        )
    )

    it.effect("begin rejects unknown and unconfigured scopes, bad VATs, and localhost outside sandbox", () =>
      Effect.gen(function* () {
        yield* withFake(() =>
          Effect.gen(function* () {
            const consent = yield* MerchantConsent.MerchantConsent
            expect((yield* Effect.flip(consent.begin({ scopes: ["invoice", "everything"] })))._tag).toBe(
              "InvalidScope"
            )
            expect((yield* Effect.flip(consent.begin({ scopes: ["webhooks"] })))._tag).toBe("InvalidScope")
            expect((yield* Effect.flip(consent.begin({ merchantVat: "SE12345678" })))._tag).toBe("InvalidVat")
          })
        )
        const production = yield* withFake(
          () => Effect.flip(Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.begin())),
          { kind: "production", redirectUri: "http://localhost:3000/callback" }
        )
        expect(production._tag).toBe("InvalidRequest")
        const sandbox = yield* withFake(
          () => Effect.flatMap(MerchantConsent.MerchantConsent, (c) => c.begin()),
          {
            redirectUri: "http://localhost:3000/callback"
          }
        )
        expect(new URL(sandbox.url).searchParams.get("redirect_uri")).toBe("http://localhost:3000/callback")
      })
    )

    it.effect(
      "complete installs the grant under the merchant_id claim; the token is served from the store",
      () =>
        withFake((fake) =>
          Effect.gen(function* () {
            const { callback, consent } = yield* consentFor(fake)
            const done = yield* consent.complete(callback)
            expect(done.merchant).toBe("m-DK12345678")
            expect(Option.getOrNull(done.merchantVat)).toBe("DK12345678")
            expect(done.scopes).toEqual(["openid", "offline_access", "invoice"])
            const manager = yield* TokenManager.TokenManager
            const stored = yield* manager.stored(`merchant:${clientId}:m-DK12345678`)
            expect(Option.isSome(stored)).toBe(true)
            const token = yield* consent.accessToken("m-DK12345678")
            expect(Option.map(stored, (g) => Redacted.value(g.tokens.accessToken))).toEqual(
              Option.some(Redacted.value(token))
            )
            expect(fake.counters.token).toBe(1)
            const listed = yield* consent.merchants
            expect(listed.map((m) => m.merchant)).toEqual(["m-DK12345678"])
            expect(JSON.stringify(listed)).not.toContain(Redacted.value(token))
          })
        )
    )

    it.effect("fragment mode: complete accepts the full redirect URL with its fragment", () =>
      withFake((fake) =>
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const started = yield* consent.begin({ merchantVat: "FI1234567-8", responseMode: "fragment" })
          expect(new URL(started.url).searchParams.get("response_mode")).toBe("fragment")
          const callback = yield* fake.authorize(started.url)
          const done = yield* consent.complete(`${redirectUri}#${callback}`, {
            binding: Option.getOrUndefined(started.binding)
          })
          expect(done.merchant).toBe("m-FI12345678")
          yield* consent.accessToken(done.merchant)
        })
      )
    )

    it.effect("state: missing, unknown, replayed and expired are StateMismatch", () =>
      withFake((fake) =>
        Effect.gen(function* () {
          const { callback, consent } = yield* consentFor(fake)
          const noState = new URLSearchParams(callback)
          noState.delete("state")
          expect(yield* Effect.flip(consent.complete(noState))).toMatchObject({
            _tag: "StateMismatch",
            reason: "missing"
          })
          const forged = new URLSearchParams(callback)
          forged.set("state", "x".repeat(43))
          expect(yield* Effect.flip(consent.complete(forged))).toMatchObject({
            _tag: "StateMismatch",
            reason: "unknown"
          })
          yield* consent.complete(callback)
          // However many times it comes back, a used callback is named a replay.
          for (let replay = 0; replay < 3; replay++) {
            expect(yield* Effect.flip(consent.complete(callback))).toMatchObject({
              _tag: "StateMismatch",
              reason: "replayed"
            })
          }

          const late = yield* consentFor(fake)
          yield* TestClock.adjust("10 minutes")
          expect(yield* Effect.flip(consent.complete(late.callback))).toMatchObject({
            _tag: "StateMismatch",
            reason: "expired"
          })
        })
      )
    )

    it.effect("an authorization error becomes a typed error, and uses up the state", () =>
      withFake(() =>
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const started = yield* consent.begin({ merchantVat: "DK12345678" })
          const denied = new URLSearchParams({ error: "access_denied", state: started.state })
          const binding = Option.getOrUndefined(started.binding)
          expect(yield* Effect.flip(consent.complete(denied, { binding }))).toMatchObject({
            _tag: "ConsentRequired",
            reason: "declined"
          })
          expect(yield* Effect.flip(consent.complete(denied, { binding }))).toMatchObject({
            _tag: "StateMismatch"
          })
        })
      )
    )

    const tampered: ReadonlyArray<readonly [string, (c: Record<string, unknown>) => void]> = [
      ["nonce", (c) => void (c["nonce"] = "another-nonce")],
      ["c_hash", (c) => void (c["c_hash"] = "AAAAAAAAAAAAAAAAAAAAAA")],
      ["audience", (c) => void (c["aud"] = "someone-else")],
      ["issuer", (c) => void (c["iss"] = "https://evil.test/merchant")],
      ["expired", (c) => void (c["exp"] = Number(c["iat"]) - 120)]
    ]
    for (const [check, tamper] of tampered) {
      it.effect(`a front-channel ID token with a wrong ${check} is IdTokenRejected(${check})`, () =>
        withFake((fake) =>
          Effect.gen(function* () {
            const { callback, consent } = yield* consentFor(fake, tamper)
            expect(yield* Effect.flip(consent.complete(callback))).toMatchObject({
              _tag: "IdTokenRejected",
              check
            })
            expect(fake.counters.token).toBe(0)
          })
        )
      )
    }

    it.effect("a front-channel ID token with a forged signature is IdTokenRejected(signature)", () =>
      withFake((fake) =>
        Effect.gen(function* () {
          const { callback, consent } = yield* consentFor(fake)
          const [head, , sig] = (callback.get("id_token") ?? "").split(".")
          const payload = JSON.parse(
            atob((callback.get("id_token") ?? "").split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))
          )
          payload.sub = "someone-else"
          const body = btoa(JSON.stringify(payload))
            .replace(/\+/g, "-")
            .replace(/\//g, "_")
            .replace(/=+$/, "")
          callback.set("id_token", `${head}.${body}.${sig}`)
          expect(yield* Effect.flip(consent.complete(callback))).toMatchObject({
            _tag: "IdTokenRejected",
            check: "signature"
          })
        })
      )
    )

    for (const rotation of ["reuse", "one-time"] as const) {
      it.effect(`refresh with rotation ${rotation}: persisted before use, verifier sent`, () =>
        withFake(
          (fake) =>
            Effect.gen(function* () {
              const { callback, consent } = yield* consentFor(fake)
              const { merchant } = yield* consent.complete(callback)
              const manager = yield* TokenManager.TokenManager
              const key = `merchant:${clientId}:${merchant}`
              const before = yield* manager.stored(key)
              const first = yield* consent.accessToken(merchant)
              yield* TestClock.adjust("5 minutes")
              const second = yield* consent.accessToken(merchant)
              expect(Redacted.value(second)).not.toBe(Redacted.value(first))
              expect(fake.counters.refresh).toBe(1)
              expect(fake.counters.verifierSent).toBe(1)
              const after = yield* manager.stored(key)
              const rt = (g: typeof after) =>
                Option.getOrNull(Option.flatMap(g, (x) => Option.map(x.tokens.refreshToken, Redacted.value)))
              if (rotation === "reuse") expect(rt(after)).toBe(rt(before))
              else expect(rt(after)).not.toBe(rt(before))
              expect(Option.map(after, (g) => Redacted.value(g.tokens.accessToken))).toEqual(
                Option.some(Redacted.value(second))
              )
              // And the rotated one works for the next refresh.
              yield* TestClock.adjust("5 minutes")
              yield* consent.accessToken(merchant)
              expect(fake.counters.refresh).toBe(2)
            }),
          { rotation }
        )
      )
    }

    it.effect("refresh without the verifier when configured so", () =>
      withFake(
        (fake) =>
          Effect.gen(function* () {
            const { callback, consent } = yield* consentFor(fake)
            const { merchant } = yield* consent.complete(callback)
            yield* TestClock.adjust("5 minutes")
            yield* consent.accessToken(merchant)
            expect(fake.counters.refresh).toBe(1)
            expect(fake.counters.verifierSent).toBe(0)
          }),
        { sendVerifierOnRefresh: false }
      )
    )

    it.effect(
      "no stored consent is ConsentRequired(missing); revoked consent is ConsentRequired(revoked) and deleted",
      () =>
        withFake((fake) =>
          Effect.gen(function* () {
            const { callback, consent } = yield* consentFor(fake)
            expect(yield* Effect.flip(consent.accessToken("DK99999999"))).toMatchObject({
              _tag: "ConsentRequired",
              reason: "missing",
              merchant: "DK99999999"
            })
            const { merchant } = yield* consent.complete(callback)
            yield* consent.accessToken(merchant)
            fake.revokeAll()
            yield* TestClock.adjust("5 minutes")
            expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
              _tag: "ConsentRequired",
              reason: "revoked",
              merchant
            })
            const manager = yield* TokenManager.TokenManager
            expect(Option.isNone(yield* manager.stored(`merchant:${clientId}:${merchant}`))).toBe(true)
            expect(yield* consent.merchants).toEqual([])
          })
        )
    )

    it.effect("revoke calls the revocation endpoint, then deletes the grant", () =>
      withFake((fake) =>
        Effect.gen(function* () {
          const { callback, consent } = yield* consentFor(fake)
          const { merchant } = yield* consent.complete(callback)
          const result = yield* consent.revoke(merchant)
          expect(result).toEqual({ merchant, removed: true, provider: "revoked" })
          expect(fake.counters.revoke).toBe(1)
          expect(yield* consent.merchants).toEqual([])
          expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({ _tag: "ConsentRequired" })
          expect(yield* consent.revoke(merchant)).toEqual({
            merchant,
            removed: false,
            provider: "nothing-to-revoke"
          })
        })
      )
    )
  })

export const simulationSuite = () =>
  describe("MerchantConsent over 30 simulated days (in-memory provider)", () => {
    it.effect(
      "300 s tokens and a 2-hour sliding refresh token: refreshed as predicted, never expired",
      () =>
        Effect.gen(function* () {
          const fake = yield* Fake.make({ clientId, rotation: "one-time", refreshTokenSeconds: 7200 })
          return yield* Effect.gen(function* () {
            const { callback, consent } = yield* consentFor(fake)
            const { merchant } = yield* consent.complete(callback)
            const result = yield* thirtyDays(merchant)
            expect(fake.counters.refresh).toBe(predictedRefreshes)
            expect(result.distinctTokens).toBe(predictedRefreshes + 1)
            // 30 days > the 2-hour lifetime: only sliding kept the consent alive.
            expect((yield* consent.merchants).map((m) => m.merchant)).toEqual([merchant])
          }).pipe(Effect.provide(stack(fake.layer, { environment: environment(), clientId, redirectUri })))
        }),
      120_000
    )
  })
