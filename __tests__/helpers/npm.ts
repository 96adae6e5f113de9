/**
 * Running npm and node the way a user's fresh project would, from inside the test suite.
 */

/**
 * The environment for child npm/node processes. Under `npm test`, npm exports this repo's prefix, package and
 * lifecycle variables; a scratch project (or a clone being packed) must behave like a fresh checkout, so it
 * does not inherit them.
 */
export function npmChildEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(config_local_prefix|config_prefix|package_|lifecycle_)/i.test(key) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  delete env.READABLE_STREAM; // the consumer runs with readable-stream's own classes, as users do by default
  return env;
}

/** The npm executable's name on this platform. */
export const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
