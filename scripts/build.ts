/**
 * `npm run build`: bundles every function of serverless.yml with esbuild and writes one Lambda artifact
 * per function to `.build/<functionKey>.zip` (what `package.artifact` in serverless.yml points at).
 *
 * Each zip holds `functions/<file>.mjs` (so the handler string `functions/<file>.handler` resolves on
 * Lambda as it does on the local cloud, which runs the TypeScript), its source map, and `agents/*.yaml`
 * (read at run time from `${LAMBDA_TASK_ROOT}/agents`). The AWS SDK is bundled too: the versions are the
 * lockfile's, not whatever the Lambda runtime ships that day.
 *
 * Usage: tsx scripts/build.ts [--json] [--stage <stage>]
 * Exit codes: 0 built, 1 the build failed, 2 bad usage.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile, type OutputFile } from 'esbuild';
import { checkAgents } from '../cli/agents-check.js';
import { loadService } from '../local/serverless/index.js';
import { type ZipEntry, zip } from './zip.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = '.build';
const SOURCE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
/** CommonJS dependencies call `require` (for Node built-ins too), which an ES module does not have. */
const BANNER = [
  "import { createRequire as __deputyCreateRequire } from 'node:module';",
  "import { fileURLToPath as __deputyFileURLToPath } from 'node:url';",
  "import { dirname as __deputyDirname } from 'node:path';",
  'const require = __deputyCreateRequire(import.meta.url);',
  // CommonJS code that finds its files beside itself (Cedar's wasm) reads __dirname: the bundle's folder.
  'const __filename = __deputyFileURLToPath(import.meta.url);',
  'const __dirname = __deputyDirname(__filename);',
].join('\n');
/**
 * How every function is bundled (bench/cold-start.ts bundles its minimal handler with these too, so the
 * comparison is like for like).
 */
export const BUNDLE_OPTIONS = {
  absWorkingDir: ROOT,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // ES module builds of dependencies (the AWS SDK has them) tree-shake better.
  mainFields: ['module', 'main'],
  minify: true,
  // Linked, without the sources' text: stack traces map back (NODE_OPTIONS=--enable-source-maps)
  // at a fraction of the size of an inline map.
  sourcemap: 'linked',
  sourcesContent: false,
  banner: { js: BANNER },
  logLevel: 'silent',
} satisfies BuildOptions;

/** Cedar's WebAssembly module, read at run time from beside the bundle by the functions that use it. */
const CEDAR_WASM = 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm';

class BuildError extends Error {
  override readonly name = 'BuildError';
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Options {
  json: boolean;
  stage: string;
}

export interface FunctionArtifact {
  key: string;
  handler: string;
  source: string;
  /** Inside the zip, e.g. `functions/plan.mjs`. */
  bundle: string;
  bundleBytes: number;
  sourceMapBytes: number;
  /** Relative to the repository, e.g. `.build/plan.zip`. */
  zip: string;
  zipBytes: number;
  sha256: string;
  /** Bundled npm packages and their versions (from their package.json). */
  packages: Record<string, string>;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { json: false, stage: process.env.DEPUTY_STAGE || 'dev' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--stage') {
      const stage = argv[++i];
      if (!stage || stage.startsWith('-')) throw new UsageError('--stage needs a value');
      opts.stage = stage;
    } else throw new UsageError(`unknown argument '${arg}'`);
  }
  return opts;
}

/** `functions/plan.handler` -> `functions/plan` and the source file that exists for it. */
function sourceOf(key: string, handler: string): { base: string; source: string } {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new BuildError(`functions.${key}: handler '${handler}' must be 'path/to/module.exportName'`);
  const base = handler.slice(0, dot);
  const source = SOURCE_EXTENSIONS.map((ext) => `${base}${ext}`).find((f) => existsSync(join(ROOT, f)));
  if (!source) {
    throw new BuildError(
      `functions.${key}: no source for handler '${handler}' (looked for ${base}{${SOURCE_EXTENSIONS.join(',')}})`,
    );
  }
  return { base, source };
}

/** The agent definitions every function loads at run time (not recordings, examples or tools). */
export function agentFiles(root = ROOT): ZipEntry[] {
  const dir = join(root, 'agents');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
    .map((d) => d.name)
    .sort();
  if (names.length === 0) throw new BuildError('agents/ has no *.yaml agent definitions');
  const policies = join(dir, 'policies');
  const cedar = existsSync(policies)
    ? readdirSync(policies)
        .filter((f) => f.endsWith('.cedar'))
        .sort()
    : [];
  return [
    ...names.map((name) => ({ name: `agents/${name}`, data: readFileSync(join(dir, name)) })),
    ...cedar.map((name) => ({ name: `agents/policies/${name}`, data: readFileSync(join(policies, name)) })),
  ];
}

/** Package name -> version(s) for every node_modules package an output took code from. */
function bundledPackages(inputs: Record<string, unknown>): Record<string, string> {
  const found = new Map<string, Set<string>>();
  for (const input of Object.keys(inputs)) {
    // The last node_modules/ of the path: a nested copy is its own package (and maybe its own version).
    const m = /^(.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.split(sep).join('/'));
    if (!m?.[2]) continue;
    let version = 'unknown';
    try {
      const manifest = JSON.parse(readFileSync(join(ROOT, m[0], 'package.json'), 'utf8')) as { version?: string };
      version = manifest.version ?? version;
    } catch {
      // a package without a readable package.json keeps 'unknown'
    }
    found.set(m[2], (found.get(m[2]) ?? new Set()).add(version));
  }
  return Object.fromEntries(
    [...found].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, versions]) => [name, [...versions].sort().join(', ')]),
  );
}

async function bundle(
  entries: { base: string; source: string }[],
): Promise<{ files: Map<string, OutputFile>; metafile: Metafile }> {
  try {
    const result = await build({
      ...BUNDLE_OPTIONS,
      entryPoints: entries.map((e) => ({ in: e.source, out: e.base })),
      // Only for paths: nothing is written (write: false), the outputs go straight into the zips. With
      // the repository as outdir, a map's sources read as in the repository (`../shared/...`).
      outdir: ROOT,
      write: false,
      metafile: true,
    });
    const files = new Map(result.outputFiles.map((f) => [relative(ROOT, f.path).split(sep).join('/'), f] as const));
    return { files, metafile: result.metafile };
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const detail = errors?.map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text));
    throw new BuildError(`esbuild failed:\n  ${detail?.join('\n  ') ?? (e as Error).message}`);
  }
}

export async function buildAll(opts: Options): Promise<FunctionArtifact[]> {
  let model: Awaited<ReturnType<typeof loadService>>;
  try {
    model = await loadService(join(ROOT, 'serverless.yml'), { stage: opts.stage, env: process.env });
  } catch (e) {
    throw new BuildError((e as Error).message);
  }
  if (model.functions.length === 0) throw new BuildError('serverless.yml has no functions');
  // The agents are validated at build time as they will be at run time (schema, tools, triggers).
  const check = checkAgents(model);
  if (check.problems.length > 0) {
    throw new BuildError(`the agent definitions are not valid:\n  ${check.problems.join('\n  ')}`);
  }
  const functions = model.functions.map((fn) => ({
    key: fn.key,
    handler: fn.handler,
    ...sourceOf(fn.key, fn.handler),
  }));
  // Two functions may share a module (different exports): it is bundled once.
  const entries = [...new Map(functions.map((f) => [f.base, { base: f.base, source: f.source }])).values()];
  const { files, metafile } = await bundle(entries);
  const agents = agentFiles();

  rmSync(join(ROOT, OUT_DIR), { recursive: true, force: true });
  mkdirSync(join(ROOT, OUT_DIR), { recursive: true });
  return functions.map((fn) => {
    const name = `${fn.base}.mjs`;
    const code = files.get(name);
    const map = files.get(`${name}.map`);
    if (!code || !map) throw new BuildError(`esbuild produced no ${name} for functions.${fn.key}`);
    const packages = bundledPackages(metafile.outputs[name]?.inputs ?? {});
    const wasm = packages['@cedar-policy/cedar-wasm']
      ? [{ name: `${dirname(name)}/cedar_wasm_bg.wasm`, data: readFileSync(join(ROOT, CEDAR_WASM)) }]
      : [];
    const archive = zip([
      { name, data: code.contents },
      { name: `${name}.map`, data: map.contents },
      ...wasm,
      ...agents,
    ]);
    const zipPath = `${OUT_DIR}/${fn.key}.zip`;
    writeFileSync(join(ROOT, zipPath), archive);
    return {
      key: fn.key,
      handler: fn.handler,
      source: fn.source,
      bundle: name,
      bundleBytes: code.contents.length,
      sourceMapBytes: map.contents.length,
      zip: zipPath,
      zipBytes: archive.length,
      sha256: createHash('sha256').update(archive).digest('hex'),
      packages,
    };
  });
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function table(artifacts: FunctionArtifact[]): string {
  const rows = [
    ['function', 'handler', 'bundle', 'source map', 'zip'],
    ...artifacts.map((a) => [a.key, a.handler, kib(a.bundleBytes), kib(a.sourceMapBytes), kib(a.zipBytes)]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i >= 2 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`build: ${(e as Error).message}\nusage: tsx scripts/build.ts [--json] [--stage <stage>]`);
    process.exit(2);
  }
  try {
    const artifacts = await buildAll(opts);
    if (opts.json) console.log(JSON.stringify({ functions: artifacts }, null, 2));
    else console.log(`${table(artifacts)}\n\n${artifacts.length} artifacts in ${OUT_DIR}/`);
  } catch (e) {
    console.error(`build: ${e instanceof BuildError ? e.message : ((e as Error).stack ?? String(e))}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
