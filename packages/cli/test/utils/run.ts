/**
 * The `mobilepay-auth` command run in process: settings from a ConfigProvider (as from
 * environment variables, `_` between the parts of a name) and the Console captured line by line.
 */
import { NodeContext } from "@effect/platform-node"
import { ConfigProvider, Console, Effect } from "effect"
import { cli } from "../../src/Cli.js"

/** A Console that keeps what is written to stdout (`out`) and stderr (`err`), a line per call. */
export const captured = () => {
  const out: Array<string> = []
  const err: Array<string> = []
  const push =
    (into: Array<string>) =>
    (...args: ReadonlyArray<unknown>) =>
      void into.push(args.map(String).join(" "))
  const console = {
    ...globalThis.console,
    [Console.TypeId]: Console.TypeId,
    unsafe: { ...globalThis.console, log: push(out), error: push(err) },
    log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => push(out)(...args)),
    error: (...args: ReadonlyArray<unknown>) => Effect.sync(() => push(err)(...args))
  } as unknown as Console.Console
  return { console, out, err }
}

/** The command with `args`, on settings `env`, writing to `io`; not yet run. */
export const command = (
  env: Record<string, string>,
  args: ReadonlyArray<string>,
  io: ReturnType<typeof captured> = captured()
) => ({
  io,
  effect: cli(["node", "mobilepay-auth", ...args]).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })),
    Effect.withConsole(io.console),
    Effect.provide(NodeContext.layer)
  )
})

/** Runs the command; its exit code (process.exitCode, reset afterwards) and what it printed. */
export const run = (env: Record<string, string>, ...args: Array<string>) =>
  Effect.gen(function* () {
    const { io, effect } = command(env, args)
    process.exitCode = 0
    yield* effect
    const code = process.exitCode ?? 0
    process.exitCode = 0
    return { code, out: io.out.join("\n"), err: io.err.join("\n") }
  })
