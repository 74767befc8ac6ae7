/**
 * The admin API over HTTP, as a black-box test (another process, another language, curl) uses it:
 * the sandbox's clock, consent revocation, queued faults, counters, key rotation.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Sandbox } from "../src/Sandbox.js"
import * as Flow from "./flow.js"

const admin = (sandbox: Sandbox.Service, method: string, path: string, body?: Record<string, string>) =>
  Effect.map(
    Flow.http(
      `${sandbox.baseUrl}/admin${path}`,
      body === undefined ? { method } : { ...Flow.form(body), method }
    ),
    (r) => ({ status: r.status, json: JSON.parse(r.text) as Record<string, unknown> })
  )

const me = (sandbox: Sandbox.Service, token: unknown) =>
  Flow.http(`${sandbox.baseUrl}/api/merchants/me`, { headers: { authorization: `Bearer ${String(token)}` } })

describe("admin API", () => {
  it.effect("POST /admin/clock/advance moves the sandbox's clock: access tokens and codes expire", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const tokens = (yield* Flow.redeem(sandbox, (yield* Flow.consent(sandbox)).params?.code ?? "")).json
        const pending = (yield* Flow.consent(sandbox)).params?.code ?? ""
        expect((yield* me(sandbox, tokens.access_token)).status).toBe(200)
        const advanced = yield* admin(sandbox, "POST", "/clock/advance?seconds=301")
        expect(advanced).toEqual({
          status: 200,
          json: { now: new Date(301_000).toISOString(), offsetSeconds: 301 }
        })
        expect(yield* sandbox.now).toBe(301_000)
        expect((yield* me(sandbox, tokens.access_token)).status).toBe(401)
        expect((yield* Flow.redeem(sandbox, pending)).json.error).toBe("invalid_grant")
        // The refresh token lives on; what it issues is valid at the sandbox's time.
        const refreshed = yield* Flow.refresh(sandbox, String(tokens.refresh_token))
        expect(Flow.jwtPayload(String(refreshed.json.access_token)).iat).toBe(301)
        // It adds to Effect's Clock (a TestClock here) rather than replacing it.
        yield* TestClock.adjust("10 seconds")
        expect((yield* admin(sandbox, "GET", "/clock")).json.now).toBe(new Date(311_000).toISOString())
        for (const bad of ["-5", "1.5", "soon"]) {
          expect((yield* admin(sandbox, "POST", `/clock/advance?seconds=${bad}`)).status).toBe(400)
        }
        expect((yield* admin(sandbox, "POST", "/clock/advance")).status).toBe(400)
      })
    )
  )

  it.effect("clockOffset starts the sandbox's clock ahead", () =>
    Flow.withSandbox(
      (sandbox) =>
        Effect.gen(function* () {
          expect(yield* sandbox.now).toBe(3600_000)
          const token = JSON.parse((yield* Flow.integratorToken(sandbox)).text)
          expect(Flow.jwtPayload(String(token.access_token)).iat).toBe(3600)
        }),
      { clockOffset: 3600 }
    )
  )

  it.effect("POST /admin/merchants/{vat}/revoke-consent ends the merchant's consent", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        const tokens = (yield* Flow.redeem(sandbox, (yield* Flow.consent(sandbox)).params?.code ?? "")).json
        expect(yield* admin(sandbox, "POST", "/merchants/DK12345678/revoke-consent")).toEqual({
          status: 200,
          json: { revoked: 1 }
        })
        expect((yield* me(sandbox, tokens.access_token)).status).toBe(401)
        expect((yield* Flow.refresh(sandbox, String(tokens.refresh_token))).json.error).toBe("invalid_grant")
        expect((yield* admin(sandbox, "GET", "/merchants/DK12345678/revoke-consent")).status).toBe(405)
      })
    )
  )

  it.effect(
    "POST /admin/faults queues a fault for the next N requests; then the endpoint answers again",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          const set = yield* admin(sandbox, "POST", "/faults", { fault: "integratorToken:429=7,times=2" })
          expect(set).toEqual({
            status: 200,
            json: { integratorToken: { status429: { retryAfterSeconds: 7 }, times: 2, seen: 0 } }
          })
          const first = yield* Flow.integratorToken(sandbox)
          expect([first.status, first.headers.get("retry-after")]).toEqual([429, "7"])
          expect((yield* Flow.integratorToken(sandbox)).status).toBe(429)
          expect((yield* Flow.integratorToken(sandbox)).status).toBe(200)
          expect((yield* admin(sandbox, "GET", "/faults")).json).toEqual({})

          const token = Flow.http(sandbox.merchantTokenUrl, Flow.form({ grant_type: "refresh_token" }))
          yield* admin(sandbox, "POST", "/faults", { fault: "merchantToken:503" })
          expect((yield* token).status).toBe(503)
          expect((yield* token).status).toBe(503)
          expect((yield* admin(sandbox, "DELETE", "/faults")).status).toBe(200)
          expect((yield* token).status).toBe(401)

          const bad = yield* admin(sandbox, "POST", "/faults", { fault: "payments:503" })
          expect(bad.status).toBe(400)
          expect(String(bad.json.message)).toContain("merchantToken")
        })
      )
  )

  it.effect(
    "GET /admin/counters reads requests per endpoint; DELETE resets them; admin calls are not counted",
    () =>
      Flow.withSandbox((sandbox) =>
        Effect.gen(function* () {
          yield* Flow.http(sandbox.discoveryUrl)
          yield* Flow.integratorToken(sandbox)
          yield* Flow.integratorToken(sandbox)
          expect((yield* admin(sandbox, "GET", "/counters")).json).toMatchObject({
            discovery: 1,
            jwks: 0,
            authorize: 0,
            merchantToken: 0,
            integratorToken: 2,
            revocation: 0,
            api: 0
          })
          expect((yield* admin(sandbox, "DELETE", "/counters")).json.integratorToken).toBe(0)
          expect(yield* sandbox.requestCount("discovery")).toBe(0)
        })
      )
  )

  it.effect("POST /admin/keys/rotate publishes a new signing key; GET /admin lists the routes", () =>
    Flow.withSandbox((sandbox) =>
      Effect.gen(function* () {
        expect((yield* admin(sandbox, "POST", "/keys/rotate")).status).toBe(200)
        const jwks = JSON.parse((yield* Flow.http(sandbox.jwksUrl)).text)
        expect(jwks.keys).toHaveLength(2)
        expect(Object.keys((yield* admin(sandbox, "GET", "")).json)).toContain(
          "POST /admin/clock/advance?seconds=N"
        )
        expect((yield* admin(sandbox, "GET", "/nothing")).status).toBe(404)
      })
    )
  )
})
