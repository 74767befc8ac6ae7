/**
 * Terminal output of the CLI: a progress line while waiting on the network, and errors as
 * one line with the typed reason, a hint, and an exit code scripts can rely on.
 */
import { AuthError } from "@mobilepay-auth/domain"
import { Cause, ConfigError, Console, Duration, Effect, Fiber, Logger, Option, Schedule } from "effect"

/** Exit codes: documented in `mobilepay-auth --help` and docs/getting-started.md. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  consentRequired: 3,
  credentials: 4,
  unavailable: 5
} as const

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** Runs `effect` with a spinner on stderr when it is a terminal (silent otherwise). */
export const withProgress = <A, E, R>(
  label: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (!process.stderr.isTTY) return effect
  let frame = 0
  const tick = Effect.sync(() => {
    process.stderr.write(`\r${frames[frame++ % frames.length]} ${label}`)
  })
  const clear = Effect.sync(() => process.stderr.write(`\r${" ".repeat(label.length + 2)}\r`))
  return Effect.gen(function* () {
    const spinner = yield* Effect.fork(
      Effect.repeat(tick, { schedule: Schedule.spaced(Duration.millis(80)) })
    )
    return yield* Effect.ensuring(effect, Effect.andThen(Fiber.interrupt(spinner), clear))
  })
}

const hints: Record<string, string> = {
  InvalidClient:
    "check MOBILEPAY_CLIENT_ID and MOBILEPAY_CLIENT_SECRET (for Vipps MobilePay: VIPPS_CLIENT_ID, VIPPS_CLIENT_SECRET and VIPPS_SUBSCRIPTION_KEY) for this environment",
  UnauthorizedClient: "the client may not use this flow; ask MobilePay to enable it",
  InvalidGrant: "the code or refresh token was rejected; start the consent again",
  InvalidScope: "request only the product scopes your client was granted",
  InvalidRequest: "check the arguments and configuration",
  ConsentRequired: "run `mobilepay-auth consent start` for this merchant",
  Unauthorized: "check consent, scopes and gateway keys",
  RateLimited: "wait and try again",
  Transport: "the server could not be reached or failed; try again later",
  ProtocolViolation: "the server's answer was not what the protocol says; check the endpoint URLs",
  IdTokenRejected: "do not trust this login; check the expected issuer (MOBILEPAY_ISSUER)",
  StateMismatch: "start the consent flow again",
  InsecureEndpoint: "use https (plain http only to loopback with MOBILEPAY_ALLOW_INSECURE_LOOPBACK)",
  InvalidVat: "a VAT number is DK or FI followed by 8 digits",
  StoreFailure: "check MOBILEPAY_DATA_DIR and MOBILEPAY_ENCRYPTION_KEYS",
  PortInUse: "stop the other process, or pick another port with --port (0 takes a free one)"
}

const exitCodes: Record<string, number> = {
  ConsentRequired: ExitCode.consentRequired,
  InvalidClient: ExitCode.credentials,
  UnauthorizedClient: ExitCode.credentials,
  Unauthorized: ExitCode.credentials,
  Transport: ExitCode.unavailable,
  RateLimited: ExitCode.unavailable,
  InvalidVat: ExitCode.usage,
  InvalidScope: ExitCode.usage,
  InvalidRequest: ExitCode.usage,
  PortInUse: ExitCode.usage,
  ConfigError: ExitCode.usage,
  And: ExitCode.usage,
  Or: ExitCode.usage,
  MissingData: ExitCode.usage,
  InvalidData: ExitCode.usage
}

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" ? e._tag : "Error"

const tlsHint =
  "the server's certificate is not trusted; for the offline sandbox's, set NODE_EXTRA_CA_CERTS to the file `mobilepay-auth sandbox --https` prints"

const declinedHint =
  "the merchant said no at MobilePay; if that was a mistake, run `mobilepay-auth consent start` again"

const hintOf = (error: unknown, tag: string): string | undefined =>
  error instanceof AuthError.Transport && error.reason === "tls"
    ? tlsHint
    : error instanceof AuthError.ConsentRequired && error.reason === "declined"
      ? declinedHint
      : hints[tag]

// Each problem of a configuration error, named by the variable as it is typed
// (`MOBILEPAY_CLIENT_SECRET`, not the path `MOBILEPAY.CLIENT_SECRET`). A secret's missing value is
// reported as "is not set", never with `<redacted>` standing in for a message.
const configProblems = (error: ConfigError.ConfigError): Array<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...configProblems(error.left), ...configProblems(error.right)]
    case "MissingData":
    case "InvalidData":
    case "Unsupported":
    case "SourceUnavailable": {
      // A segment repeated by nesting (`REQUEST_TIMEOUT.REQUEST_TIMEOUT`) is one variable.
      const name = error.path.filter((segment, i, path) => i === 0 || segment !== path[i - 1]).join("_")
      const prefix = error.path[0] ?? ""
      const message = error.message
      if (message === "" || message.includes("<redacted>") || /^Expected .* to exist/.test(message)) {
        return [error._op === "MissingData" ? `${name} is not set` : `${name} is invalid`]
      }
      // Variables the message names by their suffix (`DISCOVERY_URL`) get their prefix back.
      const named = message.replace(/\b[A-Z][A-Z0-9_]{2,}\b/g, (word) =>
        word === prefix || word.startsWith(`${prefix}_`) ? word : `${prefix}_${word}`
      )
      return [`${name}: ${named}`]
    }
  }
}

const configHint =
  "set it in the environment; `mobilepay-auth --help` lists every variable and docs/getting-started.md explains them"

/** One line for an error: `error [Tag]: message (hint)`, and its exit code. */
export const describe = (error: unknown): { readonly line: string; readonly code: number } => {
  if (ConfigError.isConfigError(error)) {
    const problems = [...new Set(configProblems(error))]
    return {
      line: `error [ConfigError]: ${problems.join("; ")}\n  hint: ${configHint}`,
      code: ExitCode.usage
    }
  }
  const tag = tagOf(error)
  const message = error instanceof Error ? error.message : String(error)
  const hint = hintOf(error, tag)
  return {
    line: `error [${tag}]: ${message}${hint ? `\n  hint: ${hint}` : ""}`,
    code: exitCodes[tag] ?? ExitCode.failure
  }
}

/** Prints the failure of a command as one line (plus a hint) and sets the exit code. */
export const reportFailure = <E>(cause: Cause.Cause<E>) =>
  Effect.gen(function* () {
    if (Cause.isInterruptedOnly(cause)) return ExitCode.failure
    const failure = Cause.failureOption(cause)
    const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    const { code, line } = describe(error)
    yield* Console.error(line)
    return code
  })

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/**
 * Colours only for a terminal, and never with `NO_COLOR` set (https://no-color.org): @effect/cli
 * renders its help and usage errors with ANSI escapes, which are noise in a file or a pipe.
 */
export const colours = (stream: { readonly isTTY?: boolean }): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

const strip = (args: ReadonlyArray<unknown>) =>
  args.map((a) => (typeof a === "string" ? a.replace(ansi, "") : a))

/** `console`, without ANSI escapes on the streams that are not colour terminals. */
export const plainConsole = (
  console: Console.Console,
  keep: { out: boolean; err: boolean }
): Console.Console => {
  const unsafe: Console.UnsafeConsole = {
    ...console.unsafe,
    log: (...args) => (keep.out ? console.unsafe.log(...args) : console.unsafe.log(...strip(args))),
    error: (...args) => (keep.err ? console.unsafe.error(...args) : console.unsafe.error(...strip(args)))
  }
  return {
    ...console,
    unsafe,
    log: (...args) => (keep.out ? console.log(...args) : console.log(...strip(args))),
    error: (...args) => (keep.err ? console.error(...args) : console.error(...strip(args)))
  }
}

/** Logs go to stderr, one logfmt line each, so that stdout stays the command's output (`--json`). */
export const stderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
