/**
 * `MobilePay.layer`: one layer, every service, each setting given once and honoured by every
 * service that uses it. Against the sandbox's in-process client, on the test's clock.
 */
import { HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { AuthError, Environment, SecureRandom, TokenLifecycle } from "@mobilepay-auth/domain"
import { Sandbox, SandboxBrowser } from "@mobilepay-auth/sandbox"
import { type Duration, Effect, Exit, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import * as IntegratorAuth from "../src/IntegratorAuth.js"
import * as MerchantConsent from "../src/MerchantConsent.js"
import * as MobilePay from "../src/MobilePay.js"
import * as TokenStore from "../src/TokenStore.js"
import * as VippsAccessToken from "../src/VippsAccessToken.js"
import { configOptions, MERCHANTS, sandboxVipps } from "./utils/vippsStack.js"

const REDIRECT = "http://127.0.0.1:8765/callback"
const sandboxLayer = Sandbox.layer({
  integratorClients: [{ clientId: "pos", clientSecret: "pos-secret-4d1" }],
  merchantClients: [
    {
      clientId: "app",
      clientSecret: "app-secret-4d1",
      redirectUris: [REDIRECT],
      scopes: ["invoice"],
      rotation: "one-time"
    }
  ]
})

/** Every service over the sandbox's in-process client, with `options` on top of a base config. */
const services = (
  sandbox: Sandbox.Sandbox.Service,
  options: Partial<MobilePay.Options> = {},
  store: Layer.Layer<TokenStore.TokenStore> = TokenStore.layerMemory
) =>
  MobilePay.layer({
    environment: sandbox.environment,
    clientId: "pos",
    clientSecret: Redacted.make("pos-secret-4d1"),
    ...options
  }).pipe(Layer.provide(store), Layer.provide(Layer.succeed(HttpClient.HttpClient, sandbox.client)))

const withSandbox = <A, E>(f: (sandbox: Sandbox.Sandbox.Service) => Effect.Effect<A, E>) =>
  Effect.flatMap(Sandbox.Sandbox, f).pipe(Effect.provide(sandboxLayer))

describe("MobilePay.layer: a setting given once is honoured everywhere", () => {
  it.effect("requestTimeout bounds every token request", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        yield* sandbox.setFault("integratorToken", { latencyMs: 5_000 })
        const run = (requestTimeout: Duration.DurationInput) =>
          Effect.gen(function* () {
            const auth = yield* IntegratorAuth.IntegratorAuth
            const fiber = yield* Effect.fork(auth.accessToken())
            yield* TestClock.adjust("2 seconds")
            const polled = yield* Fiber.poll(fiber)
            // Let a request still underway finish before the services shut down.
            yield* TestClock.adjust("1 minute")
            yield* Fiber.await(fiber)
            return polled
          }).pipe(Effect.provide(services(sandbox, { requestTimeout, http: { maxRetries: 0 } })))
        const short = yield* run("1 second")
        expect(Option.isSome(short) && Exit.isFailure(short.value)).toBe(true)
        if (Option.isSome(short) && Exit.isFailure(short.value)) {
          expect(JSON.stringify(short.value.cause)).toContain("timeout")
        }
        // The default, 10 seconds, is still waiting at the same moment.
        expect(Option.isNone(yield* run("10 seconds"))).toBe(true)
      })
    )
  )

  it.effect("policy decides when the token manager refreshes", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const eager: TokenLifecycle.Policy = {
          ...TokenLifecycle.defaultPolicy,
          marginRatio: 0.6,
          maxMarginMillis: 24 * 3600_000,
          refreshAheadRatio: 0,
          jitter: 0
        }
        const twice = (policy: TokenLifecycle.Policy | undefined) =>
          Effect.gen(function* () {
            yield* sandbox.resetCounts
            const auth = yield* IntegratorAuth.IntegratorAuth
            yield* auth.accessToken()
            yield* TestClock.adjust("30 minutes") // half of the sandbox's 3,700 s
            yield* auth.accessToken()
            return yield* sandbox.requestCount("integratorToken")
          }).pipe(Effect.provide(services(sandbox, policy === undefined ? {} : { policy })))
        expect(yield* twice(undefined)).toBe(1)
        expect(yield* twice(eager)).toBe(2)
      })
    )
  )

  it.effect("the environment's loopback opt-in decides whether plain http is used", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const strict = Environment.custom({
          discoveryUrl: sandbox.discoveryUrl,
          issuer: sandbox.issuer,
          integratorTokenUrl: sandbox.integratorTokenUrl,
          integratorIssuer: sandbox.integratorIssuer,
          apiBaseUrl: sandbox.baseUrl,
          allowInsecureLoopback: false
        })
        const token = Effect.flatMap(IntegratorAuth.IntegratorAuth, (auth) => auth.accessToken())
        const refused = yield* Effect.flip(
          token.pipe(Effect.provide(services(sandbox, { environment: strict })))
        )
        expect(refused._tag).toBe("InsecureEndpoint")
        const allowed = yield* token.pipe(Effect.provide(services(sandbox)))
        expect(allowed.tokenType).toBe("Bearer")
        expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      })
    )
  )

  it.effect("scopes and clientAuthentication reach merchant consent (authorize URL, token endpoint)", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const consentWith = (clientAuthentication?: "client_secret_post" | "client_secret_basic") =>
          Effect.gen(function* () {
            const consent = yield* MerchantConsent.MerchantConsent
            const authorization = yield* consent.begin({ merchantVat: "DK12345678", bindToUserAgent: false })
            expect(new URL(authorization.url).searchParams.get("scope")).toBe("openid offline_access invoice")
            const callback = yield* SandboxBrowser.consent(authorization.url, { redirectUri: REDIRECT }).pipe(
              Effect.provideService(HttpClient.HttpClient, sandbox.client)
            )
            if (callback._tag !== "FormPost") return yield* Effect.die("expected form_post")
            yield* consent.complete(callback.request)
            const [sent] = (yield* sandbox.requests("merchantToken")).slice(-1)
            return sent?.headers ?? {}
          }).pipe(
            Effect.provide(
              services(sandbox, {
                clientId: "app",
                clientSecret: Redacted.make("app-secret-4d1"),
                redirectUri: REDIRECT,
                scopes: ["invoice"],
                ...(clientAuthentication === undefined ? {} : { clientAuthentication })
              })
            )
          )
        const basic = yield* consentWith("client_secret_basic")
        expect(basic.authorization).toMatch(/^Basic /)
        const post = yield* consentWith("client_secret_post")
        expect(post.authorization).toBeUndefined()
        // Unset: "auto", from discovery's token_endpoint_auth_methods_supported (the sandbox lists
        // both), Basic preferred.
        const auto = yield* consentWith()
        expect(auto.authorization).toMatch(/^Basic /)
      })
    )
  )
})

describe("MobilePay.layer: settings checked when the layer is built", () => {
  it.effect("a durable store without encryption keys is InvalidConfiguration(encryptionKeys)", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const durable = Layer.effect(
          TokenStore.TokenStore,
          Effect.map(TokenStore.makeMemory, ({ ephemeral: _, ...store }) => TokenStore.TokenStore.of(store))
        )
        const error = yield* Effect.flip(Layer.build(services(sandbox, {}, durable)).pipe(Effect.scoped))
        expect(error).toBeInstanceOf(AuthError.InvalidConfiguration)
        expect(error).toMatchObject({ setting: "encryptionKeys" })
        const key = Buffer.alloc(32, 3).toString("base64")
        const ok = yield* Effect.exit(
          Layer.build(services(sandbox, { encryptionKeys: `k1:${key}` }, durable)).pipe(Effect.scoped)
        )
        expect(Exit.isSuccess(ok)).toBe(true)
      })
    )
  )

  it.effect("malformed settings name the option and never echo a secret", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        const build = (options: Partial<MobilePay.Options>) =>
          Effect.flip(Layer.build(services(sandbox, options)).pipe(Effect.scoped))
        expect(yield* build({ clientSecret: Redacted.make(" ") })).toMatchObject({ setting: "clientSecret" })
        expect(yield* build({ clientSystemVersion: "1.2" })).toMatchObject({ setting: "clientSystemVersion" })
        const short = yield* build({ encryptionKeys: "k1:c2hvcnQta2V5LXNlY3JldA==" })
        expect(short).toMatchObject({ setting: "encryptionKeys" })
        expect(short.message).toContain("32 bytes")
        expect(short.message).not.toContain("c2hvcnQta2V5LXNlY3JldA")
        expect(yield* build({ encryptionKeys: "no-colon" })).toMatchObject({ setting: "encryptionKeys" })
      })
    )
  )

  it.effect("SecureRandom needs no providing (WebCrypto by default)", () =>
    Effect.gen(function* () {
      const random = yield* SecureRandom.SecureRandom
      const a = yield* random.bytes(16)
      const b = yield* random.bytes(16)
      expect(a).not.toEqual(b)
    })
  )
})

describe("MobilePay.withVipps: Vipps MobilePay tokens on the same layer", () => {
  it.effect("MobilePay and Vipps MobilePay tokens share one token manager and one HTTP client", () =>
    Effect.gen(function* () {
      const sandbox = yield* Sandbox.Sandbox
      const both = services(sandbox).pipe(MobilePay.withVipps(configOptions(sandbox.baseUrl)))
      yield* Effect.gen(function* () {
        const vipps = yield* VippsAccessToken.VippsAccessToken
        const integrator = yield* IntegratorAuth.IntegratorAuth
        const partner = yield* vipps.accessToken(
          VippsAccessToken.standard({ merchantSerialNumber: MERCHANTS[1] })
        )
        yield* vipps.accessToken(VippsAccessToken.standard({ merchantSerialNumber: MERCHANTS[1] }))
        yield* integrator.accessToken()
        expect(partner.tokenType).toBe("Bearer")
        expect(yield* sandbox.requestCount("vippsToken")).toBe(1)
        expect(yield* sandbox.requestCount("integratorToken")).toBe(1)
      }).pipe(Effect.provide(both))
    }).pipe(
      Effect.provide(
        Sandbox.layer({
          integratorClients: [{ clientId: "pos", clientSecret: "pos-secret-4d1" }],
          vipps: sandboxVipps()
        })
      )
    )
  )
})

describe("MobilePay.layer: the cached merchant path", () => {
  it.effect("tokenSource and accessToken of a merchant held in memory read nothing from the store", () =>
    withSandbox((sandbox) =>
      Effect.gen(function* () {
        let reads = 0
        const counted = Layer.effect(
          TokenStore.TokenStore,
          Effect.map(TokenStore.makeMemory, (store) =>
            TokenStore.TokenStore.of({
              ...store,
              get: (key) =>
                Effect.zipRight(
                  Effect.sync(() => reads++),
                  store.get(key)
                )
            })
          )
        )
        return yield* Effect.gen(function* () {
          const consent = yield* MerchantConsent.MerchantConsent
          const authorization = yield* consent.begin({ merchantVat: "DK12345678", bindToUserAgent: false })
          const callback = yield* SandboxBrowser.consent(authorization.url, { redirectUri: REDIRECT }).pipe(
            Effect.provideService(HttpClient.HttpClient, sandbox.client)
          )
          if (callback._tag !== "FormPost") return yield* Effect.die("expected form_post")
          const { merchant } = yield* consent.complete(callback.request)
          const first = yield* consent.accessToken(merchant)
          reads = 0
          for (let i = 0; i < 20; i++) {
            const source = yield* consent.tokenSource(merchant)
            expect(yield* source.token).toEqual(first)
            // The sandbox's tokens are bound to the merchant: no VAT header is needed.
            expect(Option.isNone(source.merchantVat)).toBe(true)
          }
          expect(reads).toBe(0)
          // A merchant this process does not hold is still read from the store.
          expect(yield* Effect.flip(consent.tokenSource("someone-else"))).toMatchObject({
            _tag: "ConsentRequired",
            reason: "missing"
          })
          expect(reads).toBe(1)
        }).pipe(
          Effect.provide(
            services(
              sandbox,
              {
                clientId: "app",
                clientSecret: Redacted.make("app-secret-4d1"),
                redirectUri: REDIRECT,
                scopes: ["invoice"]
              },
              counted
            )
          )
        )
      })
    )
  )
})
