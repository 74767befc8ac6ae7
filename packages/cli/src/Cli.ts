/**
 * The `mobilepay-auth` command (@effect/cli): the demo, the offline sandbox, tokens, consent,
 * revocation and the store.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import * as Demo from "./Demo.js"
import * as Ui from "./internal/ui.js"

const demo = Command.make("demo", {}, () =>
  Effect.gen(function* () {
    const outcomes = yield* Demo.run
    const code = yield* Demo.summarize(outcomes)
    yield* Effect.sync(() => {
      process.exitCode = code
    })
  })
).pipe(Command.withDescription("Run every flow end to end against the in-process offline sandbox."))

const root = Command.make("mobilepay-auth").pipe(
  Command.withDescription("MobilePay authentication: tokens, consent, revocation, and an offline sandbox."),
  Command.withSubcommands([demo])
)

/**
 * Runs the command line; failures print one line with a hint and set the exit code.
 *
 * @since 0.1.0
 * @category programs
 */
export const cli = (argv: ReadonlyArray<string>) =>
  Command.run(root, { name: "mobilepay-auth", version: "0.1.0" })(argv).pipe(
    Effect.catchAllCause((cause) =>
      Effect.flatMap(Ui.reportFailure(cause), (code) =>
        Effect.sync(() => {
          process.exitCode = code
        })
      )
    )
  )
