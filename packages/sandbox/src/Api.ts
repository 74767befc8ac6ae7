/**
 * The small protected API: `GET /api/merchants/me` and a PoS-style `POST /pos/v10/payments`.
 * It checks what MobilePay's gateway checks (bearer signature and expiry against the JWKS,
 * revoked consent, gateway keys, client system version, merchant VAT header, idempotency key)
 * and answers a vague 401 whenever the caller is not authenticated.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type * as jose from "jose"
import type { Keys } from "./Keys.js"
import { isVat, type Merchants } from "./Merchants.js"
import type { Resolved, SandboxMerchant } from "./Options.js"
import { json, type Outcome, type Params, unauthorized } from "./Outcome.js"

/** @internal What the API needs to know about the authorization server's state. */
export interface Grants {
  /** Whether the consent (`sid` claim) behind an access token has been revoked. */
  readonly consentRevoked: (sid: string) => boolean
  /** The merchants the user (`sub` claim) of a merchant-consent token acts for. */
  readonly merchantsOf: (sub: string) => ReadonlyArray<SandboxMerchant>
}

/** MobilePay keeps idempotency keys for 24 hours. */
const idempotencyWindowMs = 24 * 3600 * 1000

/** @internal */
export const make = (options: Resolved, keys: Keys, merchants: Merchants, grants: Grants) => {
  const idempotent = new Map<string, { readonly outcome: Outcome; readonly at: number }>()

  /** The bearer token's claims, or undefined for anything that should be a vague 401. */
  const bearer = (authorization: string | undefined) =>
    Effect.gen(function* () {
      if (authorization === undefined || !/^bearer /i.test(authorization)) return undefined
      const claims = yield* keys.verify(authorization.slice(7).trim(), yield* Clock.currentTimeMillis)
      if (claims === undefined) return undefined
      const revoked = typeof claims.sid === "string" && grants.consentRevoked(claims.sid)
      return revoked && !options.quirks.revokedAccessTokensWorkUntilExpiry ? undefined : claims
    })

  const gatewayOk = (headers: Params) =>
    options.gateway === undefined ||
    (headers["x-ibm-client-id"] === options.gateway.clientId &&
      (options.gateway.clientSecret === undefined ||
        headers["x-ibm-client-secret"] === options.gateway.clientSecret))

  const authenticated = (headers: Params) =>
    Effect.map(bearer(headers.authorization), (claims) => (gatewayOk(headers) ? claims : undefined))

  const boundMerchant = (claims: jose.JWTPayload) =>
    typeof claims.merchant_id === "string"
      ? merchants.byIdOrVat(claims.merchant_id)
      : typeof claims.merchant_vat === "string"
        ? merchants.byVat(claims.merchant_vat)
        : undefined

  const merchantsMe = (headers: Params): Effect.Effect<Outcome> =>
    Effect.map(authenticated(headers), (claims) => {
      if (claims === undefined) return unauthorized()
      // An unbound consent token finds its merchant here, unless the user acts for several.
      const bound = boundMerchant(claims)
      const mine = bound !== undefined ? [bound] : grants.merchantsOf(String(claims.sub ?? ""))
      const merchant = mine.length === 1 ? mine[0] : undefined
      if (merchant === undefined) {
        return json(403, { code: "forbidden", message: "the token does not identify one merchant" })
      }
      return json(200, { merchantId: merchant.merchantId, vatNumber: merchant.vat, name: merchant.name })
    })

  const payment = (headers: Params, body: unknown): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const claims = yield* authenticated(headers)
      if (claims === undefined) return unauthorized()
      const version = headers["x-mobilepay-client-system-version"]
      if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
        return json(400, {
          code: "missing_client_system_version",
          message: "x-mobilepay-client-system-version (Major.Minor.Build) is required"
        })
      }
      const bound = typeof claims.merchant_vat === "string" ? claims.merchant_vat : undefined
      const header = headers["x-mobilepay-merchant-vat-number"]
      if (bound === undefined) {
        if (header === undefined) return json(400, { code: "1151", message: "missing merchant VAT header" })
        if (!isVat(header)) return json(400, { code: "1159", message: "invalid merchant VAT header" })
      }
      const key = headers["x-mobilepay-idempotency-key"]
      if (key === undefined || key.length === 0 || key.length > 36) {
        return json(400, {
          code: "idempotency_key",
          message: "x-mobilepay-idempotency-key (at most 36 characters) is required"
        })
      }
      const now = yield* Clock.currentTimeMillis
      const scope = `${String(claims.client_id)}:${bound ?? header}:${key}`
      const previous = idempotent.get(scope)
      if (previous !== undefined && now - previous.at < idempotencyWindowMs) return previous.outcome
      const outcome = json(200, {
        paymentId: globalThis.crypto.randomUUID(),
        merchantVat: bound ?? header,
        status: "Initiated",
        request: body
      })
      idempotent.set(scope, { outcome, at: now })
      return outcome
    })

  return { merchantsMe, payment }
}
