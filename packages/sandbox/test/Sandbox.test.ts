import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Flow from "./flow.js"

describe("discovery and keys", () => {
  it.effect("publishes MobilePay's endpoints with an issuer that differs from the discovery URL", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const doc = JSON.parse((yield* Flow.http(sandbox.discoveryUrl)).text)
        expect(doc.issuer).toBe("https://api.mobilepay.dk/merchant")
        expect(sandbox.discoveryUrl.startsWith(doc.issuer)).toBe(false)
        expect(doc.authorization_endpoint).toBe(sandbox.authorizeUrl)
        expect(doc.token_endpoint).toBe(sandbox.merchantTokenUrl)
        expect(doc.revocation_endpoint).toBe(sandbox.revocationUrl)
        expect(doc.response_types_supported).toEqual(["code id_token"])
        expect(doc.code_challenge_methods_supported).toEqual(["S256"])
        expect(doc.token_endpoint_auth_methods_supported).toEqual([
          "client_secret_post",
          "client_secret_basic"
        ])
        expect(yield* sandbox.requestCount("discovery")).toBe(1)
      })
    )
  )

  it.effect("serves the same document at MobilePay's second documented discovery location", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const second = yield* Flow.http(
          `${sandbox.baseUrl}/merchant-authentication-openidconnect/.well-known/openid-configuration`
        )
        expect(second.status).toBe(200)
        expect(JSON.parse(second.text)).toEqual(JSON.parse((yield* Flow.http(sandbox.discoveryUrl)).text))
        expect(yield* sandbox.requestCount("discovery")).toBe(2)
      })
    )
  )

  it.effect("key rotation adds a key and keeps the old one, so earlier tokens still verify", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const { params } = yield* Flow.consent(sandbox)
        const tokens = (yield* Flow.redeem(sandbox, params?.code ?? "")).json
        yield* sandbox.rotateKeys
        const jwks = JSON.parse((yield* Flow.http(sandbox.jwksUrl)).text)
        expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(["sandbox-key-1", "sandbox-key-2"])
        const me = yield* Flow.http(`${sandbox.baseUrl}/api/merchants/me`, {
          headers: { authorization: `Bearer ${String(tokens.access_token)}` }
        })
        expect(me.status).toBe(200)
        const fresh = yield* sandbox.signJwt({ sub: "x" })
        expect(JSON.parse(Buffer.from(fresh.split(".")[0] ?? "", "base64url").toString()).kid).toBe(
          "sandbox-key-2"
        )
      })
    )
  )
})

describe("fault knobs", () => {
  it.effect("a share of 5xx, 429 with Retry-After, malformed and HTML bodies, counted per endpoint", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const statuses: Array<number> = []
        yield* sandbox.setFault("discovery", { errorRate: 0.5 })
        for (let i = 0; i < 4; i++) statuses.push((yield* Flow.http(sandbox.discoveryUrl)).status)
        expect(statuses).toEqual([503, 200, 503, 200])
        yield* sandbox.setFault("discovery", { status429: { retryAfterSeconds: 7 } })
        const limited = yield* Flow.http(sandbox.discoveryUrl)
        expect(limited.status).toBe(429)
        expect(limited.headers.get("retry-after")).toBe("7")
        yield* sandbox.setFault("discovery", { malformedBody: "json" })
        const malformed = yield* Flow.http(sandbox.discoveryUrl)
        expect(() => JSON.parse(malformed.text)).toThrow()
        yield* sandbox.setFault("discovery", { malformedBody: "html" })
        expect((yield* Flow.http(sandbox.discoveryUrl)).headers.get("content-type")).toContain("text/html")
        yield* sandbox.clearFaults
        expect((yield* Flow.http(sandbox.discoveryUrl)).status).toBe(200)
        expect(yield* sandbox.requestCount("discovery")).toBe(8)
        expect(yield* sandbox.requestCount("jwks")).toBe(0)
      })
    )
  )

  it.live("added latency and dropped connections", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        yield* sandbox.setFault("jwks", { latencyMs: 150 })
        const started = Date.now()
        expect((yield* Flow.http(sandbox.jwksUrl)).status).toBe(200)
        expect(Date.now() - started).toBeGreaterThanOrEqual(140)
        yield* sandbox.setFault("jwks", { dropConnection: true })
        const dropped = yield* Effect.either(
          Effect.tryPromise(() => fetch(sandbox.jwksUrl).then((r) => r.text()))
        )
        expect(dropped._tag).toBe("Left")
      })
    )
  )
})

describe("layer", () => {
  it.effect("refuses to listen anywhere but loopback", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Flow.withSandbox(() => Effect.void, { host: "0.0.0.0" }))
      expect(exit._tag).toBe("Failure")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("loopback only")
    })
  )

  it.effect("listens on ::1 too, with a bracketed base URL", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          expect(sandbox.baseUrl).toMatch(/^http:\/\/\[::1\]:\d+$/)
          expect((yield* Flow.http(sandbox.discoveryUrl)).status).toBe(200)
        }),
      { host: "::1" }
    )
  )
})
