/**
 * Type-checks every TypeScript code block in docs/*.md, so the guides cannot drift from the
 * code. Each ```ts block is compiled as its own module against the workspace packages; a
 * block quoting part of a checked file in docs/snippets is fenced ```ts excerpt=<file> and must
 * appear there verbatim. Run by `pnpm check`.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import ts from "typescript"

const root = Path.resolve(import.meta.dirname, "..")
const docs = Path.join(root, "docs")
const out = Path.join(docs, ".blocks")
Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })

const files: Array<string> = []
const problems: Array<string> = []
for (const name of Fs.readdirSync(docs)
  .filter((f) => f.endsWith(".md"))
  .sort()) {
  const text = Fs.readFileSync(Path.join(docs, name), "utf8")
  const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm
  let match: RegExpExecArray | null
  let n = 0
  while ((match = fence.exec(text)) !== null) {
    n++
    const info = match[2] ?? ""
    const line = text.slice(0, match.index).split("\n").length
    // An excerpt of a checked snippet must appear in it verbatim (whitespace aside).
    const excerpt = /excerpt=(\S+)/.exec(info)?.[1]
    if (excerpt !== undefined) {
      const source = Path.join(docs, "snippets", excerpt)
      const squash = (s: string) => s.replace(/\s+/g, " ").trim()
      if (
        !Fs.existsSync(source) ||
        !squash(Fs.readFileSync(source, "utf8")).includes(squash(match[3] ?? ""))
      ) {
        problems.push(`docs/${name}:${line}: block is not an excerpt of docs/snippets/${excerpt}`)
      }
      continue
    }
    const file = Path.join(out, `${name.replace(/\.md$/, "")}-${n}.ts`)
    Fs.writeFileSync(file, `// ${name}:${line}\n${match[3] ?? ""}`)
    files.push(file)
  }
}

const configFile = ts.readConfigFile(Path.join(root, "tsconfig.base.json"), (p) => ts.sys.readFile(p))
const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root)
const program = ts.createProgram(files, { ...parsed.options, noUnusedLocals: false, noEmit: true })
const diagnostics = ts
  .getPreEmitDiagnostics(program)
  .filter((d) => d.file === undefined || files.includes(Path.resolve(d.file.fileName)))
const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => root,
  getNewLine: () => "\n"
}
for (const problem of problems) process.stderr.write(`${problem}\n`)
if (problems.length > 0) process.exitCode = 1
if (diagnostics.length > 0) {
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, host))
  process.stderr.write(
    `\n${diagnostics.length} error(s) in code blocks of docs/*.md (see the // file:line headers)\n`
  )
  process.exitCode = 1
} else if (problems.length === 0) {
  process.stdout.write(`docs: ${files.length} code blocks type-check, excerpts match their snippets\n`)
}
