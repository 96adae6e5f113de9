/** Jest settings for `npm run fuzz` (scripts/fuzz.js): the campaign file only, no per-test timeout. */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['**/__tests__/helpers/fuzz/campaign.fuzz.ts'],
  testTimeout: 7 * 24 * 3600 * 1000,
};
