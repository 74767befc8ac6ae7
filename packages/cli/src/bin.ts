/**
 * The `mobilepay-auth` command's entry point.
 *
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { cli } from "./Cli.js"

NodeRuntime.runMain(cli(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true
})
