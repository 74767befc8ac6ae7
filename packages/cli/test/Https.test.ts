/**
 * `mobilepay-auth sandbox --https` as real processes: the sandbox prints where its generated
 * certificate is; a `token integrator` process that trusts that file (NODE_EXTRA_CA_CERTS) gets a
 * token over TLS with no insecure-loopback allowance; one that does not is refused with
 * `Transport` (tls) and exit code 5; the file is gone once the sandbox stops.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"

// The command from its sources, through tsx's loader (the tests run before any build; the
// published launcher in bin/ runs the compiled dist/ instead, which the consumer test covers).
const root = Path.resolve(import.meta.dirname, "../../..")
const tsxLoader = pathToFileURL(Path.join(root, "node_modules/tsx/dist/loader.mjs")).href
const source = Path.join(import.meta.dirname, "..", "src", "bin.ts")
const command = (...args: ReadonlyArray<string>) => ["--import", tsxLoader, source, ...args]
const KEY = `k1:${Buffer.alloc(32, 7).toString("base64")}`

/** Starts the sandbox and resolves with its printed `export NAME=value` settings. */
const startSandbox = (child: ChildProcess) =>
  new Promise<Record<string, string>>((resolve, reject) => {
    let out = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (!out.includes("Ctrl-C stops it.")) return
      const exports = [...out.matchAll(/export ((?:[A-Z_]+=\S+ ?)+)/g)].flatMap((m) =>
        (m[1] ?? "").trim().split(" ")
      )
      resolve(Object.fromEntries(exports.map((pair) => pair.split("=", 2) as [string, string])))
    })
    child.once("exit", (code) => reject(new Error(`sandbox exited (${code}): ${out}`)))
  })

const tokenIntegrator = (env: Record<string, string>) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(
      process.execPath,
      command("token", "integrator"),
      { env, cwd: root, timeout: 60_000 },
      (error, out, err) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, out, err })
    )
  })

describe("mobilepay-auth sandbox --https", () => {
  it("a client trusting the printed certificate gets a token over TLS; one that does not is refused", async () => {
    const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "mobilepay-cli-https-"))
    const sandbox = spawn(process.execPath, command("sandbox", "--https", "--port", "0"), {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const settings = await startSandbox(sandbox)
      const caFile = settings.NODE_EXTRA_CA_CERTS ?? ""
      expect(caFile).not.toBe("")
      expect(Fs.readFileSync(caFile, "utf8")).toContain("-----BEGIN CERTIFICATE-----")
      expect(settings.MOBILEPAY_DISCOVERY_URL).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//)
      expect(settings).not.toHaveProperty("MOBILEPAY_ALLOW_INSECURE_LOOPBACK")

      const { NODE_EXTRA_CA_CERTS: _, ...mobilepay } = settings
      const env = {
        PATH: process.env.PATH ?? "",
        ...mobilepay,
        MOBILEPAY_CLIENT_ID: "sandbox-integrator-client",
        MOBILEPAY_CLIENT_SECRET: "sandbox-integrator-secret",
        MOBILEPAY_ENCRYPTION_KEYS: KEY,
        MOBILEPAY_DATA_DIR: dataDir
      }
      const [trusted, untrusted] = await Promise.all([
        tokenIntegrator({ ...env, NODE_EXTRA_CA_CERTS: caFile }),
        tokenIntegrator(env)
      ])
      expect(trusted.err).toBe("")
      expect(trusted.code).toBe(0)
      expect(trusted.out.trim().split(".")).toHaveLength(3)
      expect(untrusted.code).toBe(5)
      expect(untrusted.err).toContain("error [Transport]: transport failure: tls")
      expect(untrusted.err).toContain("NODE_EXTRA_CA_CERTS")

      sandbox.kill("SIGTERM")
      await new Promise((resolve) => sandbox.once("exit", resolve))
      expect(Fs.existsSync(caFile)).toBe(false)
    } finally {
      sandbox.kill("SIGKILL")
      Fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 90_000)
})
