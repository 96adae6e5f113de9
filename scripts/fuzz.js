#!/usr/bin/env node
/**
 * `npm run fuzz -- [--cases N] [--seed S] [--verbose] [--json FILE]`: a long adversarial fuzz campaign
 * (seeds S, S+1, … S+N-1; S defaults to a fresh one, printed). `--fixed` runs the seeds CI runs instead;
 * with `--write-known` it records which of them fail now (helpers/fuzz/known-failing.<mode>.json). Prints every failing seed with a
 * one-line reproduction (`npm run fuzz -- --seed <seed> --cases 1 --verbose`) and exits non-zero if
 * any case failed. The cases run through Jest (see jest.fuzz.config.js), exactly as the fixed seeds
 * of __tests__/properties/adversarial.fuzz.test.ts do in CI.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

function usage(message) {
  if (message) process.stderr.write(`fuzz: ${message}\n`);
  process.stderr.write(
    'usage: npm run fuzz -- [--cases N] [--seed S] [--verbose] [--json FILE]\n' +
      '       npm run fuzz -- --fixed [--write-known]   (the seeds CI runs; --write-known records which fail now)\n',
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let cases = 1000;
let seed;
let verbose = false;
let json = '';
let fixed = false;
let writeKnown = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) usage(`${arg} needs a value`);
    return v;
  };
  switch (arg) {
    case '--cases':
      cases = Number(value());
      break;
    case '--seed':
      seed = Number(value());
      break;
    case '--verbose':
      verbose = true;
      break;
    case '--json':
      json = path.resolve(value());
      break;
    case '--fixed':
      fixed = true;
      break;
    case '--write-known':
      writeKnown = true;
      break;
    case '--help':
    case '-h':
      usage();
      break;
    default:
      usage(`unknown argument ${arg}`);
  }
}
if (!Number.isSafeInteger(cases) || cases < 1) usage('--cases must be an integer >= 1');
if (writeKnown && !fixed) usage('--write-known goes with --fixed');
if (seed === undefined) seed = Math.floor(Math.random() * 1e9) + 1;
if (!Number.isSafeInteger(seed) || seed < 0 || seed + cases > 2 ** 32)
  usage('--seed must be an integer in [0, 2^32 - cases]');

const root = path.resolve(__dirname, '..');
const jest = require.resolve('jest/bin/jest', { paths: [root] });
const result = spawnSync(
  process.execPath,
  [jest, '--config', path.join(root, 'jest.fuzz.config.js'), '--runInBand', '--silent=false'],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      FUZZ_SEED: String(seed),
      FUZZ_CASES: String(cases),
      FUZZ_VERBOSE: verbose ? '1' : '0',
      FUZZ_JSON: json,
      FUZZ_FIXED: fixed ? '1' : '0',
      FUZZ_WRITE_KNOWN: writeKnown ? '1' : '0',
    },
  },
);
if (result.error) throw result.error;
process.exit(result.status ?? 1);
