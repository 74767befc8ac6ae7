/**
 * `MobilePayConfig.layerConfig()` read from a `ConfigProvider` the way environment variables
 * arrive: every setting parses, and a missing or malformed one fails naming the setting, never
 * echoing a secret.
 */
import { describe, expect, it } from "@effect/vitest"
import { Environment } from "@mobilepay-auth/domain"
import { ConfigProvider, Duration, Effect, Layer, Option, Redacted } from "effect"
import { inspect } from "node:util"
import * as MobilePayConfig from "../src/MobilePayConfig.js"

const SECRET = "cfg-client-secret-91b7e4"
const GATEWAY_SECRET = "cfg-gateway-secret-5d20aa"

const minimal = { MOBILEPAY_CLIENT_ID: "pos-client", MOBILEPAY_CLIENT_SECRET: SECRET }

/** The settings as `layerConfig` sees them from environment variables (`_` between names). */
const load = (env: Record<string, string>, prefix?: string) =>
  Effect.provide(
    MobilePayConfig.MobilePayConfig,
    MobilePayConfig.layerConfig(prefix).pipe(
      Layer.provide(
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))
      )
    )
  )

/** Every way the failure can be shown must name `setting` and hide the secrets. */
const failsNaming = (env: Record<string, string>, setting: string) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(load(env))
    const texts = [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]
    expect(texts[0]).toContain(setting)
    for (const text of texts) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(GATEWAY_SECRET)
    }
    return String(error)
  })

describe("MobilePayConfig.layerConfig", () => {
  it.effect("a minimal configuration: defaults for everything else", () =>
    Effect.gen(function* () {
      const config = yield* load(minimal)
      expect(config.environment).toEqual(Environment.sandboxDK)
      expect(config.clientId).toBe("pos-client")
      expect(Redacted.value(config.clientSecret)).toBe(SECRET)
      expect(Option.isNone(config.gateway)).toBe(true)
      expect(config.gatewayOnTokenCall).toBe(false)
      expect(config.clientSystemVersion).toBe("1.0.0")
      expect(Option.isNone(config.redirectUri)).toBe(true)
      expect(config.scopes).toEqual([])
      expect(config.sendVerifierOnRefresh).toBe(true)
      expect(Duration.toMillis(config.requestTimeout)).toBe(10_000)
    })
  )

  it.effect("every setting parses", () =>
    Effect.gen(function* () {
      const config = yield* load({
        ...minimal,
        MOBILEPAY_ENVIRONMENT: "production-fi",
        MOBILEPAY_GATEWAY_CLIENT_ID: "gw-id",
        MOBILEPAY_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET,
        MOBILEPAY_GATEWAY_ON_TOKEN_CALL: "true",
        MOBILEPAY_CLIENT_SYSTEM_VERSION: "4.12.301",
        MOBILEPAY_REDIRECT_URI: "https://pos.example.com/mobilepay/callback",
        MOBILEPAY_SCOPES: "invoice, subscriptions webhooks",
        MOBILEPAY_SEND_VERIFIER_ON_REFRESH: "false",
        MOBILEPAY_REQUEST_TIMEOUT: "3 seconds"
      })
      expect(config.environment).toEqual(Environment.productionFI)
      const gateway = Option.getOrThrow(config.gateway)
      expect(gateway.clientId).toBe("gw-id")
      expect(Option.map(gateway.clientSecret, Redacted.value)).toEqual(Option.some(GATEWAY_SECRET))
      expect(config.gatewayOnTokenCall).toBe(true)
      expect(config.clientSystemVersion).toBe("4.12.301")
      expect(config.redirectUri).toEqual(Option.some("https://pos.example.com/mobilepay/callback"))
      expect(config.scopes).toEqual(["invoice", "subscriptions", "webhooks"])
      expect(config.sendVerifierOnRefresh).toBe(false)
      expect(Duration.toMillis(config.requestTimeout)).toBe(3000)
      // The secrets stay Redacted in every rendering of the parsed settings.
      for (const text of [
        JSON.stringify(config),
        inspect(config, { depth: 10 }),
        String(config.clientSecret)
      ]) {
        expect(text).not.toContain(SECRET)
        expect(text).not.toContain(GATEWAY_SECRET)
      }
    })
  )

  it.effect("each built-in environment by name", () =>
    Effect.gen(function* () {
      for (const [name, environment] of Object.entries(Environment.builtIn)) {
        expect((yield* load({ ...minimal, MOBILEPAY_ENVIRONMENT: name })).environment).toEqual(environment)
      }
    })
  )

  it.effect("a custom environment with its URLs", () =>
    Effect.gen(function* () {
      const config = yield* load({
        ...minimal,
        MOBILEPAY_ENVIRONMENT: "custom",
        MOBILEPAY_DISCOVERY_URL: "http://127.0.0.1:9000/account/.well-known/openid-configuration",
        MOBILEPAY_ISSUER: "https://api.mobilepay.dk/merchant",
        MOBILEPAY_INTEGRATOR_TOKEN_URL: "http://127.0.0.1:9000/integrator-authentication/connect/token",
        MOBILEPAY_INTEGRATOR_ISSUER: "https://issuer.example.test/integrator",
        MOBILEPAY_API_BASE_URL: "http://127.0.0.1:9000/",
        MOBILEPAY_ALLOW_INSECURE_LOOPBACK: "true"
      })
      expect(config.environment).toMatchObject({
        name: "custom",
        kind: "sandbox",
        discoveryUrl: "http://127.0.0.1:9000/account/.well-known/openid-configuration",
        issuer: "https://api.mobilepay.dk/merchant",
        integratorTokenUrl: "http://127.0.0.1:9000/integrator-authentication/connect/token",
        integratorIssuer: "https://issuer.example.test/integrator",
        apiBaseUrl: "http://127.0.0.1:9000",
        allowInsecureLoopback: true
      })
      // Without the opt-in, loopback http stays refused; the integrator issuer defaults to MobilePay's.
      const strict = yield* load({
        ...minimal,
        MOBILEPAY_ENVIRONMENT: "custom",
        MOBILEPAY_DISCOVERY_URL: "https://idp.example.test/.well-known/openid-configuration",
        MOBILEPAY_ISSUER: "https://idp.example.test",
        MOBILEPAY_INTEGRATOR_TOKEN_URL: "https://idp.example.test/token",
        MOBILEPAY_API_BASE_URL: "https://api.example.test"
      })
      expect(strict.environment.allowInsecureLoopback).toBe(false)
      expect(strict.environment.integratorIssuer).toBe(Environment.sandboxDK.integratorIssuer)
    })
  )

  it.effect("another prefix", () =>
    Effect.gen(function* () {
      const config = yield* load({ POS_CLIENT_ID: "other", POS_CLIENT_SECRET: SECRET }, "POS")
      expect(config.clientId).toBe("other")
    })
  )

  it.effect("a missing CLIENT_ID or CLIENT_SECRET is named", () =>
    Effect.gen(function* () {
      yield* failsNaming({ MOBILEPAY_CLIENT_SECRET: SECRET }, "CLIENT_ID")
      yield* failsNaming({ MOBILEPAY_CLIENT_ID: "pos-client" }, "CLIENT_SECRET")
      yield* failsNaming({ MOBILEPAY_CLIENT_ID: "pos-client", MOBILEPAY_CLIENT_SECRET: "" }, "CLIENT_SECRET")
    })
  )

  it.effect("malformed SCOPES, CLIENT_SYSTEM_VERSION, ENVIRONMENT fail naming the setting", () =>
    Effect.gen(function* () {
      const withGateway = {
        ...minimal,
        MOBILEPAY_GATEWAY_CLIENT_ID: "gw",
        MOBILEPAY_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET
      }
      expect(
        yield* failsNaming({ ...withGateway, MOBILEPAY_SCOPES: "invoice payments-admin" }, "SCOPES")
      ).toContain("payments-admin")
      // openid/offline_access are the consent flow's own, never configured product scopes.
      yield* failsNaming({ ...withGateway, MOBILEPAY_SCOPES: "openid" }, "SCOPES")
      for (const version of ["1.2", "v1.2.3", "1.2.3-beta", "latest"]) {
        yield* failsNaming(
          { ...withGateway, MOBILEPAY_CLIENT_SYSTEM_VERSION: version },
          "CLIENT_SYSTEM_VERSION"
        )
      }
      yield* failsNaming({ ...withGateway, MOBILEPAY_ENVIRONMENT: "staging" }, "ENVIRONMENT")
      // custom without its URLs
      yield* failsNaming({ ...withGateway, MOBILEPAY_ENVIRONMENT: "custom" }, "ENVIRONMENT")
      yield* failsNaming({ ...withGateway, MOBILEPAY_REQUEST_TIMEOUT: "soon" }, "REQUEST_TIMEOUT")
      yield* failsNaming({ ...withGateway, MOBILEPAY_REDIRECT_URI: "not a url" }, "REDIRECT_URI")
      yield* failsNaming(
        { ...withGateway, MOBILEPAY_GATEWAY_ON_TOKEN_CALL: "maybe" },
        "GATEWAY_ON_TOKEN_CALL"
      )
    })
  )

  it.effect("a secret that is also the malformed value's neighbour never leaks", () =>
    Effect.gen(function* () {
      // The secret appears in the settings next to every malformed one above; here it is also
      // the value that fails (CLIENT_ID must be non-empty, SCOPES must be known scopes).
      const text = yield* failsNaming({ ...minimal, MOBILEPAY_CLIENT_ID: "" }, "CLIENT_ID")
      expect(text).not.toContain(SECRET)
    })
  )

  it.effect(
    "INTEGRATOR_CLIENT_ID / INTEGRATOR_CLIENT_SECRET: separate PoS credentials, else the OpenID Connect client's",
    () =>
      Effect.gen(function* () {
        const fallback = yield* load(minimal)
        expect(fallback.integrator.clientId).toBe("pos-client")
        expect(Redacted.value(fallback.integrator.clientSecret)).toBe(SECRET)
        const both = yield* load({
          ...minimal,
          MOBILEPAY_INTEGRATOR_CLIENT_ID: "pos-integrator",
          MOBILEPAY_INTEGRATOR_CLIENT_SECRET: "pos-integrator-secret"
        })
        expect(both.clientId).toBe("pos-client")
        expect(both.integrator.clientId).toBe("pos-integrator")
        expect(Redacted.value(both.integrator.clientSecret)).toBe("pos-integrator-secret")
        expect(inspect(both)).not.toContain("pos-integrator-secret")
      })
  )
})
