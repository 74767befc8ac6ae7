/**
 * `mobilepay-auth token vipps` run in process against the sandbox, with settings from a
 * ConfigProvider (as from `VIPPS_*` environment variables) and output captured from the Console.
 */
import { describe, expect, it } from "@effect/vitest"
import { Sandbox, vippsDefaults } from "@mobilepay-auth/sandbox"
import { Effect, Layer } from "effect"
import { run } from "./utils/run.js"

const withSandbox = <A, E>(
  f: (env: Record<string, string>, sandbox: Sandbox.Sandbox.Service) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    const sandbox = yield* Effect.provide(Sandbox.Sandbox, yield* Layer.build(Sandbox.layer()))
    return yield* f(
      {
        VIPPS_ENVIRONMENT: sandbox.baseUrl,
        VIPPS_ALLOW_INSECURE_LOOPBACK: "true",
        VIPPS_CLIENT_ID: vippsDefaults.client.clientId,
        VIPPS_CLIENT_SECRET: vippsDefaults.client.clientSecret,
        VIPPS_SUBSCRIPTION_KEY: vippsDefaults.client.subscriptionKey,
        VIPPS_SYSTEM_NAME: "cli-test"
      },
      sandbox
    )
  }).pipe(Effect.scoped)

const payload = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"))

describe("mobilepay-auth token vipps", () => {
  it.live("prints a token for --msn; --json has the expiry and the merchant, never the secret", () =>
    withSandbox((env, sandbox) =>
      Effect.gen(function* () {
        const bare = yield* run(env, "token", "vipps", "--msn", "654321")
        expect(bare.code).toBe(0)
        expect(payload(bare.out).msn).toBe("654321")
        const json = yield* run(env, "token", "vipps", "--msn", "123456", "--json")
        const printed = JSON.parse(json.out)
        expect(printed).toMatchObject({
          token_type: "Bearer",
          authentication: "standard",
          merchant_serial_number: "123456"
        })
        expect(Date.parse(printed.expires_at) - Date.now()).toBeGreaterThan(3_500_000)
        expect(json.out).not.toContain(vippsDefaults.client.clientSecret)
        const [sent] = yield* sandbox.requests("vippsToken")
        expect(sent?.headers["vipps-system-name"]).toBe("cli-test")
      })
    )
  )

  it.live("--partner-level sends no merchant serial number; --specialized uses management keys", () =>
    withSandbox((env, sandbox) =>
      Effect.gen(function* () {
        const partner = yield* run(env, "token", "vipps", "--partner-level", "--json")
        expect(JSON.parse(partner.out).merchant_serial_number).toBeNull()
        const management = yield* run(
          {
            ...env,
            VIPPS_CLIENT_ID: vippsDefaults.specializedClient.clientId,
            VIPPS_CLIENT_SECRET: vippsDefaults.specializedClient.clientSecret
          },
          "token",
          "vipps",
          "--specialized",
          "--json"
        )
        expect(JSON.parse(management.out)).toMatchObject({ authentication: "specialized" })
        expect(yield* sandbox.requestCount("vippsSpecializedToken")).toBe(1)
      })
    )
  )

  it.live("wrong keys exit 4 with the typed reason; a malformed setting exits 2 naming it", () =>
    withSandbox((env) =>
      Effect.gen(function* () {
        const wrong = yield* run({ ...env, VIPPS_CLIENT_SECRET: "wrong-cli-secret-8d" }, "token", "vipps")
        expect(wrong.code).toBe(4)
        expect(wrong.err).toContain("InvalidClient")
        expect(wrong.err).not.toContain("wrong-cli-secret-8d")
        const malformed = yield* run({ ...env, VIPPS_MERCHANT_SERIAL_NUMBER: "MSN-1" }, "token", "vipps")
        expect(malformed.code).toBe(2)
        expect(malformed.err).toContain("MERCHANT_SERIAL_NUMBER")
      })
    )
  )
})
