import { describe, expect, it } from "@effect/vitest"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Option, Redacted, TestClock } from "effect"
import * as TokenManager from "../src/TokenManager.js"
import * as TokenVault from "../src/TokenVault.js"
import * as AuthHttp from "../src/AuthHttp.js"
import * as VippsAccessToken from "../src/VippsAccessToken.js"
import * as VippsConfig from "../src/VippsConfig.js"
import {
  configOptions,
  MANAGEMENT_CLIENT_ID,
  MANAGEMENT_SECRET,
  MERCHANTS,
  VIPPS_CLIENT_ID,
  VIPPS_CLIENT_SECRET,
  VIPPS_SECONDARY_KEY,
  VIPPS_SUBSCRIPTION_KEY,
  vippsStack
} from "./utils/vippsStack.js"

const claims = (token: Redacted.Redacted<string>) =>
  JSON.parse(Buffer.from(Redacted.value(token).split(".")[1] ?? "", "base64url").toString("utf8"))

const tokens = VippsAccessToken.VippsAccessToken
const sandbox = Sandbox.Sandbox
const fast = { http: { baseBackoff: "1 millis", maxBackoff: "5 millis", maxRetries: 2 } } as const

describe("VippsAccessToken: standard authentication against the sandbox", () => {
  it.live("POST /accesstoken/get with the credentials in headers, no body; string numbers decoded", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const set = yield* auth.accessToken()
      // The sandbox sends "3600": the token lives an hour, as in Vipps MobilePay's test environment.
      expect(set.expiresAt - set.issuedAt).toBe(3_600_000)
      expect(Option.isNone(set.refreshToken)).toBe(true)
      expect(claims(set.accessToken).msn).toBe(MERCHANTS[0])
      const [sent] = yield* sb.requests("vippsToken")
      expect(sent?.method).toBe("POST")
      expect(sent?.path).toBe("/accesstoken/get")
      const h = sent?.headers ?? {}
      expect(h.client_id).toBe(VIPPS_CLIENT_ID)
      expect(h.client_secret).toBe(VIPPS_CLIENT_SECRET)
      expect(h["ocp-apim-subscription-key"]).toBe(VIPPS_SUBSCRIPTION_KEY)
      expect(h["merchant-serial-number"]).toBe(MERCHANTS[0])
      expect(h["vipps-system-name"]).toBe("acme-pos")
      expect(h["vipps-system-version"]).toBe("4.2.0")
      expect(h["vipps-system-plugin-name"]).toBe("acme-vipps")
      expect(h["vipps-system-plugin-version"]).toBe("1.0.3")
      expect(h.authorization).toBeUndefined()
      expect(h["content-length"] ?? "0").toBe("0")
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("cached per merchant serial number: one request per key, none for repeats", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const a = yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      const b = yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "777777" }))
      const partner = yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: null }))
      const configured = yield* auth.accessToken()
      for (let i = 0; i < 3; i++) {
        yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
        yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: null }))
        yield* auth.accessToken()
      }
      expect(yield* sb.requestCount("vippsToken")).toBe(4)
      expect([a, b, partner, configured].map((t) => claims(t.accessToken).msn)).toEqual([
        "654321",
        "777777",
        undefined,
        MERCHANTS[0]
      ])
      const sent = yield* sb.requests("vippsToken")
      expect(sent[2]?.headers["merchant-serial-number"]).toBeUndefined()
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("the key names environment, client, subscription key and merchant, and holds no secret", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const target = yield* auth.target(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      expect(target.key).toMatch(/^vipps:vipps-sandbox:vipps-it-partner:standard:[0-9a-f]{16}:654321$/)
      expect(target.key).not.toContain(VIPPS_SUBSCRIPTION_KEY)
      expect(target.key).not.toContain(VIPPS_CLIENT_SECRET)
      // The same client with its second subscription key, on the same token manager: another key.
      const manager = yield* TokenManager.TokenManager
      const http = yield* AuthHttp.AuthHttp
      const second = yield* VippsAccessToken.make.pipe(
        Effect.provideService(
          VippsConfig.VippsConfig,
          VippsConfig.make(configOptions(sb.baseUrl, { subscriptionKey: Redacted.make(VIPPS_SECONDARY_KEY) }))
        ),
        Effect.provideService(TokenManager.TokenManager, manager),
        Effect.provideService(AuthHttp.AuthHttp, http)
      )
      const other = yield* second.target(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      expect(other.key).not.toBe(target.key)
      yield* auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      yield* second.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      yield* second.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "654321" }))
      expect(yield* sb.requestCount("vippsToken")).toBe(2)
      const sent = yield* sb.requests("vippsToken")
      expect(sent[1]?.headers["ocp-apim-subscription-key"]).toBe(VIPPS_SECONDARY_KEY)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live(
    "10,000 concurrent callers on a cold key make exactly one token request",
    () =>
      Effect.gen(function* () {
        const auth = yield* tokens
        const sb = yield* sandbox
        const all = yield* Effect.all(
          Array.from({ length: 10_000 }, () => auth.accessToken()),
          { concurrency: "unbounded" }
        )
        expect(yield* sb.requestCount("vippsToken")).toBe(1)
        expect(new Set(all.map((t) => Redacted.value(t.accessToken))).size).toBe(1)
      }).pipe(Effect.provide(vippsStack())),
    // It counts requests, not speed: a loaded 2-core CI machine needs more than the default 5 s.
    60_000
  )

  it.effect("on the test clock: served from cache until the refresh window, then asked for again", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const first = yield* auth.accessToken()
      yield* TestClock.adjust("55 minutes")
      const cached = yield* auth.accessToken()
      expect(Redacted.value(cached.accessToken)).toBe(Redacted.value(first.accessToken))
      expect(yield* sb.requestCount("vippsToken")).toBe(1)
      // Less than the 60 s margin left: refreshed before use; no refresh token, so ask again.
      yield* TestClock.adjust("250 seconds")
      const next = yield* auth.accessToken()
      expect(Redacted.value(next.accessToken)).not.toBe(Redacted.value(first.accessToken))
      expect(next.expiresAt).toBe(first.expiresAt + (55 * 60 + 250) * 1000)
      expect(yield* sb.requestCount("vippsToken")).toBe(2)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live(
    "a wrong client secret is InvalidClient with Azure AD's trace id, asked once, secret not shown",
    () =>
      Effect.gen(function* () {
        const auth = yield* tokens
        const sb = yield* sandbox
        const error = yield* Effect.flip(auth.accessToken())
        expect(error._tag).toBe("InvalidClient")
        expect(error._tag === "InvalidClient" && error.status).toBe(401)
        expect(error._tag === "InvalidClient" && error.traceId).toMatch(/^[0-9a-f-]{36}$/)
        expect(error.message).toContain("AADSTS7000215")
        expect(error.message).toContain("trace id")
        expect(String(error)).not.toContain("wrong-vipps-secret")
        expect(yield* sb.requestCount("vippsToken")).toBe(1)
      }).pipe(Effect.provide(vippsStack({ config: { clientSecret: Redacted.make("wrong-vipps-secret-1") } })))
  )

  it.live("an unknown client id (AADSTS700016, unauthorized_client) is InvalidClient too", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip((yield* tokens).accessToken())
      expect(error._tag).toBe("InvalidClient")
      expect(error.message).toContain("AADSTS700016")
    }).pipe(Effect.provide(vippsStack({ config: { clientId: "nobody" } })))
  )

  it.live("a wrong subscription key is the gateway's 401: InvalidClient naming the subscription key", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip((yield* tokens).accessToken())
      expect(error._tag).toBe("InvalidClient")
      expect(error.message).toContain("subscription key")
      expect(String(error)).not.toContain("not-the-key")
    }).pipe(Effect.provide(vippsStack({ config: { subscriptionKey: Redacted.make("not-the-key-77") } })))
  )

  it.live("a merchant the keys may not act for is InvalidRequest with the trace id", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        (yield* tokens).accessToken(VippsAccessToken.standard({ merchantSerialNumber: "999999" }))
      )
      expect(error._tag).toBe("InvalidRequest")
      expect(error._tag === "InvalidRequest" && error.traceId).toMatch(/^[0-9a-f-]{36}$/)
    }).pipe(Effect.provide(vippsStack()))
  )

  it.live("no subscription key configured, or a malformed merchant serial number: typed, no request", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const missing = yield* Effect.flip(auth.accessToken())
      expect(missing._tag === "InvalidRequest" && missing.code).toBe("missing_subscription_key")
      const malformed = yield* Effect.flip(
        auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber: "12ab56" }))
      )
      expect(malformed._tag === "InvalidRequest" && malformed.code).toBe("invalid_merchant_serial_number")
      expect(yield* sb.requestCount("vippsToken")).toBe(0)
    }).pipe(Effect.provide(vippsStack({ withoutSubscriptionKey: true })))
  )

  it.live("5xx retried then Transport; 429 then RateLimited; malformed JSON is ProtocolViolation", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      // A cold key each time (another merchant), so every case reaches the endpoint.
      const cases = [
        [{ errorRate: 1 }, "Transport", 3, "123456"],
        [{ status429: { retryAfterSeconds: 0 } }, "RateLimited", 3, "654321"],
        [{ malformedBody: "json" }, "ProtocolViolation", 1, "777777"],
        [{ malformedBody: "html" }, "ProtocolViolation", 1, null]
      ] as const
      for (const [fault, tag, requests, merchantSerialNumber] of cases) {
        yield* sb.resetCounts
        yield* sb.setFault("vippsToken", fault)
        const error = yield* Effect.flip(
          auth.accessToken(VippsAccessToken.standard({ merchantSerialNumber }))
        )
        expect(error._tag).toBe(tag)
        expect(yield* sb.requestCount("vippsToken")).toBe(requests)
      }
    }).pipe(Effect.provide(vippsStack(fast)))
  )
})

describe("VippsAccessToken: specialized authentication against the sandbox", () => {
  const management = {
    withoutSubscriptionKey: true,
    config: { clientId: MANAGEMENT_CLIENT_ID, clientSecret: Redacted.make(MANAGEMENT_SECRET) }
  }

  it.live("client credentials with Basic, form body, no subscription key; 15 minutes; own cache key", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const sb = yield* sandbox
      const set = yield* auth.accessToken(VippsAccessToken.specialized({ scope: "management" }))
      yield* auth.accessToken(VippsAccessToken.specialized({ scope: "management" }))
      expect(set.expiresAt - set.issuedAt).toBe(900_000)
      expect(set.scopes).toEqual(["management"])
      expect(yield* sb.requestCount("vippsSpecializedToken")).toBe(1)
      const [sent] = yield* sb.requests("vippsSpecializedToken")
      const h = sent?.headers ?? {}
      expect(sent?.path).toBe("/miami/v1/token")
      // RFC 6749 2.3.1: id and secret form-encoded, then Base64.
      const basic = Buffer.from((h.authorization ?? "").replace(/^Basic /, ""), "base64").toString("utf8")
      expect(basic.split(":").map(decodeURIComponent)).toEqual([MANAGEMENT_CLIENT_ID, MANAGEMENT_SECRET])
      expect(h["content-type"]).toContain("application/x-www-form-urlencoded")
      expect(h["ocp-apim-subscription-key"]).toBeUndefined()
      expect(h.client_secret).toBeUndefined()
      expect(h["vipps-system-name"]).toBe("acme-pos")
      const target = yield* auth.target(VippsAccessToken.specialized({ scope: "management" }))
      expect(target.key).toBe("vipps:vipps-sandbox:vipps-it-management:specialized:management")
    }).pipe(Effect.provide(vippsStack(management)))
  )

  it.live("the renamed path works through configuration", () =>
    Effect.gen(function* () {
      yield* (yield* tokens).accessToken(VippsAccessToken.specialized())
      const [sent] = yield* (yield* sandbox).requests("vippsSpecializedToken")
      expect(sent?.path).toBe("/authentication/v1/token")
    }).pipe(
      Effect.provide(
        vippsStack({
          ...management,
          config: { ...management.config, specializedTokenPath: "/authentication/v1/token" }
        })
      )
    )
  )

  it.live("a scope the keys lack is InvalidScope", () =>
    Effect.gen(function* () {
      const auth = yield* tokens
      const error = yield* Effect.flip(auth.accessToken(VippsAccessToken.specialized({ scope: "payments" })))
      expect(error._tag).toBe("InvalidScope")
    }).pipe(Effect.provide(vippsStack(management)))
  )

  it.live("a wrong secret is InvalidClient, the secret not shown", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip((yield* tokens).accessToken(VippsAccessToken.specialized()))
      expect(error._tag).toBe("InvalidClient")
      expect(String(error)).not.toContain("wrong-management")
    }).pipe(
      Effect.provide(
        vippsStack({
          ...management,
          config: { ...management.config, clientSecret: Redacted.make("wrong-management-9") }
        })
      )
    )
  )
})

describe("VippsAccessToken: shared across instances through the store", () => {
  it.live("with shareTokens, a second instance on the same vault uses the stored token", () =>
    Effect.gen(function* () {
      const sb = yield* sandbox
      const vault = yield* TokenVault.TokenVault
      const http = yield* AuthHttp.AuthHttp
      const config = VippsConfig.make(configOptions(sb.baseUrl, { shareTokens: true }))
      // Two instances: each its own token manager and service, one store between them.
      const instance = Effect.gen(function* () {
        const manager = yield* TokenManager.make()
        return yield* VippsAccessToken.make.pipe(
          Effect.provideService(TokenManager.TokenManager, manager),
          Effect.provideService(VippsConfig.VippsConfig, config),
          Effect.provideService(AuthHttp.AuthHttp, http)
        )
      }).pipe(Effect.provideService(TokenVault.TokenVault, vault))
      const first = yield* instance
      const second = yield* instance
      const a = yield* first.accessToken()
      const b = yield* second.accessToken()
      expect(Redacted.value(b.accessToken)).toBe(Redacted.value(a.accessToken))
      expect(yield* sb.requestCount("vippsToken")).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(vippsStack()))
  )
})
