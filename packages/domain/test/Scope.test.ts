import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { Scope } from "../src/index.js"

describe("Scope", () => {
  describe("parseProductScopes", () => {
    it("accepts every product scope, in order, without duplicates", () => {
      expect(
        Scope.parseProductScopes(["invoice", "subscriptions", "invoice", "webhooks", "subscriptions"])
      ).toEqual(Either.right(["invoice", "subscriptions", "webhooks"]))
      expect(
        Scope.parseProductScopes(
          new Set(["subscriptions", "invoice", "transactionreporting", "merchantpayments", "webhooks"])
        )
      ).toEqual(
        Either.right(["subscriptions", "invoice", "transactionreporting", "merchantpayments", "webhooks"])
      )
      expect(Scope.parseProductScopes([])).toEqual(Either.right([]))
    })

    it.each(["payments", "Invoice", "openid", "offline_access", "integrator_scope", ""])(
      "rejects %j with InvalidScope naming it",
      (unknown) => {
        const result = Scope.parseProductScopes(["invoice", unknown])
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left._tag).toBe("InvalidScope")
          expect(result.left.scope).toBe(unknown)
          if (unknown !== "") expect(result.left.message).toContain(unknown)
        }
      }
    )
  })

  describe("forConsent", () => {
    it("prepends openid offline_access", () => {
      expect(Scope.forConsent(["invoice", "webhooks"])).toEqual([
        "openid",
        "offline_access",
        "invoice",
        "webhooks"
      ])
      expect(Scope.forConsent([])).toEqual(["openid", "offline_access"])
    })

    it("never duplicates", () => {
      expect(Scope.forConsent(["invoice", "invoice", "subscriptions"])).toEqual([
        "openid",
        "offline_access",
        "invoice",
        "subscriptions"
      ])
    })

    it("consentBase is openid offline_access", () => {
      expect(Scope.consentBase).toEqual(["openid", "offline_access"])
    })
  })

  describe("split and format", () => {
    it("split drops empties and any whitespace", () => {
      expect(Scope.split("openid  offline_access\tinvoice\n")).toEqual([
        "openid",
        "offline_access",
        "invoice"
      ])
      expect(Scope.split(" ")).toEqual([])
      expect(Scope.split("")).toEqual([])
      expect(Scope.split(undefined)).toEqual([])
    })

    it("format joins with single spaces and round-trips through split", () => {
      const scopes = Scope.forConsent(["subscriptions", "webhooks"])
      expect(Scope.format(scopes)).toBe("openid offline_access subscriptions webhooks")
      expect(Scope.split(Scope.format(scopes))).toEqual(scopes)
      expect(Scope.format([])).toBe("")
    })
  })
})
