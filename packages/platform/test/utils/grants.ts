/**
 * Grants as a rotating token endpoint hands them out, for token manager tests.
 */
import { Token } from "@mobilepay-auth/domain"
import { Redacted } from "effect"
import type { Grant } from "../../src/Grant.js"

/** The `n`-th answer of a server with refresh-token rotation: `at-n` and `rt-n`, 300 s from `now`. */
export const rotatedGrant = (
  n: number,
  now: number,
  attributes: Readonly<Record<string, string>> = {}
): Grant => ({
  tokens: Token.fromResponse(
    {
      access_token: Redacted.make(`at-${n}`),
      token_type: "Bearer",
      expires_in: 300,
      refresh_token: Redacted.make(`rt-${n}`)
    },
    now
  ),
  attributes
})
