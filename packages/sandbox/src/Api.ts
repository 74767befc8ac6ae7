/**
 * The small protected API: `GET /api/merchants/me` (merchant consent) and PoS-style
 * `POST /pos/v10/payments` and `GET /pos/v10/payments/{id}` (integrator tokens). It checks what
 * MobilePay's gateway checks (bearer signature and expiry against the JWKS, the token's flow,
 * revoked consent and revoked tokens, gateway keys, client system version, merchant VAT header,
 * idempotency key) and answers a vague 401 whenever the caller is not authenticated.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as jose from "jose"
import type { Keys } from "./Keys.js"
import { isVat, type Merchants } from "./Merchants.js"
import type { Resolved, SandboxMerchant } from "./Options.js"
import { json, type Outcome, type Params, unauthorized } from "./Outcome.js"
import type { Time } from "./Time.js"

/** @internal What the API needs to know about the authorization server's state. */
export interface Grants {
  /** Whether the consent (`sid` claim) behind an access token has been revoked. */
  readonly consentRevoked: (sid: string) => boolean
  /** Whether the access token (`jti` claim) was revoked at the revocation endpoint. */
  readonly accessTokenRevoked: (jti: string) => boolean
  /** The merchants the user (`sub` claim) of a merchant-consent token acts for. */
  readonly merchantsOf: (sub: string) => ReadonlyArray<SandboxMerchant>
}

/** MobilePay keeps idempotency keys for 24 hours. */
const idempotencyWindowMs = 24 * 3600 * 1000

interface Payment {
  readonly paymentId: string
  readonly merchantVat: string
  readonly status: "Initiated"
  readonly request: unknown
}

/** @internal */
export const make = (options: Resolved, keys: Keys, merchants: Merchants, grants: Grants, time: Time) => {
  const idempotent = new Map<string, { readonly outcome: Outcome; readonly at: number }>()
  const payments = new Map<string, Payment>()

  /** The bearer token's claims, or undefined for anything that should be a vague 401. */
  const bearer = (authorization: string | undefined) =>
    Effect.gen(function* () {
      if (authorization === undefined || !/^bearer /i.test(authorization)) return undefined
      const claims = yield* keys.verify(authorization.slice(7).trim(), yield* time.now)
      if (claims === undefined) return undefined
      if (typeof claims.jti === "string" && grants.accessTokenRevoked(claims.jti)) return undefined
      const revoked = typeof claims.sid === "string" && grants.consentRevoked(claims.sid)
      return revoked && !options.quirks.revokedAccessTokensWorkUntilExpiry ? undefined : claims
    })

  const gatewayOk = (headers: Params) =>
    options.gateway === undefined ||
    (headers["x-ibm-client-id"] === options.gateway.clientId &&
      (options.gateway.clientSecret === undefined ||
        headers["x-ibm-client-secret"] === options.gateway.clientSecret))

  /**
   * The claims of a token this API accepts, or undefined. Each API takes the tokens of its own
   * flow only: merchant consent for the merchant APIs, integrator tokens (`integrator_scope`) for
   * PoS, as MobilePay's gateway tells them apart by issuer and scope.
   */
  const authenticated = (headers: Params, api: "merchant" | "pos") =>
    Effect.map(bearer(headers.authorization), (claims) => {
      if (claims === undefined || !gatewayOk(headers)) return undefined
      const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : []
      const integrator = claims.iss === options.integratorIssuer && scopes.includes("integrator_scope")
      const merchant = claims.iss === options.issuer && !scopes.includes("integrator_scope")
      return (api === "pos" ? integrator : merchant) ? claims : undefined
    })

  const unauthenticated = (headers: Params) => unauthorized(headers.authorization !== undefined)

  const boundMerchant = (claims: jose.JWTPayload) =>
    typeof claims.merchant_id === "string"
      ? merchants.byIdOrVat(claims.merchant_id)
      : typeof claims.merchant_vat === "string"
        ? merchants.byVat(claims.merchant_vat)
        : undefined

  const merchantsMe = (headers: Params): Effect.Effect<Outcome> =>
    Effect.map(authenticated(headers, "merchant"), (claims) => {
      if (claims === undefined) return unauthenticated(headers)
      // An unbound consent token finds its merchant here, unless the user acts for several.
      const bound = boundMerchant(claims)
      const mine = bound !== undefined ? [bound] : grants.merchantsOf(String(claims.sub ?? ""))
      const merchant = mine.length === 1 ? mine[0] : undefined
      if (merchant === undefined) {
        return json(403, { code: "forbidden", message: "the token does not identify one merchant" })
      }
      return json(200, { merchantId: merchant.merchantId, vatNumber: merchant.vat, name: merchant.name })
    })

  /** The PoS rules every call shares: token, system version, merchant VAT header. */
  const pos = (headers: Params) =>
    Effect.map(
      authenticated(headers, "pos"),
      (claims): Outcome | { claims: jose.JWTPayload; vat: string } => {
        if (claims === undefined) return unauthenticated(headers)
        const version = headers["x-mobilepay-client-system-version"]
        if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
          return json(400, {
            code: "missing_client_system_version",
            message: "x-mobilepay-client-system-version (Major.Minor.Build) is required"
          })
        }
        const bound = typeof claims.merchant_vat === "string" ? claims.merchant_vat : undefined
        const header = headers["x-mobilepay-merchant-vat-number"]
        if (bound === undefined && header === undefined) {
          return json(400, { code: "1151", message: "missing merchant VAT header" })
        }
        if (header !== undefined && !isVat(header)) {
          return json(400, { code: "1159", message: "invalid merchant VAT header" })
        }
        // A token bound to one merchant cannot act for another through the header.
        if (bound !== undefined && header !== undefined && header !== bound) {
          return json(400, {
            code: "1159",
            message: "merchant VAT header does not match the token's merchant"
          })
        }
        return { claims, vat: bound ?? header ?? "" }
      }
    )

  const payment = (headers: Params, body: unknown): Effect.Effect<Outcome> =>
    Effect.gen(function* () {
      const caller = yield* pos(headers)
      if ("_tag" in caller) return caller
      const key = headers["x-mobilepay-idempotency-key"]
      if (key === undefined || key.length === 0 || key.length > 36) {
        return json(400, {
          code: "idempotency_key",
          message: "x-mobilepay-idempotency-key (at most 36 characters) is required"
        })
      }
      const now = yield* time.now
      const scope = `${String(caller.claims.client_id)}:${caller.vat}:${key}`
      const previous = idempotent.get(scope)
      if (previous !== undefined && now - previous.at < idempotencyWindowMs) return previous.outcome
      const created: Payment = {
        paymentId: globalThis.crypto.randomUUID(),
        merchantVat: caller.vat,
        status: "Initiated",
        request: body
      }
      payments.set(created.paymentId, created)
      const outcome = json(200, created)
      idempotent.set(scope, { outcome, at: now })
      return outcome
    })

  /** `GET /pos/v10/payments/{id}`: a payment of the caller's merchant; 404 for anyone else's. */
  const getPayment = (headers: Params, paymentId: string): Effect.Effect<Outcome> =>
    Effect.map(pos(headers), (caller) => {
      if ("_tag" in caller) return caller
      const found = payments.get(paymentId)
      return found !== undefined && found.merchantVat === caller.vat
        ? json(200, found)
        : json(404, { code: "not_found", message: "no such payment" })
    })

  return { merchantsMe, payment, getPayment }
}
