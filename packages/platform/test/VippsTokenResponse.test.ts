/**
 * Vipps MobilePay sends the numbers of its token response as strings (`"expires_in": "86398"`).
 * They are decoded with Schema and bounded: a string that is not a count of seconds, or one
 * out of range, is a typed `ProtocolViolation` that names the field and never the token.
 */
import { describe, expect, it } from "@effect/vitest"
import { Sandbox } from "@mobilepay-auth/sandbox"
import { Effect, Either, Redacted } from "effect"
import * as fc from "fast-check"
import * as Wire from "../src/internal/vipps.js"
import * as VippsAccessToken from "../src/VippsAccessToken.js"
import { vippsStack } from "./utils/vippsStack.js"

const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g"
const body = (fields: Record<string, unknown>) => ({
  token_type: "Bearer",
  expires_in: "86398",
  ext_expires_in: "86398",
  expires_on: "1767225600",
  not_before: "1767139202",
  resource: "00000002-0000-0000-c000-000000000000",
  access_token: token,
  ...fields
})

describe("the standard token response, decoded", () => {
  it.prop(
    "any whole number of seconds up to 7 days, as a string, is the lifetime",
    [fc.integer({ min: 1, max: 7 * 24 * 3600 }), fc.integer({ min: 0, max: 2 ** 40 })],
    ([seconds, now]) => {
      const decoded = Wire.decodeStandardToken(body({ expires_in: String(seconds) }), now)
      expect(Either.isRight(decoded)).toBe(true)
      if (Either.isRight(decoded)) {
        expect(decoded.right.expiresAt - decoded.right.issuedAt).toBe(seconds * 1000)
        expect(decoded.right.issuedAt).toBe(now)
        expect(Redacted.value(decoded.right.accessToken)).toBe(token)
      }
    }
  )

  it.prop(
    "any string that is not a plain count of seconds is a ProtocolViolation naming expires_in",
    [fc.string().filter((s) => !/^\d{1,12}$/.test(s))],
    ([text]) => {
      const decoded = Wire.decodeStandardToken(body({ expires_in: text }), 0)
      expect(Either.isLeft(decoded)).toBe(true)
      if (Either.isLeft(decoded)) {
        expect(decoded.left._tag).toBe("ProtocolViolation")
        expect(decoded.left.description).toContain("expires_in")
        expect(String(decoded.left)).not.toContain(token)
      }
    }
  )

  it.effect.each([
    ["expires_in", "0"],
    ["expires_in", "604801"],
    ["expires_in", "-60"],
    ["expires_in", "1e3"],
    ["expires_in", " 3600"],
    ["expires_in", "3600.5"],
    ["ext_expires_in", "soon"],
    ["expires_on", "99999999999"],
    ["not_before", ""],
    ["token_type", "MAC"],
    ["access_token", ""]
  ] as const)("%s = %j is a ProtocolViolation", ([field, value]) =>
    Effect.sync(() => {
      const decoded = Wire.decodeStandardToken(body({ [field]: value }), 0)
      expect(Either.isLeft(decoded) && decoded.left.description).toContain(field)
    })
  )

  it.effect("numbers sent as JSON numbers are accepted too (in case Vipps MobilePay fixes them)", () =>
    Effect.sync(() => {
      const decoded = Wire.decodeStandardToken(body({ expires_in: 3600, ext_expires_in: 3600 }), 0)
      expect(Either.isRight(decoded) && decoded.right.expiresAt).toBe(3_600_000)
    })
  )
})

describe("string numbers from the sandbox", () => {
  it.live("a bad expires_in from the server is ProtocolViolation naming the field, the token not shown", () =>
    Effect.gen(function* () {
      const auth = yield* VippsAccessToken.VippsAccessToken
      const sandbox = yield* Sandbox.Sandbox
      const error = yield* Effect.flip(auth.accessToken())
      expect(error._tag).toBe("ProtocolViolation")
      expect(error.message).toContain("expires_in")
      expect(error.message).not.toMatch(/eyJ/)
      expect(yield* sandbox.requestCount("vippsToken")).toBe(1)
    }).pipe(
      Effect.provide(vippsStack({ sandbox: { tokenResponseOverrides: { expires_in: "86398 seconds" } } }))
    )
  )

  it.live('production\'s 24 hours as "86398" is a token for 86,398 seconds', () =>
    Effect.gen(function* () {
      const set = yield* (yield* VippsAccessToken.VippsAccessToken).accessToken()
      expect(set.expiresAt - set.issuedAt).toBe(86_398_000)
    }).pipe(Effect.provide(vippsStack({ sandbox: { tokenResponseOverrides: { expires_in: "86398" } } })))
  )
})

describe("the token endpoint's error answers, mapped", () => {
  const azure = (
    error: string,
    codes: ReadonlyArray<number>,
    description = "",
    traceId = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
  ) => ({
    error,
    error_description: description,
    error_codes: codes,
    timestamp: "2026-12-03 18:00:00Z",
    trace_id: traceId,
    correlation_id: "11111111-2222-3333-4444-555555555555"
  })
  const map = (status: number, body: unknown, retryAfter?: number, secrets: ReadonlyArray<string> = []) =>
    Wire.fromTokenErrorResponse(status, body, retryAfter, "https://apitest.vipps.no/accesstoken/get", secrets)

  it.effect("wrong-credential AADSTS codes are InvalidClient whatever `error` says, trace id kept", () =>
    Effect.sync(() => {
      for (const code of [70001, 700016, 7000215, 7000222]) {
        const error = map(401, azure("unauthorized_client", [code]))
        expect(error._tag).toBe("InvalidClient")
        expect(error._tag === "InvalidClient" && error.traceId).toBe("0f1e2d3c-aaaa-bbbb-cccc-123456789abc")
      }
      expect(map(400, azure("unauthorized_client", [700024]))._tag).toBe("UnauthorizedClient")
      const request = map(400, azure("invalid_request", [900144]))
      expect(request._tag === "InvalidRequest" && request.traceId).toBe(
        "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
      )
    })
  )

  it.effect(
    "a secret the server echoes back is scrubbed by value; a trace id that is not an id is dropped",
    () =>
      Effect.sync(() => {
        const echoed = map(
          401,
          azure(
            "invalid_client",
            [7000215],
            "AADSTS7000215: Invalid client secret provided: s3cr3t-value",
            "<b>x</b>"
          ),
          undefined,
          ["s3cr3t-value"]
        )
        expect(echoed._tag).toBe("InvalidClient")
        for (const text of [String(echoed), JSON.stringify(echoed)])
          expect(text).not.toContain("s3cr3t-value")
        expect(echoed._tag === "InvalidClient" && echoed.traceId).toBeUndefined()
      })
  )

  it.effect("the gateway's own 401, 429 with Retry-After, and 5xx", () =>
    Effect.sync(() => {
      const gateway = map(401, { statusCode: 401, message: "Access denied due to invalid subscription key." })
      expect(gateway._tag).toBe("InvalidClient")
      expect(gateway.message).toContain("subscription key")
      const limited = map(429, azure("too_many_requests", []), 7000)
      expect(limited._tag === "RateLimited" && [limited.retryAfterMillis, limited.traceId]).toEqual([
        7000,
        "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
      ])
      const down = map(503, "Service Unavailable")
      expect(down._tag === "Transport" && down.status).toBe(503)
      expect(map(418, "<html>")._tag).toBe("ProtocolViolation")
    })
  )
})
