import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Environment } from "@mobilepay-auth/domain"
import { Effect, Layer, Redacted, TestClock } from "effect"
import * as AuthHttp from "../src/AuthHttp.js"
import * as Discovery from "../src/Discovery.js"
import * as MerchantConsent from "../src/MerchantConsent.js"
import * as MobilePayConfig from "../src/MobilePayConfig.js"
import * as Fake from "./consent/fakeProvider.js"
import { stack } from "./consent/stack.js"

const issuer = "https://api.mobilepay.test/merchant"
const host = "https://admin.mobilepay.test"

const document = (overrides: Record<string, unknown> = {}) => ({
  issuer,
  authorization_endpoint: `${host}/account/connect/authorize`,
  token_endpoint: "https://api.mobilepay.test/merchant-authentication-openidconnect/connect/token",
  jwks_uri: `${host}/account/.well-known/openid-configuration/jwks`,
  revocation_endpoint: `${host}/account/connect/revocation`,
  ...overrides
})

// A provider in memory: counts requests, answers what `respond` says.
const fakeProvider = (respond: (url: URL, n: number) => Response) => {
  const seen: Array<string> = []
  const client = HttpClient.make((request, url) =>
    Effect.sync(() => {
      seen.push(url.href)
      return HttpClientResponse.fromWeb(request, respond(url, seen.length))
    })
  )
  return { seen, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

const layerFor = (
  provider: ReturnType<typeof fakeProvider>,
  environment: Partial<Parameters<typeof Environment.custom>[0]> = {},
  options: Discovery.Options = {}
) =>
  Discovery.layer(options).pipe(
    Layer.provide(
      MobilePayConfig.layer({
        environment: Environment.custom({
          discoveryUrl: `${host}/account/.well-known/openid-configuration`,
          issuer,
          integratorTokenUrl: "https://api.mobilepay.test/integrator-authentication/connect/token",
          apiBaseUrl: "https://api.mobilepay.test",
          ...environment
        }),
        clientId: "client",
        clientSecret: Redacted.make("secret")
      })
    ),
    Layer.provide(AuthHttp.layer({ maxRetries: 0 })),
    Layer.provide(provider.layer)
  )

describe("Discovery", () => {
  it.effect("reads the configured discovery URL and validates the configured issuer, not the URL", () => {
    const provider = fakeProvider(() => json(document()))
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const metadata = yield* discovery.metadata
      expect(metadata.issuer).toBe(issuer)
      expect(provider.seen).toEqual([`${host}/account/.well-known/openid-configuration`])
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("rejects a document naming another issuer than the configuration", () => {
    const provider = fakeProvider(() => json(document({ issuer: "https://evil.test/merchant" })))
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const error = yield* Effect.flip(discovery.metadata)
      expect(error._tag).toBe("ProtocolViolation")
      expect(error._tag === "ProtocolViolation" && error.reason).toBe("issuer-mismatch")
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("caches for the TTL on the Effect clock, then fetches again", () => {
    const provider = fakeProvider(() => json(document()))
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      yield* Effect.all([discovery.metadata, discovery.metadata, discovery.metadata], {
        concurrency: "unbounded"
      })
      expect(provider.seen).toHaveLength(1)
      yield* TestClock.adjust("59 minutes")
      yield* discovery.metadata
      expect(provider.seen).toHaveLength(1)
      yield* TestClock.adjust("2 minutes")
      yield* discovery.metadata
      expect(provider.seen).toHaveLength(2)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("does not cache a failure: the next call fetches again", () => {
    const provider = fakeProvider((_, n) =>
      n === 1 ? json({ error: "server_error" }, 503) : json(document())
    )
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const error = yield* Effect.flip(discovery.metadata)
      expect(error._tag).toBe("Transport")
      const metadata = yield* discovery.metadata
      expect(metadata.issuer).toBe(issuer)
      expect(provider.seen).toHaveLength(2)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("refuses an http discovery URL outside loopback", () => {
    const provider = fakeProvider(() => json(document()))
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const error = yield* Effect.flip(discovery.metadata)
      expect(error._tag).toBe("InsecureEndpoint")
      expect(provider.seen).toHaveLength(0)
    }).pipe(
      Effect.provide(
        layerFor(provider, { discoveryUrl: "http://admin.mobilepay.test/.well-known/openid-configuration" })
      )
    )
  })

  it.effect("refuses a document whose endpoints are not https", () => {
    const provider = fakeProvider(() => json(document({ token_endpoint: "http://api.mobilepay.test/token" })))
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const error = yield* Effect.flip(discovery.metadata)
      expect(error._tag).toBe("InsecureEndpoint")
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("rejects HTML where JSON was expected", () => {
    const provider = fakeProvider(
      () => new Response("<html></html>", { headers: { "content-type": "text/html" } })
    )
    return Effect.gen(function* () {
      const discovery = yield* Discovery.Discovery
      const error = yield* Effect.flip(discovery.metadata)
      expect(error._tag).toBe("ProtocolViolation")
    }).pipe(Effect.provide(layerFor(provider)))
  })
})

describe("Discovery in context", () => {
  it.effect(
    "merchant consent uses the Discovery in context: one fetch serves both, invalidate reaches begin",
    () =>
      Effect.gen(function* () {
        const fake = yield* Fake.make({ clientId: "integrator-client" })
        const seen: Array<string> = []
        const counted = Layer.effect(
          HttpClient.HttpClient,
          Effect.map(HttpClient.HttpClient, (client) =>
            HttpClient.tapRequest(client, (request) => Effect.sync(() => seen.push(request.url)))
          )
        ).pipe(Layer.provide(fake.layer))
        const discoveries = () => seen.filter((url) => url === Fake.discoveryUrl).length
        return yield* Effect.gen(function* () {
          const discovery = yield* Discovery.Discovery
          const consent = yield* MerchantConsent.MerchantConsent
          yield* discovery.metadata
          yield* consent.begin({ bindToUserAgent: false })
          expect(discoveries()).toBe(1)
          yield* discovery.invalidate
          yield* consent.begin({ bindToUserAgent: false })
          expect(discoveries()).toBe(2)
        }).pipe(
          Effect.provide(
            stack(counted, {
              environment: Environment.custom({
                kind: "sandbox",
                discoveryUrl: Fake.discoveryUrl,
                issuer: Fake.issuer,
                integratorTokenUrl: "https://api.mobilepay.test/integrator-authentication/connect/token",
                apiBaseUrl: "https://api.mobilepay.test"
              }),
              clientId: "integrator-client",
              redirectUri: "https://app.example.test/callback"
            })
          )
        )
      })
  )

  it("client authentication: Basic when listed or when nothing is listed, else post when listed", () => {
    expect(MerchantConsent.chooseClientAuthentication(undefined)).toBe("client_secret_basic")
    expect(MerchantConsent.chooseClientAuthentication(["client_secret_post", "client_secret_basic"])).toBe(
      "client_secret_basic"
    )
    expect(MerchantConsent.chooseClientAuthentication(["client_secret_post"])).toBe("client_secret_post")
    expect(MerchantConsent.chooseClientAuthentication(["private_key_jwt"])).toBe("client_secret_basic")
  })
})
