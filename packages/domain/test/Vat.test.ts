import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Schema } from "effect"
import { Vat } from "../src/index.js"

const reasonOf = (input: string, options?: Vat.ParseOptions) =>
  Either.match(Vat.parseEither(input, options), { onLeft: (e) => e.reason, onRight: (v) => `ok:${v}` })

const accepted = (input: string, options?: Vat.ParseOptions) =>
  Either.getOrThrowWith(Vat.parseEither(input, options), (e) => e)

// Remainders and check digits computed independently of the implementation under test.
const yRemainder = (body: string) =>
  Array.from(body, Number).reduce((sum, d, i) => sum + d * [7, 9, 10, 5, 8, 4, 2][i]!, 0) % 11

describe("Vat", () => {
  describe("normalisation", () => {
    it.each([
      ["DK12345678", "DK12345678"],
      ["dk12345678", "DK12345678"],
      ["Dk 1234 5678", "DK12345678"],
      ["  DK 12 34 56 78  ", "DK12345678"],
      ["FI12345678", "FI12345678"],
      ["fi 1234 5678", "FI12345678"],
      ["1234567-8", "FI12345678"],
      ["FI1234567-8", "FI12345678"],
      ["fi 1234567-8", "FI12345678"],
      ["\t0112038-9\n", "FI01120389"]
    ])("%j -> %s", (input, expected) => {
      expect(accepted(input)).toBe(expected)
    })

    it.effect("parse is the Effect version of parseEither", () =>
      Effect.gen(function* () {
        expect(yield* Vat.parse("dk 2425 6790")).toBe("DK24256790")
        const error = yield* Effect.flip(Vat.parse("SE12345678"))
        expect(error._tag).toBe("InvalidVat")
        expect(error.reason).toBe("country")
      })
    )

    it("country reads the prefix", () => {
      expect(Vat.country(accepted("DK12345678"))).toBe("DK")
      expect(Vat.country(accepted("1234567-8"))).toBe("FI")
    })
  })

  describe("rejections carry the right reason", () => {
    it.each([
      ["", "empty"],
      ["   ", "empty"],
      ["SE12345678", "country"],
      ["NO123456789", "country"],
      ["de 12345678", "country"],
      ["12345678", "format"],
      ["DK1234567", "format"],
      ["DK123456789", "format"],
      ["DK1234567A", "format"],
      ["DK1234567-8", "format"],
      ["FI123456-78", "format"],
      ["123456-7", "format"],
      ["DK", "format"]
    ])("%j -> %s", (input, reason) => {
      expect(reasonOf(input)).toBe(reason)
    })

    it("keeps the input (VAT numbers are public) and says why", () => {
      const error = Either.getLeft(Vat.parseEither("SE 123")).pipe((o) => o._tag === "Some" && o.value)
      expect(error && error.input).toBe("SE 123")
      expect(error && error.message).toContain("DK or FI")
    })
  })

  describe("check digits", () => {
    it("are off by default: sandbox numbers such as DK12345678 pass", () => {
      expect(reasonOf("DK12345678")).toBe("ok:DK12345678")
      expect(reasonOf("FI10000080")).toBe("ok:FI10000080")
      expect(reasonOf("DK12345678", { checkDigit: true })).toBe("check-digit")
    })

    // Novo Nordisk, A.P. Moller-Maersk, Carlsberg, LEGO, Danske Bank
    it.each(["DK24256790", "DK22756214", "DK61056416", "DK54562519", "DK61126228"])(
      "accepts the real CVR number %s",
      (vat) => {
        expect(reasonOf(vat, { checkDigit: true })).toBe(`ok:${vat}`)
        expect(Vat.hasValidCheckDigit(vat)).toBe(true)
      }
    )

    // Nokia, Kone, Fortum, Finnair
    it.each([
      ["0112038-9", "FI01120389"],
      ["FI 1927400-1", "FI19274001"],
      ["FI14636114", "FI14636114"],
      ["fi01080233", "FI01080233"]
    ])("accepts the real Y-tunnus %s", (input, vat) => {
      expect(reasonOf(input, { checkDigit: true })).toBe(`ok:${vat}`)
    })

    it.each(["DK24256791", "DK02425679", "FI01120388", "FI19274000"])("rejects %s", (vat) => {
      expect(reasonOf(vat, { checkDigit: true })).toBe("check-digit")
    })

    it("FI10000080 is invalid: remainder 1 never has a check digit", () => {
      expect(yRemainder("1000008")).toBe(1)
      expect(Vat.hasValidCheckDigit("FI10000080")).toBe(false)
      expect(reasonOf("FI10000080", { checkDigit: true })).toBe("check-digit")
      expect(reasonOf("1000008-0", { checkDigit: true })).toBe("check-digit")
    })

    it("a leading zero is never a valid CVR number", () => {
      // 0 + digits summing to 0 mod 11 under the weights
      expect(Vat.hasValidCheckDigit("DK00000000")).toBe(false)
    })

    it("hasValidCheckDigit is false for anything not normalised", () => {
      expect(Vat.hasValidCheckDigit("0112038-9")).toBe(false)
      expect(Vat.hasValidCheckDigit("dk24256790")).toBe(false)
      expect(Vat.hasValidCheckDigit("SE24256790")).toBe(false)
    })

    it.prop(
      "for a 7-digit FI body exactly one check digit validates, none when the remainder is 1",
      [fc.stringMatching(/^\d{7}$/)],
      ([body]) => {
        const valid = Array.from({ length: 10 }, (_, d) => d).filter((d) =>
          Vat.hasValidCheckDigit(`FI${body}${d}`)
        )
        const r = yRemainder(body)
        expect(valid).toEqual(r === 1 ? [] : [r === 0 ? 0 : 11 - r])
      },
      { fastCheck: { numRuns: 1000 } }
    )

    it.prop(
      "for an 8-digit DK number it is the weighted sum mod 11, never with a leading zero",
      [fc.stringMatching(/^\d{8}$/)],
      ([digits]) => {
        const sum = Array.from(digits, Number).reduce((s, d, i) => s + d * [2, 7, 6, 5, 4, 3, 2, 1][i]!, 0)
        expect(Vat.hasValidCheckDigit(`DK${digits}`)).toBe(sum % 11 === 0 && !digits.startsWith("0"))
      },
      { fastCheck: { numRuns: 1000 } }
    )
  })

  describe("VatFromString", () => {
    const decode = Schema.decodeUnknownEither(Vat.VatFromString)
    const encode = Schema.encodeSync(Vat.VatFromString)

    it("decodes any accepted spelling to the normalised form", () => {
      expect(decode("fi 1234567-8")).toEqual(Either.right("FI12345678"))
      expect(decode("dk 1234 5678")).toEqual(Either.right("DK12345678"))
    })

    it("rejects what parse rejects, and non-strings", () => {
      expect(Either.isLeft(decode("SE12345678"))).toBe(true)
      expect(Either.isLeft(decode(""))).toBe(true)
      expect(Either.isLeft(decode(12345678))).toBe(true)
    })

    it("encodes back to the normalised string", () => {
      expect(encode(accepted("dk12345678"))).toBe("DK12345678")
      expect(encode(Vat.Vat("FI01120389"))).toBe("FI01120389")
    })

    it("the Vat brand refuses anything not normalised", () => {
      expect(() => Vat.Vat("dk12345678")).toThrow()
      expect(Vat.Vat.is("DK12345678")).toBe(true)
    })
  })
})
