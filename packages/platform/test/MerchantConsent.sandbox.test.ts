/**
 * MerchantConsent against the offline sandbox, over real loopback HTTP: the browser walks the
 * sandbox's login and consent pages, the platform talks to its discovery, JWKS and token
 * endpoints, and the tokens it serves are used at the sandbox's API. The sandbox is started
 * inside each test, so it reads the same clock as the platform: `TestClock`, and for the
 * 30-day run a simulated clock that is as still but cheaper to move (see `simulatedClock`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Clock, Effect, Redacted, TestClock } from "effect"
import * as MerchantConsent from "../src/MerchantConsent.js"
import {
  authorize,
  cafe,
  claimsOf,
  deliver,
  formPost,
  halfHash,
  layer,
  merchantsMe,
  paramsOf,
  redirectUri,
  simulatedClock,
  storedRefreshToken,
  tokenRequest
} from "./consent/sandbox.js"

const merchantTokenRequests = Effect.flatMap(Sandbox.Sandbox, (s) => s.requestCount("merchantToken"))

/** A consent for the café, completed from the callback the browser delivered. */
const consented = (options: MerchantConsent.BeginOptions = {}) =>
  Effect.gen(function* () {
    const consent = yield* MerchantConsent.MerchantConsent
    const { callback } = yield* authorize(options)
    return yield* consent.complete(deliver(callback))
  })

describe("MerchantConsent against the sandbox", () => {
  for (const responseMode of ["form_post", "fragment"] as const) {
    it.effect(`${responseMode}: consent, access token, and a 200 from the API for the right merchant`, () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const { callback, started } = yield* authorize({ responseMode })
        expect(new URL(started.url).searchParams.get("response_mode")).toBe(responseMode)
        expect(callback._tag).toBe(responseMode === "form_post" ? "FormPost" : "Redirect")
        const done = yield* consent.complete(deliver(callback))
        expect(done.merchant).toBe(cafe.merchantId)
        expect(done.merchantVat._tag === "Some" ? done.merchantVat.value : undefined).toBe(cafe.vat)
        expect(done.expiresAt).toBe(300_000)
        expect(yield* merchantTokenRequests).toBe(1)

        const token = yield* consent.accessToken(done.merchant)
        expect(yield* merchantTokenRequests).toBe(1)
        const me = yield* merchantsMe(token)
        expect(me).toEqual({
          status: 200,
          body: { merchantId: cafe.merchantId, vatNumber: cafe.vat, name: cafe.name }
        })
        expect((yield* consent.merchants).map((m) => m.merchant)).toEqual([cafe.merchantId])
      }).pipe(Effect.provide(layer()))
    )
  }

  it.effect("a merchant who denies consent: ConsentRequired(declined), the state is used up", () =>
    Effect.gen(function* () {
      const consent = yield* MerchantConsent.MerchantConsent
      const { callback } = yield* authorize({}, { deny: true })
      expect(paramsOf(callback).get("error")).toBe("access_denied")
      expect(yield* Effect.flip(consent.complete(deliver(callback)))).toMatchObject({
        _tag: "ConsentRequired",
        reason: "declined",
        merchant: cafe.vat
      })
      expect(yield* Effect.flip(consent.complete(deliver(callback)))).toMatchObject({
        _tag: "StateMismatch",
        reason: "replayed"
      })
      expect(yield* merchantTokenRequests).toBe(0)
      expect(yield* consent.merchants).toEqual([])
    }).pipe(Effect.provide(layer()))
  )

  for (const rotation of ["one-time", "reuse"] as const) {
    it.effect(
      `rotation ${rotation}: after expiry the stored refresh token is ${rotation === "one-time" ? "replaced" : "kept"}`,
      () =>
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const { merchant } = yield* consented()
          const initial = yield* storedRefreshToken(merchant)
          expect(initial).toBeDefined()
          const first = yield* consent.accessToken(merchant)
          expect(yield* merchantTokenRequests).toBe(1)

          yield* TestClock.adjust("301 seconds")
          expect((yield* merchantsMe(first)).status).toBe(401)
          const second = yield* consent.accessToken(merchant)
          expect(Redacted.value(second)).not.toBe(Redacted.value(first))
          expect(yield* merchantTokenRequests).toBe(2)
          expect((yield* merchantsMe(second)).status).toBe(200)
          const after = yield* storedRefreshToken(merchant)
          if (rotation === "one-time") expect(after).not.toBe(initial)
          else expect(after).toBe(initial)

          // The stored refresh token is the one that works next time.
          yield* TestClock.adjust("301 seconds")
          yield* consent.accessToken(merchant)
          expect(yield* merchantTokenRequests).toBe(3)
          // One-time: the first refresh token was spent at the provider; reuse: it still works.
          const again = yield* tokenRequest({ grant_type: "refresh_token", refresh_token: initial ?? "" })
          expect(again.status).toBe(rotation === "one-time" ? 400 : 200)
        }).pipe(Effect.provide(layer({ client: { rotation } })))
    )
  }

  it.effect("one-time rotation: 50 callers at expiry share one refresh, and the grant survives", () =>
    Effect.gen(function* () {
      const consent = yield* MerchantConsent.MerchantConsent
      const { merchant } = yield* consented()
      yield* TestClock.adjust("301 seconds")
      const tokens = yield* Effect.all(
        Array.from({ length: 50 }, () => consent.accessToken(merchant)),
        { concurrency: "unbounded" }
      )
      expect(new Set(tokens.map(Redacted.value)).size).toBe(1)
      expect(yield* merchantTokenRequests).toBe(2)
      // A second, concurrent refresh would have spent the rotated token and lost the grant.
      yield* TestClock.adjust("301 seconds")
      expect((yield* merchantsMe(yield* consent.accessToken(merchant))).status).toBe(200)
      expect(yield* merchantTokenRequests).toBe(3)
    }).pipe(Effect.provide(layer({ client: { rotation: "one-time" } })))
  )

  it.effect(
    "revoke: the provider revokes the refresh token and its access tokens, the grant is deleted",
    () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        const consent = yield* MerchantConsent.MerchantConsent
        const { merchant } = yield* consented()
        const token = yield* consent.accessToken(merchant)
        const refreshToken = yield* storedRefreshToken(merchant)
        expect(yield* consent.revoke(merchant)).toEqual({ merchant, removed: true, provider: "revoked" })
        expect(yield* sandbox.requestCount("revocation")).toBe(1)
        expect((yield* merchantsMe(token)).status).toBe(401)
        expect(
          yield* tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken ?? "" })
        ).toMatchObject({ status: 400, body: { error: "invalid_grant" } })
        expect(yield* consent.merchants).toEqual([])
        expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
          _tag: "ConsentRequired",
          reason: "missing"
        })
      }).pipe(Effect.provide(layer()))
  )

  describe("a provider that requires the code_verifier on refresh", () => {
    it.effect("the stored verifier is sent (sendVerifierOnRefresh: true) and the refresh succeeds", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const { merchant } = yield* consented()
        yield* TestClock.adjust("301 seconds")
        const token = yield* consent.accessToken(merchant)
        expect(yield* merchantTokenRequests).toBe(2)
        expect((yield* merchantsMe(token)).status).toBe(200)
      }).pipe(
        Effect.provide(layer({ client: { requireVerifierOnRefresh: true }, sendVerifierOnRefresh: true }))
      )
    )

    it.effect("without it (sendVerifierOnRefresh: false) the refresh fails with ConsentRequired", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const { merchant } = yield* consented()
        yield* TestClock.adjust("301 seconds")
        expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
          _tag: "ConsentRequired",
          merchant
        })
        expect(yield* merchantTokenRequests).toBe(2)
      }).pipe(
        Effect.provide(layer({ client: { requireVerifierOnRefresh: true }, sendVerifierOnRefresh: false }))
      )
    )
  })

  it.effect("revoked consent: the fresh token gets 401, then ConsentRequired and the grant is gone", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      const consent = yield* MerchantConsent.MerchantConsent
      const { merchant } = yield* consented()
      const token = yield* consent.accessToken(merchant)
      expect((yield* merchantsMe(token)).status).toBe(200)

      expect(yield* sandbox.revokeConsent(cafe.vat)).toBe(1)
      expect((yield* merchantsMe(token)).status).toBe(401)
      // Nothing tells the client yet: the token is still within its lifetime.
      expect(Redacted.value(yield* consent.accessToken(merchant))).toBe(Redacted.value(token))

      yield* TestClock.adjust("301 seconds")
      expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
        _tag: "ConsentRequired",
        reason: "revoked",
        merchant
      })
      expect(yield* merchantTokenRequests).toBe(2)
      expect(yield* consent.merchants).toEqual([])
      expect(yield* storedRefreshToken(merchant)).toBeUndefined()
    }).pipe(Effect.provide(layer()))
  )

  describe("replays", () => {
    it.effect("the same callback twice is StateMismatch(replayed); the code is not sent again", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const { callback } = yield* authorize()
        const { merchant } = yield* consent.complete(deliver(callback))
        expect(yield* Effect.flip(consent.complete(deliver(callback)))).toMatchObject({
          _tag: "StateMismatch",
          reason: "replayed"
        })
        expect(yield* merchantTokenRequests).toBe(1)
        // Our refusal did not make the provider revoke anything.
        expect((yield* merchantsMe(yield* consent.accessToken(merchant))).status).toBe(200)
      }).pipe(Effect.provide(layer()))
    )

    it.effect(
      "a used code presented again at the token endpoint is InvalidGrant and revokes its tokens",
      () =>
        Effect.gen(function* () {
          const sandbox = yield* Sandbox.Sandbox
          const consent = yield* MerchantConsent.MerchantConsent
          const first = yield* authorize()
          const { merchant } = yield* consent.complete(deliver(first.callback))
          const token = yield* consent.accessToken(merchant)
          const usedCode = paramsOf(first.callback).get("code") ?? ""

          // A second authorization whose front channel carries the first code, under a valid
          // (sandbox-signed) ID token: this passes our callback checks, so the code reaches the
          // token endpoint a second time.
          const second = paramsOf((yield* authorize()).callback)
          const claims = claimsOf(second.get("id_token") ?? "")
          second.set("code", usedCode)
          second.set("id_token", yield* sandbox.signJwt({ ...claims, c_hash: yield* halfHash(usedCode) }))
          expect(yield* Effect.flip(consent.complete(formPost(second)))).toMatchObject({
            _tag: "InvalidGrant",
            status: 400
          })
          expect(yield* merchantTokenRequests).toBe(2)

          // The provider revoked what the code issued: the access token now, the refresh token later.
          expect((yield* merchantsMe(token)).status).toBe(401)
          yield* TestClock.adjust("301 seconds")
          expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
            _tag: "ConsentRequired",
            reason: "revoked"
          })
          expect(yield* consent.merchants).toEqual([])
        }).pipe(Effect.provide(layer()))
    )

    it.effect("a used code sent directly to the token endpoint revokes the grant it issued", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const { callback } = yield* authorize()
        const { merchant } = yield* consent.complete(deliver(callback))
        const token = yield* consent.accessToken(merchant)
        const replay = yield* tokenRequest({
          grant_type: "authorization_code",
          code: paramsOf(callback).get("code") ?? "",
          redirect_uri: redirectUri,
          code_verifier: "x".repeat(43)
        })
        expect(replay).toMatchObject({ status: 400, body: { error: "invalid_grant" } })
        expect((yield* merchantsMe(token)).status).toBe(401)
        yield* TestClock.adjust("301 seconds")
        expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({ _tag: "ConsentRequired" })
      }).pipe(Effect.provide(layer()))
    )

    it.effect("a used state carrying another authorization's code is StateMismatch(replayed)", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const first = yield* authorize()
        yield* consent.complete(deliver(first.callback))
        const second = yield* authorize()

        const replayed = paramsOf(second.callback)
        replayed.set("state", first.started.state)
        expect(yield* Effect.flip(consent.complete(formPost(replayed)))).toMatchObject({
          _tag: "StateMismatch",
          reason: "replayed"
        })
        const forged = paramsOf(second.callback)
        forged.set("state", "f".repeat(43))
        expect(yield* Effect.flip(consent.complete(formPost(forged)))).toMatchObject({
          _tag: "StateMismatch",
          reason: "unknown"
        })
        expect(yield* merchantTokenRequests).toBe(1)
        // Neither attempt used up the second authorization.
        expect((yield* consent.complete(deliver(second.callback))).merchant).toBe(cafe.merchantId)
        expect(yield* merchantTokenRequests).toBe(2)

        const late = yield* authorize()
        yield* TestClock.adjust("10 minutes")
        expect(yield* Effect.flip(consent.complete(deliver(late.callback)))).toMatchObject({
          _tag: "StateMismatch",
          reason: "expired"
        })
        expect(yield* merchantTokenRequests).toBe(2)
      }).pipe(Effect.provide(layer()))
    )
  })

  describe("a tampered front-channel ID token", () => {
    const resign = (
      change: (claims: Record<string, unknown>) => Record<string, unknown>,
      options: { readonly foreign?: boolean } = {}
    ) =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        const params = paramsOf((yield* authorize()).callback)
        const claims = claimsOf(params.get("id_token") ?? "")
        params.set("id_token", yield* sandbox.signJwt(change(claims), options))
        return formPost(params)
      })

    it.effect("control: re-signed by the sandbox with its claims unchanged, the callback completes", () =>
      Effect.gen(function* () {
        const consent = yield* MerchantConsent.MerchantConsent
        const done = yield* consent.complete(yield* resign((claims) => claims))
        expect(done.merchant).toBe(cafe.merchantId)
      }).pipe(Effect.provide(layer()))
    )

    const cases: ReadonlyArray<
      readonly [string, string, (claims: Record<string, unknown>) => Record<string, unknown>, boolean]
    > = [
      ["nonce", "with another nonce", (c) => ({ ...c, nonce: "another-nonce" }), false],
      ["c_hash", "with a c_hash of another code", (c) => ({ ...c, c_hash: "AAAAAAAAAAAAAAAAAAAAAA" }), false],
      ["audience", "for another client (aud)", (c) => ({ ...c, aud: "another-client" }), false],
      ["issuer", "from another issuer", (c) => ({ ...c, iss: "https://api.mobilepay.fi/merchant" }), false],
      ["expired", "expired (exp)", (c) => ({ ...c, exp: Number(c["iat"]) - 120 }), false],
      ["signature", "signed with a key the JWKS does not hold", (c) => c, true]
    ]
    for (const [check, what, change, foreign] of cases) {
      it.effect(`${what}: IdTokenRejected(${check}), and the code is never redeemed`, () =>
        Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const callback = yield* resign(change, { foreign })
          expect(yield* Effect.flip(consent.complete(callback))).toMatchObject({
            _tag: "IdTokenRejected",
            check
          })
          expect(yield* merchantTokenRequests).toBe(0)
          expect(yield* consent.merchants).toEqual([])
        }).pipe(Effect.provide(layer()))
      )
    }
  })

  for (const [label, issuer] of [
    ["another issuer", () => "https://api.mobilepay.fi/merchant"],
    ["the discovery host as issuer", (s: Sandbox.Sandbox.Service) => `${s.baseUrl}/account`]
  ] as const) {
    it.effect(`configured with ${label}: discovery is rejected as issuer-mismatch, and not cached`, () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        const consent = yield* MerchantConsent.MerchantConsent
        for (let attempt = 1; attempt <= 2; attempt++) {
          expect(yield* Effect.flip(consent.begin({ merchantVat: cafe.vat }))).toMatchObject({
            _tag: "ProtocolViolation",
            reason: "issuer-mismatch"
          })
          expect(yield* sandbox.requestCount("discovery")).toBe(attempt)
        }
        expect(yield* sandbox.requestCount("authorize")).toBe(0)
      }).pipe(Effect.provide(layer({ issuer })))
    )
  }
})

describe("MerchantConsent against the sandbox over 30 simulated days", () => {
  // Steps of 230 s: a 300 s token is served from cache at +230 s (before its refresh-ahead
  // window, which opens between +240 s and +255 s) and refreshed in the caller at +460 s (past
  // its stale instant, +270 s). So every refresh is synchronous and none runs in the
  // background while the clock jumps, and the count is exact: one refresh per two steps.
  const step = 230
  const days = 30
  const steps = Math.ceil((days * 24 * 3600) / step)
  const refreshTokenLifetime = 2 * 24 * 3600

  it.effect(
    "one-time rotation, 300 s tokens, a 2-day sliding refresh token: never an expired token, never a 401",
    () => {
      const { advance, clock } = simulatedClock()
      return Effect.gen(function* () {
        const sandbox = yield* Sandbox.Sandbox
        const consent = yield* MerchantConsent.MerchantConsent
        const { merchant } = yield* consented()
        const initialRefreshToken = yield* storedRefreshToken(merchant)
        const stats = { distinctTokens: 0, outsideLifetime: 0, apiCalls: 0, apiFailures: 0 }
        let last = ""
        for (let i = 1; i <= steps; i++) {
          yield* advance(`${step} seconds`)
          const token = Redacted.value(yield* consent.accessToken(merchant))
          const now = yield* Clock.currentTimeMillis
          // Never an expired token, nor one inside the 30 s safety margin; and the sandbox
          // stamps its tokens with the same (simulated) clock.
          const left = Number(claimsOf(token)["exp"]) * 1000 - now
          if (left < 30_000 || left > 300_000) stats.outsideLifetime++
          if (token !== last) stats.distinctTokens++
          last = token
          if (i % 16 === 0) {
            stats.apiCalls++
            if ((yield* merchantsMe(token)).status !== 200) stats.apiFailures++
          }
        }
        const elapsed = yield* Clock.currentTimeMillis
        expect(elapsed).toBeGreaterThanOrEqual(days * 24 * 3600 * 1000)
        expect(elapsed).toBeGreaterThan(10 * refreshTokenLifetime * 1000)
        const refreshes = Math.floor(steps / 2)
        expect(yield* sandbox.requestCount("merchantToken")).toBe(1 + refreshes)
        expect(stats).toEqual({
          distinctTokens: 1 + refreshes,
          outsideLifetime: 0,
          apiCalls: Math.floor(steps / 16),
          apiFailures: 0
        })
        // Thirty days is fifteen refresh-token lifetimes: only rotation with sliding kept it alive.
        expect((yield* consent.merchants).map((m) => m.merchant)).toEqual([merchant])
        expect(yield* storedRefreshToken(merchant)).not.toBe(initialRefreshToken)
        expect(
          (yield* tokenRequest({ grant_type: "refresh_token", refresh_token: initialRefreshToken ?? "" }))
            .status
        ).toBe(400)

        // Left unused for longer than its lifetime, the refresh token does expire.
        yield* advance(`${refreshTokenLifetime + 1} seconds`)
        expect(yield* Effect.flip(consent.accessToken(merchant))).toMatchObject({
          _tag: "ConsentRequired",
          merchant
        })
      }).pipe(
        Effect.provide(layer({ client: { rotation: "one-time" }, sandbox: { refreshTokenLifetime } })),
        Effect.withClock(clock)
      )
    },
    300_000
  )
})
