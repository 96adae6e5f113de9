import { Strategy } from '../compose/backpressure';
import { DEFAULTS, MAX_TIMER_MS } from '../core/options';
import { InvalidPolicies } from '../ndjson/ndjson-splitter';
import { DEFAULT_MAX_DISK_BYTES, SYNC_MODES } from './buffer-dir';
import { CLI_DEFAULTS } from './parse-args';

/** The one-line hint appended to every usage error. */
export const USAGE_LINE =
  "usage: backpressure [options] < input.ndjson | backpressure --source redis://… [options]  (try 'backpressure --help')";

/**
 * Full `--help` text. Keep in step with the flags tables in docs/cli.md and the README. Values the
 * library or the CLI defines (strategies, policies, defaults, limits) are read from there, not restated.
 */
export const HELP_TEXT = `backpressure — pipe NDJSON from stdin to a sink with bounded memory and no silent data loss

usage: backpressure [options] < input.ndjson
       backpressure --source redis://HOST:PORT/STREAM?group=G [options]

Strategy (what to do when the sink is slower than the input):
  --strategy NAME         ${Object.values(Strategy).join(' | ')}   (default: ${CLI_DEFAULTS.strategy})
                          block stops reading stdin while the sink is behind, so the pipe
                          pushes back on the producer; the others keep reading and count drops
  --sample-rate N         sample: keep 1 of every N records while under pressure
  --priority-field PATH   priority: dotted path to a numeric field (non-numeric = lowest)

Buffering and delivery:
  --max-buffer N          records held at most                         (library default: ${DEFAULTS.maxBufferSize})
  --max-buffer-bytes N    bytes held at most                           (default: no byte bound)
  --batch-size N          records per sink write, at most --max-buffer (library default: ${DEFAULTS.batchSize},
                          or --max-buffer when that is smaller)
  --concurrency N         sink writes in flight, 1 to ${CLI_DEFAULTS.maxConcurrency}             (library default: ${DEFAULTS.concurrency})
                          http: requests in flight; stdout, file:, exec: still write in order
  --adaptive              let a control loop choose batch size and concurrency from the sink's
                          latency and throughput (--batch-size, --concurrency: where it starts)
  --flush-interval MS     longest wait before a partial batch is sent
  --retries N             retries per batch before dead-lettering
  --flush-timeout MS      abort a sink write still pending after MS    (default: ${DEFAULTS.flushTimeoutMs})
  --drain-timeout MS      on SIGINT/SIGTERM/SIGHUP, how long to drain  (default: ${CLI_DEFAULTS.drainTimeoutMs})
                          (MS values: 0 to ${MAX_TIMER_MS}, the longest timer Node can set)

On-disk buffer (survives kill -9; a restart on the same DIR delivers what is left first):
  --buffer-dir DIR        hold records in a crash-safe log in DIR, not in memory alone
                          (one backpressure per DIR; read ahead into memory: --max-buffer)
  --max-disk-bytes N      bytes of log files at most; when full, stop reading stdin
                                                                       (default: ${DEFAULT_MAX_DISK_BYTES})
  --sync MODE             ${SYNC_MODES.join(' | ')}: always/batch fdatasync a record before it
                          counts as taken (batch: one sync per burst); none never syncs
                          (survives a crash of the process, not of the machine)  (default: batch)

Input and output:
  --source SPEC           stdin | redis://[user:pass@]HOST:PORT/STREAM?group=G[&consumer=C…]  (default: stdin)
                          a Redis stream read through a consumer group; each entry is acknowledged
                          only once delivered (or dead-lettered); the rest stays pending
  --exit-when-idle MS     redis source: end once nothing new was found for MS (deliver, acknowledge, exit 0)
  --sink SPEC             stdout | file:PATH | http://URL | https://URL | exec:COMMAND | redis://HOST:PORT/STREAM
                          (default: stdout)
  --dead-letter PATH      append undeliverable records and invalid lines here as JSON lines
  --invalid POLICY        ${Object.values(InvalidPolicies).join(' | ')}: what an invalid line does       (default: ${CLI_DEFAULTS.invalid})
  --max-line-bytes N      longer lines are invalid                     (default: ${CLI_DEFAULTS.maxLineBytes})

Reporting:
  --stats                 print one JSON summary line on stderr at exit
  --progress              live status line on stderr                   (default: on if stderr is a TTY)
  --no-progress           never show it
  -h, --help              this text
  -v, --version           print the version

Signals: SIGINT, SIGTERM, SIGHUP stop reading and drain for --drain-timeout; a second one, or
SIGQUIT, exits at once. Either way the line being written is finished first, and the summary says
what was not delivered. Reading a Redis stream, what was not delivered stays pending there.

Exit codes: 0 success (strategy drops included), 1 runtime/sink failure or records not delivered,
2 usage error, 128+N stopped by signal N (129 SIGHUP, 130 SIGINT, 131 SIGQUIT, 143 SIGTERM).
`;
