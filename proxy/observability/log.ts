// Structured JSON logs, one object per line on stdout (errors on stderr). Secrets are never passed here.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  /** Whether a line at this level would be written (skip building costly fields when not). */
  enabled?(level: Level): boolean;
}

export function createLogger(min: Level = 'info', out: (line: string, level: Level) => void = defaultOut): Logger {
  return {
    enabled: (level) => ORDER[level] >= ORDER[min],
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[min]) return;
      out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }), level);
    },
  };
}

function defaultOut(line: string, level: Level): void {
  (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
}

export function errorFields(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { error: String(e) };
  return { error: e.message, stack: e.stack, cause: e.cause instanceof Error ? e.cause.message : undefined };
}
