/**
 * `VippsConfig.layerConfig()` read from a `ConfigProvider` the way environment variables arrive:
 * every setting parses, and a missing or malformed one fails naming it, never
 * echoing the client secret or the subscription key.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { inspect } from "node:util"
import * as VippsConfig from "../src/VippsConfig.js"

const SECRET = "vipps-cfg-secret-3e8d1f"
const KEY = "vipps-cfg-subscription-6a0c92"
const minimal = {
  VIPPS_CLIENT_ID: "partner-client",
  VIPPS_CLIENT_SECRET: SECRET,
  VIPPS_SUBSCRIPTION_KEY: KEY
}

const load = (env: Record<string, string>) =>
  Effect.provide(
    VippsConfig.VippsConfig,
    VippsConfig.layerConfig().pipe(
      Layer.provide(
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }))
      )
    )
  )

const failsNaming = (env: Record<string, string>, variable: string) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(load(env))
    const texts = [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]
    expect(texts[0]).toContain(variable)
    for (const text of texts) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(KEY)
    }
  })

describe("VippsConfig.layerConfig", () => {
  it.effect("a minimal configuration: the test environment, no merchant, no system headers", () =>
    Effect.gen(function* () {
      const config = yield* load(minimal)
      expect(config.environment).toEqual(VippsConfig.test)
      expect(config.environment.baseUrl).toBe("https://apitest.vipps.no")
      expect(config.clientId).toBe("partner-client")
      expect(Redacted.value(config.clientSecret)).toBe(SECRET)
      expect(Option.map(config.subscriptionKey, Redacted.value)).toEqual(Option.some(KEY))
      expect(Option.isNone(config.merchantSerialNumber)).toBe(true)
      expect(Option.isNone(config.system.name)).toBe(true)
      expect(config.specializedTokenPath).toBe("/miami/v1/token")
      expect(config.shareTokens).toBe(false)
      // Secrets render redacted wherever the configuration is printed.
      for (const text of [
        String(config.clientSecret),
        JSON.stringify(config),
        inspect(config, { depth: 10 })
      ]) {
        expect(text).not.toContain(SECRET)
        expect(text).not.toContain(KEY)
      }
    })
  )

  it.effect("every setting parses: production, a custom base URL, the system headers", () =>
    Effect.gen(function* () {
      const production = yield* load({ ...minimal, VIPPS_ENVIRONMENT: "production" })
      expect(production.environment.baseUrl).toBe("https://api.vipps.no")
      const config = yield* load({
        ...minimal,
        VIPPS_ENVIRONMENT: "http://127.0.0.1:8700/",
        VIPPS_ALLOW_INSECURE_LOOPBACK: "true",
        VIPPS_MERCHANT_SERIAL_NUMBER: "123456",
        VIPPS_SYSTEM_NAME: "acme-pos",
        VIPPS_SYSTEM_VERSION: "4.2.0",
        VIPPS_SYSTEM_PLUGIN_NAME: "acme-vipps",
        VIPPS_SYSTEM_PLUGIN_VERSION: "1.0.3",
        VIPPS_SPECIALIZED_TOKEN_PATH: "/authentication/v1/token",
        VIPPS_SHARE_TOKENS: "true"
      })
      expect(config.environment.baseUrl).toBe("http://127.0.0.1:8700")
      expect(config.environment.allowInsecureLoopback).toBe(true)
      expect(config.merchantSerialNumber).toEqual(Option.some("123456"))
      expect(config.system).toEqual({
        name: Option.some("acme-pos"),
        version: Option.some("4.2.0"),
        pluginName: Option.some("acme-vipps"),
        pluginVersion: Option.some("1.0.3")
      })
      expect(config.specializedTokenPath).toBe("/authentication/v1/token")
      expect(config.shareTokens).toBe(true)
    })
  )

  it.effect("the subscription key is optional (specialized keys have none)", () =>
    Effect.gen(function* () {
      const { VIPPS_SUBSCRIPTION_KEY: _, ...withoutKey } = minimal
      expect(Option.isNone((yield* load(withoutKey)).subscriptionKey)).toBe(true)
    })
  )

  it.effect("a missing or malformed setting fails naming it, never echoing a secret", () =>
    Effect.gen(function* () {
      const { VIPPS_CLIENT_SECRET: _, ...noSecret } = minimal
      yield* failsNaming(noSecret, "CLIENT_SECRET")
      yield* failsNaming({ ...minimal, VIPPS_CLIENT_ID: "" }, "CLIENT_ID")
      yield* failsNaming({ ...minimal, VIPPS_ENVIRONMENT: "staging" }, "ENVIRONMENT")
      yield* failsNaming({ ...minimal, VIPPS_ENVIRONMENT: "ftp://example.com" }, "ENVIRONMENT")
      for (const msn of ["12ab56", "MSN123456", "12"]) {
        yield* failsNaming({ ...minimal, VIPPS_MERCHANT_SERIAL_NUMBER: msn }, "MERCHANT_SERIAL_NUMBER")
      }
      yield* failsNaming({ ...minimal, VIPPS_SHARE_TOKENS: "maybe" }, "SHARE_TOKENS")
      yield* failsNaming({ ...minimal, VIPPS_SPECIALIZED_TOKEN_PATH: "miami" }, "SPECIALIZED_TOKEN_PATH")
    })
  )
})
