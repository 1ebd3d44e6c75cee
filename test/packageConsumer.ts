/**
 * A project that depends on unetc as a user's would: `npm pack` of this checkout, the tarball
 * unpacked into the project's node_modules/unetc, with node_modules/.bin/unetc as npm links it.
 *
 * The tarball's dependencies are linked from this checkout's node_modules rather than installed
 * from the registry (offline, and seconds instead of minutes); only the packages the tarball's
 * package.json names are linked, so an import of a package that is not a declared dependency (a
 * devDependency such as tsx) fails here as it would for a user. Used by test/package.test.ts and
 * bench/installed-check.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

export interface Consumer {
  /** The project folder ("type": "module"). */
  dir: string;
  /** The packed tarball. */
  tarball: string;
  /** The files in the tarball, relative to the package root. */
  files: string[];
  /** The unetc command as installed (node_modules/.bin/unetc). */
  bin: string;
}

/** Packs this checkout (building dist/ first) and installs the tarball into a new project. */
export function makeConsumer(): Consumer {
  execFileSync(process.execPath, [join(ROOT, 'bin', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const work = mkdtempSync(join(tmpdir(), 'unetc-consumer-'));
  // --ignore-scripts: dist/ was just built; prepare would build it again.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]!.filename);
  const dir = join(work, 'project');
  const modules = join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', modules]);
  renameSync(join(modules, 'package'), join(modules, 'unetc'));
  const pkg = JSON.parse(readFileSync(join(modules, 'unetc', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  for (const name of deps) {
    const from = join(ROOT, 'node_modules', name);
    if (!existsSync(from)) continue; // an optional dependency that is not installed here either
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(from, join(modules, name), 'dir');
  }
  mkdirSync(join(modules, '.bin'));
  symlinkSync('../unetc/bin/unetc.mjs', join(modules, '.bin', 'unetc'));
  return { dir, tarball, files: packed[0]!.files.map((f) => f.path), bin: join(modules, '.bin', 'unetc') };
}

/** The environment for child processes of the consumer: no colour, and no test-only requirements. */
export function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  // The installed package has no built addon (its install script is not run here).
  delete env.UNETC_REQUIRE_NATIVE;
  delete env.NODE_OPTIONS;
  return env;
}
