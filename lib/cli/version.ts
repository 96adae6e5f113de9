import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package version, read from package.json at run time: dist/cli/ sits two
 * levels below the package root both in the repo and in an installed tarball,
 * and reading it (rather than importing it) keeps package.json out of tsc's rootDir.
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
