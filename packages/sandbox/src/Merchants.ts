/**
 * The merchants the sandbox knows, and the VAT shape check it applies (`DK` or `FI` and 8
 * digits; no check digits, as MobilePay's own sandbox numbers such as `DK12345678` fail them).
 *
 * @since 0.1.0
 */
import type { SandboxMerchant } from "./Options.js"

/** @internal */
export const isVat = (s: string) => /^(DK|FI)\d{8}$/.test(s)

/** @internal */
export interface Merchants {
  /** A known merchant, or a stable generated one for any other well-formed VAT. */
  readonly byVat: (vat: string) => SandboxMerchant
  readonly byIdOrVat: (idOrVat: string) => SandboxMerchant | undefined
  /**
   * The merchants a login user acts for: logging in as a merchant's VAT or id makes a
   * single-merchant user; anyone else is a multi-merchant user (every known merchant).
   */
  readonly ofUser: (username: string) => ReadonlyArray<SandboxMerchant>
}

/** @internal */
export const make = (known: ReadonlyArray<SandboxMerchant>): Merchants => {
  const byVat = (vat: string): SandboxMerchant => {
    const found = known.find((m) => m.vat === vat)
    if (found) return found
    // Any well-formed test VAT works: a stable merchant id derived from it.
    const id = [...vat]
      .reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7)
      .toString(16)
      .padStart(8, "0")
    return { vat, merchantId: `${id}-0000-4000-8000-${id}${id.slice(0, 4)}`, name: `Merchant ${vat}` }
  }
  const byIdOrVat = (s: string) =>
    known.find((m) => m.merchantId === s || m.vat === s) ?? (isVat(s) ? byVat(s) : undefined)
  return {
    byVat,
    byIdOrVat,
    ofUser: (username) => {
      const one = byIdOrVat(username.trim().toUpperCase()) ?? byIdOrVat(username.trim())
      return one === undefined ? known : [one]
    }
  }
}
