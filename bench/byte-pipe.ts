/** The ceiling of bench/cli.bench.ts: Node's own byte pipe, no lines, no validation. */
process.stdin.pipe(process.stdout);
