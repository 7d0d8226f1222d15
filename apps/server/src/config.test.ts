/**
 * `parseArgs` and `helpText`: every default, every `KV_*` variable, a flag winning over its variable,
 * bad values refused with `ConfigError`, and `--help` and apps/server/README.md listing every setting.
 */
import { readFileSync } from 'node:fs';
import { LIMITS } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, parseArgs, SETTINGS, type ServerConfig } from './config.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('parseArgs', () => {
  it('has the documented defaults', () => {
    const { command, args, config } = parseArgs([], {});
    expect(command).toBe('serve');
    expect(args).toEqual([]);
    expect(config).toEqual<ServerConfig>({
      host: '127.0.0.1',
      port: 8787,
      storage: 'sqlite',
      postgresUrl: undefined,
      postgresPoolSize: 10,
      dataFile: './data/kv.sqlite',
      synchronous: 'normal',
      maxValueBytes: LIMITS.defaultMaxValueBytes,
      maxBodyBytes: LIMITS.defaultMaxValueBytes + 1024 * 1024,
      maxJsonBodyBytes: 64 * 1024 * 1024,
      corsOrigins: [],
      logLevel: 'info',
      accessLogSample: 0,
      sweepIntervalMs: 1000,
      shutdownTimeoutMs: 10_000,
      changeLogLimit: 10_000,
      adminTokenFile: './data/kv.sqlite.admin-token',
      adminToken: undefined,
      skipQuickCheck: false,
      metricsPublic: false,
      noConsole: false,
      publicUrl: undefined,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 300_000,
      keepAliveTimeoutMs: 5_000,
      idleTimeoutMs: 60_000,
      maxConnections: 4096,
      maxResponseBufferBytes: 256 * 1024 * 1024,
      otel: false,
    });
    expect(LIMITS.defaultMaxValueBytes).toBe(26_214_400);
    // Memory storage has no admin token file unless one is given; nor has PostgreSQL (shared by instances).
    expect(parseArgs(['--storage', 'memory'], {}).config.adminTokenFile).toBeUndefined();
    expect(
      parseArgs(['--storage', 'postgres'], { KV_POSTGRES_URL: 'postgresql:///kv' }).config.adminTokenFile,
    ).toBeUndefined();
  });

  /** A value for each setting (as text) and what it parses to. */
  const samples: Record<keyof ServerConfig, [string, unknown] | undefined> = {
    host: ['0.0.0.0', '0.0.0.0'],
    port: ['9000', 9000],
    storage: ['memory', 'memory'],
    postgresUrl: ['postgresql://kv@db.internal/kv', 'postgresql://kv@db.internal/kv'],
    postgresPoolSize: ['25', 25],
    dataFile: ['/srv/kv.sqlite', '/srv/kv.sqlite'],
    synchronous: ['FULL', 'full'],
    maxValueBytes: ['1000', 1000],
    maxBodyBytes: ['5000', 5000],
    maxJsonBodyBytes: ['6000', 6000],
    corsOrigins: ['http://a.test, http://b.test', ['http://a.test', 'http://b.test']],
    logLevel: ['warn', 'warn'],
    accessLogSample: ['0.25', 0.25],
    sweepIntervalMs: ['250', 250],
    shutdownTimeoutMs: ['0', 0],
    changeLogLimit: ['50', 50],
    adminTokenFile: ['/run/kv/admin', '/run/kv/admin'],
    skipQuickCheck: ['1', true],
    metricsPublic: ['true', true],
    noConsole: ['1', true],
    publicUrl: ['https://kv.example.com/base/', 'https://kv.example.com/base'],
    headersTimeoutMs: ['1500', 1500],
    requestTimeoutMs: ['0', 0],
    keepAliveTimeoutMs: ['250', 250],
    idleTimeoutMs: ['800', 800],
    maxConnections: ['3', 3],
    maxResponseBufferBytes: ['1048576', 1048576],
    otel: ['true', true],
    adminToken: undefined, // environment only, below
  };

  it.each(SETTINGS.map((s) => [s.env, s] as const))('reads %s', (_env, setting) => {
    const [text, value] = samples[setting.key]!;
    expect(parseArgs([], { [setting.env]: text }).config[setting.key]).toEqual(value);
    // The flag gives the same result (a switch needs no value).
    const argv = setting.boolean === true ? [setting.flag] : [setting.flag, text];
    expect(parseArgs(argv, {}).config[setting.key]).toEqual(value);
    expect(parseArgs([`${setting.flag}=${text}`], {}).config[setting.key]).toEqual(value);
  });

  it('a flag wins over its variable; an empty variable is unset', () => {
    expect(parseArgs(['--port', '1234'], { KV_PORT: '4321' }).config.port).toBe(1234);
    expect(parseArgs(['--data', 'a.sqlite'], { KV_DATA_FILE: 'b.sqlite' }).config.dataFile).toBe('a.sqlite');
    expect(parseArgs(['--log-level', 'debug'], { KV_LOG_LEVEL: 'error' }).config.logLevel).toBe('debug');
    expect(parseArgs(['--metrics-public=false'], { KV_METRICS_PUBLIC: '1' }).config.metricsPublic).toBe(
      false,
    );
    expect(parseArgs([], { KV_PORT: '' }).config.port).toBe(8787);
  });

  it('switches: the flag alone turns it on, and takes no value', () => {
    const { config, args } = parseArgs(['--skip-quick-check', '--metrics-public', 'serve'], {});
    expect(config).toMatchObject({ skipQuickCheck: true, metricsPublic: true });
    expect(args).toEqual([]);
    expect(parseArgs([], { KV_SKIP_QUICK_CHECK: 'false', KV_METRICS_PUBLIC: '0' }).config).toMatchObject({
      skipQuickCheck: false,
      metricsPublic: false,
    });
  });

  it('an OTLP endpoint in the environment turns --otel on, unless disabled', () => {
    const endpoint = 'http://127.0.0.1:4318';
    expect(parseArgs([], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).config.otel).toBe(true);
    expect(parseArgs([], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` }).config.otel).toBe(
      true,
    );
    expect(parseArgs([], { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }).config.otel).toBe(false);
    expect(
      parseArgs([], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'TRUE' }).config.otel,
    ).toBe(false);
    // An explicit flag or KV_OTEL decides.
    expect(parseArgs(['--otel=false'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).config.otel).toBe(false);
    expect(parseArgs([], { KV_OTEL: '0', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).config.otel).toBe(false);
    expect(parseArgs(['--otel'], {}).config.otel).toBe(true);
  });

  it('the admin token file follows --data, and KV_ADMIN_TOKEN is read from the environment', () => {
    expect(parseArgs(['--data', '/srv/x.sqlite'], {}).config.adminTokenFile).toBe(
      '/srv/x.sqlite.admin-token',
    );
    const secret = 'kv_operator-chosen-secret-01';
    expect(parseArgs([], { KV_ADMIN_TOKEN: secret }).config.adminToken).toBe(secret);
  });

  it('parses subcommands and their arguments', () => {
    expect(parseArgs(['backup', 'b.sqlite', '--data', 'x'], {})).toMatchObject({
      command: 'backup',
      args: ['b.sqlite'],
      config: { dataFile: 'x' },
    });
    expect(parseArgs(['export', 'orders', '--help'], {}).command).toBe('help');
  });

  it.each([
    [['--port', '65536'], {}, '--port must be an integer from 0 to 65535, got "65536"'],
    [['--port', '1.5'], {}, '--port must be an integer'],
    [[], { KV_PORT: 'http' }, 'KV_PORT must be an integer'],
    [['--storage', 'redis'], {}, '--storage must be one of sqlite, postgres, memory'],
    [['--storage', 'postgres'], {}, '--storage postgres needs --postgres-url or KV_POSTGRES_URL'],
    [['--postgres-pool-size', '0'], {}, '--postgres-pool-size must be an integer from 1 to 1000'],
    [[], { KV_SYNCHRONOUS: 'off' }, 'KV_SYNCHRONOUS must be one of normal, full'],
    [['--log-level', 'loud'], {}, '--log-level must be one of trace, debug, info'],
    [['--max-value-bytes', '0'], {}, '--max-value-bytes must be an integer from 1'],
    [['--sweep-interval-ms', '5'], {}, '--sweep-interval-ms must be an integer from 10'],
    [['--change-log-limit', '-1'], {}, '--change-log-limit must be an integer'],
    [['--shutdown-timeout-ms', 'soon'], {}, '--shutdown-timeout-ms must be an integer'],
    [['--metrics-public=yes'], {}, '--metrics-public must be true, false, 1 or 0'],
    [[], { KV_SKIP_QUICK_CHECK: 'maybe' }, 'KV_SKIP_QUICK_CHECK must be true, false, 1 or 0'],
    [['--public-url', 'kv.example.com'], {}, '--public-url must be an absolute http(s) URL'],
    [[], { KV_PUBLIC_URL: 'ftp://kv.example.com' }, 'KV_PUBLIC_URL must be an absolute http(s) URL'],
    [['--public-url=https://kv.example.com/?a=1'], {}, '--public-url must be an absolute http(s) URL'],
    [['--headers-timeout-ms', '0'], {}, '--headers-timeout-ms must be an integer from 100'],
    [[], { KV_IDLE_TIMEOUT_MS: '1m' }, 'KV_IDLE_TIMEOUT_MS must be an integer'],
    [['--max-connections', '0'], {}, '--max-connections must be an integer from 1'],
    [['--access-log-sample', '2'], {}, '--access-log-sample must be a number from 0 to 1'],
    [[], { KV_ACCESS_LOG_SAMPLE: '-0.5' }, 'KV_ACCESS_LOG_SAMPLE must be a number from 0 to 1'],
    [['--access-log-sample', '1e-2'], {}, '--access-log-sample must be a number from 0 to 1'],
    [['--nope', '1'], {}, 'unknown flag --nope'],
    [['--port'], {}, 'flag --port needs a value'],
    [['launch'], {}, 'unknown command "launch"'],
    [[], { KV_ADMIN_TOKEN: 'short' }, 'KV_ADMIN_TOKEN must be 16-512 visible ASCII characters'],
  ] as const)('refuses %j %j', (argv, env, message) => {
    expect(() => parseArgs(argv, env)).toThrow(ConfigError);
    expect(() => parseArgs(argv, env)).toThrow(message);
  });
});

describe('documentation of the settings', () => {
  it('--help lists every setting with its flag, variable and default', () => {
    const help = helpText();
    for (const s of SETTINGS) {
      const line = help
        .split('\n')
        .find((l) => l.trimStart().startsWith(`${s.flag} `) || l.trim() === s.flag);
      expect(line, s.flag).toBeDefined();
      expect(line, s.flag).toContain(s.env);
      expect(line, s.flag).toContain(s.default);
    }
    expect(help).toContain('KV_ADMIN_TOKEN');
  });

  it("apps/server/README.md's configuration table lists every setting", () => {
    const rows = README.split('\n').filter((l) => l.startsWith('| `--') || l.startsWith('| |'));
    for (const s of SETTINGS) {
      const row = rows.find((r) => r.startsWith(`| \`${s.flag}\` |`));
      expect(row, s.flag).toBeDefined();
      expect(row, s.flag).toContain(`\`${s.env}\``);
    }
    expect(rows.some((r) => r.includes('`KV_ADMIN_TOKEN`'))).toBe(true);
    expect(rows).toHaveLength(SETTINGS.length + 1);
  });
});
