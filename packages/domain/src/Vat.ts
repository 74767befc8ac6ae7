/**
 * Danish and Finnish VAT numbers, as MobilePay uses them to name a merchant:
 * `DK` + the 8-digit CVR number, or `FI` + the 8-digit Y-tunnus without its hyphen.
 *
 * @since 0.1.0
 */
import { Brand, Effect, Either, ParseResult, Schema } from "effect"
import { InvalidVat } from "./AuthError.js"

/**
 * A normalised VAT number: `DK` or `FI` followed by 8 digits.
 *
 * @since 0.1.0
 * @category models
 */
export type Vat = string & Brand.Brand<"@mobilepay-auth/Vat">

/**
 * The countries MobilePay served.
 *
 * @since 0.1.0
 * @category models
 */
export type Country = "DK" | "FI"

/**
 * Options for {@link parse}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParseOptions {
  /**
   * Validate the CVR / Y-tunnus check digit. Off by default: MobilePay's sandbox test
   * numbers such as `DK12345678` fail it.
   */
  readonly checkDigit?: boolean
}

const shape = /^(DK|FI)(\d{8})$/
const finnishHyphenated = /^FI(\d{7})-(\d)$/

/**
 * Parses and normalises a VAT number. Accepts any case, spaces, and the Finnish
 * `1234567-8` form (with or without the `FI` prefix); rejects everything else with
 * {@link InvalidVat} and a reason.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseEither = (input: string, options: ParseOptions = {}): Either.Either<Vat, InvalidVat> => {
  const compact = input.replace(/\s+/g, "").toUpperCase()
  if (compact.length === 0) return Either.left(new InvalidVat({ input, reason: "empty" }))
  const hyphenated = finnishHyphenated.exec(compact) ?? /^(\d{7})-(\d)$/.exec(compact)
  const candidate = hyphenated ? `FI${hyphenated[1]}${hyphenated[2]}` : compact
  const match = shape.exec(candidate)
  if (match === null) {
    const reason = /^[A-Z]{2}/.test(candidate) && !/^(DK|FI)/.test(candidate) ? "country" : "format"
    return Either.left(new InvalidVat({ input, reason }))
  }
  if (options.checkDigit === true && !hasValidCheckDigit(candidate)) {
    return Either.left(new InvalidVat({ input, reason: "check-digit" }))
  }
  return Either.right(Vat(candidate))
}

/**
 * Effect version of {@link parseEither}.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string, options: ParseOptions = {}): Effect.Effect<Vat, InvalidVat> =>
  Either.match(parseEither(input, options), { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * Brands an already normalised VAT number; throws on anything else. For literals in code and
 * tests; use {@link parse} for input.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Vat = Brand.refined<Vat>(
  (s) => shape.test(s),
  (s) => Brand.error(`expected DK or FI followed by 8 digits, got ${JSON.stringify(s)}`)
)

/**
 * The country of a VAT number.
 *
 * @since 0.1.0
 * @category getters
 */
export const country = (vat: Vat): Country => (vat.startsWith("DK") ? "DK" : "FI")

/**
 * True when the check digit is right: CVR weights 2,7,6,5,4,3,2,1 with sum mod 11 = 0 and
 * no leading zero; Y-tunnus weights 7,9,10,5,8,4,2 where remainder 1 is never valid.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasValidCheckDigit = (vat: string): boolean => {
  const match = shape.exec(vat)
  if (match === null) return false
  const digits = Array.from(match[2] ?? "", Number)
  if (match[1] === "DK") {
    if (digits[0] === 0) return false
    const weights = [2, 7, 6, 5, 4, 3, 2, 1]
    return digits.reduce((sum, d, i) => sum + d * (weights[i] ?? 0), 0) % 11 === 0
  }
  const weights = [7, 9, 10, 5, 8, 4, 2]
  const r = digits.slice(0, 7).reduce((sum, d, i) => sum + d * (weights[i] ?? 0), 0) % 11
  if (r === 1) return false
  return digits[7] === (r === 0 ? 0 : 11 - r)
}

/**
 * Schema that decodes any accepted spelling to a normalised {@link Vat} (check digits not
 * validated) and encodes it back as the normalised string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const VatFromString: Schema.Schema<Vat, string> = Schema.transformOrFail(
  Schema.String,
  Schema.String.pipe(Schema.pattern(shape), Schema.brand("@mobilepay-auth/Vat")),
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.mapLeft(parseEither(input), (e) => new ParseResult.Type(ast, input, e.message)),
    encode: (vat) => Either.right(vat)
  }
)
