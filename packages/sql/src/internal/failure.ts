/**
 * Turns driver failures into `StoreFailure` without leaking values: only the driver's
 * error code and @effect/sql's fixed message survive, never the driver's message (a
 * PostgreSQL message can quote a parameter).
 *
 * @internal
 */
import { AuthError } from "@mobilepay-auth/domain"
import type { ParseResult } from "effect"

const codeOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  const code = cause.code
  return typeof code === "string" && /^[A-Za-z0-9_]{1,40}$/.test(code) ? code : undefined
}

// SQLite busy/locked/cannot-open, PostgreSQL connection exceptions (08xxx), operator
// intervention (57xxx, e.g. shutdown), insufficient resources (53xxx), and socket errors.
const unavailable = /^(SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY)|08|57|53|E[A-Z]+$)/

/** @internal */
export const fromSqlError =
  (operation: string) =>
  (error: { readonly message: string; readonly cause?: unknown }): AuthError.StoreFailure => {
    const code = codeOf(error.cause)
    return new AuthError.StoreFailure({
      operation,
      reason: code !== undefined && unavailable.test(code) ? "unavailable" : "other",
      description: code === undefined ? error.message : `${error.message} (${code})`
    })
  }

/** @internal */
export const fromParseError =
  (operation: string) =>
  (_: ParseResult.ParseError): AuthError.StoreFailure =>
    new AuthError.StoreFailure({
      operation,
      reason: "corrupt",
      description: "a row did not have the expected shape"
    })

/** @internal */
export const fromDefect = (operation: string, message: string, defect: unknown): AuthError.StoreFailure =>
  fromSqlError(operation)({ message, cause: defect })
