#!/usr/bin/env node
/**
 * `kv-server`: the command line of the kv reference server. `kv-server [serve]` serves HTTP until
 * SIGINT/SIGTERM (graceful shutdown); `backup`, `restore`, `export` and `import` maintain the SQLite
 * file (with `--storage postgres`: `export` and `import` work on the database, `backup` and `restore`
 * point to `pg_dump`/`pg_restore`). `kv-server --help` lists every setting (see `config.ts`).
 *
 * Exit codes: 0 ok; 1 startup or command failure (the message names the database file when it is the
 * cause); 2 bad flags or arguments.
 *
 * @module
 */
import { resolve } from 'node:path';
import pino from 'pino';
import { ConfigError, helpText, type ParsedArgs, parseArgs } from './config.js';
import type { OtlpTracing } from './otlp.js';
import { PostgresStorage } from './postgres/storage.js';
import { exportPostgresStore, PG_BACKUP_MESSAGE } from './postgres/tools.js';
import { startServer } from './server.js';
import { DatabaseOpenError } from './sqlite-storage.js';
import { backupDatabase, exportStore, importStore, outputStream, restoreDatabase } from './tools.js';

/** Log lines are written once this many bytes are buffered... */
const LOG_BUFFER_BYTES = 4096;
/** ...or at the latest after this many milliseconds. */
const LOG_FLUSH_MS = 100;

function fail(message: string, code: number): never {
  process.stderr.write(`kv-server: ${message}\n`);
  process.exit(code);
}

async function serve(parsed: ParsedArgs): Promise<void> {
  const { config } = parsed;
  // Request logs are buffered: one write(2) per ~4 KiB of lines instead of one per request (a third of a
  // GET's CPU at info level), flushed at least every 100 ms and synchronously at exit. A `kill -9` can
  // lose the last 100 ms of log lines, never data (docs/performance.md, "Server hot path").
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_MS,
  });
  const logger = pino(
    {
      level: config.logLevel,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const flush = (): void => {
    try {
      destination.flushSync();
    } catch {
      // not ready or already closed
    }
  };
  // The OpenTelemetry SDK and exporter are loaded only with --otel (or an OTLP endpoint set): without
  // them the server's spans stay @opentelemetry/api no-ops (tracing.ts) and startup loads nothing more.
  let tracing: OtlpTracing | undefined;
  if (config.otel) {
    const { startOtlpTracing } = await import('./otlp.js');
    tracing = startOtlpTracing(process.env, logger);
    logger.info({ endpoint: tracing.endpoint }, 'tracing: exporting spans over OTLP/HTTP');
  }
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(config, logger);
  } catch (error) {
    const message =
      error instanceof DatabaseOpenError
        ? error.message
        : (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? `cannot listen on ${config.host}:${config.port}: address in use`
          : `cannot start: ${(error as Error).message}`;
    logger.fatal(
      {
        err: error,
        ...(error instanceof DatabaseOpenError ? { file: error.path, reason: error.reason } : {}),
      },
      message,
    );
    flush();
    fail(message, 1);
  }

  // Whoever waits for the `listening` line (a supervisor, a test) sees it now, not at the next flush.
  flush();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      flush();
      process.exit(1);
    }
    running.shutdown(signal).then(
      async () => {
        // Spans still batched are sent before exit (bounded: a collector that is down delays it 5 s at most).
        await tracing?.shutdown(Math.min(5_000, config.shutdownTimeoutMs + 1_000));
        flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    flush();
    process.exit(1);
  });
}

async function run(): Promise<void> {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
  const { command, args, config } = parsed;
  const need = (count: number, usage: string): void => {
    if (args.length < count || args.length > count + (command === 'export' ? 1 : 0)) {
      fail(`usage: kv-server ${usage}`, 2);
    }
  };
  const dataFile = resolve(config.dataFile);
  const postgresUrl = config.storage === 'postgres' ? config.postgresUrl : undefined;
  try {
    if (postgresUrl !== undefined && (command === 'backup' || command === 'restore'))
      fail(PG_BACKUP_MESSAGE, 2);
    switch (command) {
      case 'help':
        process.stdout.write(helpText());
        return;
      case 'serve':
        await serve(parsed);
        return;
      case 'backup': {
        need(1, 'backup <file> [--data <db>]');
        const r = await backupDatabase(dataFile, args[0]!);
        process.stderr.write(`backed up ${dataFile} to ${r.file} (${r.pages} pages)\n`);
        return;
      }
      case 'restore': {
        need(1, 'restore <file> [--data <db>]');
        const r = await restoreDatabase(args[0]!, dataFile);
        process.stderr.write(`restored ${r.file} from ${resolve(args[0]!)} (${r.pages} pages)\n`);
        return;
      }
      case 'export': {
        need(1, 'export <store> [file] [--data <db>]');
        const { out, done } = outputStream(args[1]);
        const count =
          postgresUrl === undefined
            ? await exportStore(dataFile, args[0]!, out)
            : await exportPostgresStore(postgresUrl, args[0]!, out);
        await done();
        process.stderr.write(`exported ${count} entries of store "${args[0]}"\n`);
        return;
      }
      case 'import': {
        need(2, 'import <store> <file> [--data <db>]');
        const r = await importStore(
          dataFile,
          args[0]!,
          args[1]!,
          1000,
          postgresUrl === undefined
            ? undefined
            : () => PostgresStorage.open({ url: postgresUrl, poolSize: 2 }),
        );
        for (const f of r.failed.slice(0, 20)) {
          process.stderr.write(`line ${f.line}${f.key === undefined ? '' : ` (${f.key})`}: ${f.error}\n`);
        }
        if (r.failed.length > 20) process.stderr.write(`... and ${r.failed.length - 20} more\n`);
        process.stderr.write(
          `imported ${r.written} entries into store "${args[0]}", ${r.failed.length} failed\n`,
        );
        if (r.failed.length > 0) process.exitCode = 1;
        return;
      }
    }
  } catch (error) {
    fail((error as Error).message, 1);
  }
}

await run();
