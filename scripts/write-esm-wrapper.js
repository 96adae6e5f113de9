'use strict';
// Writes dist/index.mjs, an ES module facade over the CommonJS build, so that
// `import { BackpressureWritable } from 'backpressure'` works with named
// imports. The names are read from the built module itself, so the facade can
// never fall out of step with lib/index.ts.
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
const lines = [
  "import cjs from './index.js';",
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  'export default cjs;',
  '',
];
fs.writeFileSync(path.join(dist, 'index.mjs'), lines.join('\n'));
