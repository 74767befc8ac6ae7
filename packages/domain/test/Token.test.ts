import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Redacted } from "effect"
import * as util from "node:util"
import { Token } from "../src/index.js"

const now = 1_750_000_000_000
const access = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJtZXJjaGFudCJ9.c2lnbmF0dXJlX2J5dGVz_a-Z09"
const refresh = "rT9kQ2mX7vL4pZ8wN1sB6yH3jF0cE5uA-_gK2dR7tM9qV4nW"

const ok = (body: unknown) => Either.getOrThrowWith(Token.decode(body, now), (e) => e)
const fails = (body: unknown) => Either.isLeft(Token.decode(body, now))

describe("Token", () => {
  describe("decode", () => {
    it("decodes a MobilePay integrator response", () => {
      const tokens = ok({
        access_token: access,
        expires_in: 3700,
        token_type: "Bearer",
        scope: "integrator_scope"
      })
      expect(Redacted.value(tokens.accessToken)).toBe(access)
      expect(tokens.tokenType).toBe("Bearer")
      expect(tokens.issuedAt).toBe(now)
      expect(tokens.expiresAt).toBe(now + 3_700_000)
      expect(Token.lifetimeMillis(tokens)).toBe(3_700_000)
      expect(tokens.scopes).toEqual(["integrator_scope"])
      expect(Option.isNone(tokens.refreshToken)).toBe(true)
      expect(Option.isNone(tokens.idToken)).toBe(true)
    })

    it("decodes a merchant response with refresh and ID tokens", () => {
      const tokens = ok({
        access_token: access,
        refresh_token: refresh,
        id_token: "id.token.value",
        expires_in: 300,
        token_type: "Bearer",
        scope: "openid offline_access invoice"
      })
      expect(tokens.refreshToken.pipe(Option.map(Redacted.value))).toEqual(Option.some(refresh))
      expect(tokens.idToken.pipe(Option.map(Redacted.value))).toEqual(Option.some("id.token.value"))
      expect(tokens.expiresAt - tokens.issuedAt).toBe(300_000)
      expect(tokens.scopes).toEqual(["openid", "offline_access", "invoice"])
    })

    it.each([
      [300, 300_000],
      ["300", 300_000],
      ["86398", 86_398_000],
      [0.5, 500],
      // Clamped to 24 hours: a token cached forever is a token never refreshed.
      [1e300, 86_400_000],
      ["1e300", 86_400_000]
    ])("expires_in %j: expiresAt = now + %i ms", (expiresIn, millis) => {
      expect(ok({ access_token: access, token_type: "Bearer", expires_in: expiresIn }).expiresAt).toBe(
        now + millis
      )
    })

    it.each([
      0,
      -1,
      "0",
      "-300",
      "abc",
      "",
      "NaN",
      "Infinity",
      Number.NaN,
      Number.POSITIVE_INFINITY,
      null,
      true,
      // Found by `pnpm fuzz`: it vanishes when added to the clock, a token born expired.
      4.9e-131
    ])("rejects expires_in %j", (expiresIn) => {
      expect(fails({ access_token: access, token_type: "Bearer", expires_in: expiresIn })).toBe(true)
    })

    it("rejects a missing expires_in", () => {
      expect(fails({ access_token: access, token_type: "Bearer" })).toBe(true)
    })

    it.each([undefined, "", 42, null])("rejects access_token %j", (accessToken) => {
      const body: Record<string, unknown> = { token_type: "Bearer", expires_in: 300 }
      if (accessToken !== undefined) body.access_token = accessToken
      expect(fails(body)).toBe(true)
    })

    it.each(["bearer", "BEARER", "Bearer", "bEaReR"])("accepts token_type %j as Bearer", (type) => {
      expect(ok({ access_token: access, token_type: type, expires_in: 300 }).tokenType).toBe("Bearer")
    })

    it.each(["mac", "DPoP", "", "Bearer ", "Basic", undefined])("rejects token_type %j", (type) => {
      expect(fails({ access_token: access, token_type: type, expires_in: 300 })).toBe(true)
    })

    it.each([null, undefined, "<html>", [], 42])("rejects the body %j", (body) => {
      expect(fails(body)).toBe(true)
    })

    it("rejects an empty refresh token rather than storing it", () => {
      expect(fails({ access_token: access, token_type: "Bearer", expires_in: 300, refresh_token: "" })).toBe(
        true
      )
    })

    it("a ProtocolViolation never contains the tokens of the body", () => {
      const bodies = [
        { access_token: access, refresh_token: refresh, token_type: "mac", expires_in: 300 },
        { access_token: access, refresh_token: refresh, token_type: "Bearer", expires_in: "soon" },
        { access_token: access, refresh_token: refresh, token_type: "Bearer" },
        { access_token: access, refresh_token: 7, token_type: "Bearer", expires_in: 300 },
        { access_token: [access], refresh_token: refresh, token_type: access, expires_in: access }
      ]
      for (const body of bodies) {
        const result = Token.decode(body, now)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          const error = result.left
          expect(error._tag).toBe("ProtocolViolation")
          expect(error.reason).toBe("token-response")
          for (const text of [
            error.message,
            String(error),
            JSON.stringify(error),
            util.inspect(error, { depth: 10 })
          ]) {
            expect(text).not.toContain(access.slice(0, 20))
            expect(text).not.toContain(refresh.slice(0, 20))
          }
        }
      }
    })

    it("a ProtocolViolation names the offending field", () => {
      const result = Token.decode({ access_token: access, token_type: "Bearer", expires_in: -5 }, now)
      expect(Either.isLeft(result) && result.left.description).toContain("expires_in")
    })
  })

  describe("afterRefresh", () => {
    const previous = Option.some(Redacted.make("old-refresh-token"))

    it("keeps the previous refresh token when none is returned (ReUse rotation)", () => {
      const next = ok({ access_token: access, token_type: "Bearer", expires_in: 300 })
      const merged = Token.afterRefresh(previous, next)
      expect(merged.refreshToken.pipe(Option.map(Redacted.value))).toEqual(Option.some("old-refresh-token"))
      expect(merged.accessToken).toBe(next.accessToken)
      expect(merged.expiresAt).toBe(next.expiresAt)
    })

    it("replaces it when a new one is returned (OneTime rotation)", () => {
      const next = ok({ access_token: access, refresh_token: refresh, token_type: "Bearer", expires_in: 300 })
      expect(Token.afterRefresh(previous, next).refreshToken.pipe(Option.map(Redacted.value))).toEqual(
        Option.some(refresh)
      )
    })

    it("has nothing to keep when there was none", () => {
      const next = ok({ access_token: access, token_type: "Bearer", expires_in: 300 })
      expect(Option.isNone(Token.afterRefresh(Option.none(), next).refreshToken)).toBe(true)
    })
  })
})
