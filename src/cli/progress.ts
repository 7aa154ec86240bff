/**
 * A one-line progress bar on standard error, for people only: it is drawn
 * when standard error is a terminal, `NO_COLOR` is unset (or empty),
 * `TERM` is not `dumb` and `-q`/`--quiet` was not given, and only once the
 * work has taken longer than {@link PROGRESS_DELAY_MS} (so quick commands
 * never flash one). It is cleared (the line erased) before any other output
 * and when the command ends.
 *
 * It is driven by progress events `{ phase, done, total }`: the library's
 * `onProgress` callback (e.g. `decode xz`, bytes decoded of the total) and
 * the CLI's own coarse steps (`read`, `inspect`, `identity`, `write`…).
 * With a known total it shows a bar and a percentage; without, a spinner
 * and the byte count.
 *
 * Rendering happens inside `update` (throttled), because a synchronous
 * decode loop that reports progress leaves no turn to a timer; a timer
 * (unref'd) also redraws the spinner while asynchronous work runs quietly.
 *
 * @module
 */

/** One progress report, as the library's `onProgress` passes it. */
export interface ProgressEvent {
  /** What is being done: `read`, `decode xz`, `inspect`… */
  phase: string;
  /** Units done so far (bytes for reading and decoding). */
  done: number;
  /** Units in all, when known. */
  total?: number | undefined;
}

/** A receiver of progress events (the shape of the library's `onProgress`). */
export type ProgressSink = (e: ProgressEvent) => void;

/** Library options widened by `onProgress` (until, and after, the library declares it). */
export interface WithProgress {
  onProgress?: ProgressSink;
}

/** The stream the bar is drawn on (process.stderr in the CLI). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** A progress bar: feed it events, clear it before other output, end it once. */
export interface ProgressBar {
  /** Whether the bar may be drawn at all (a terminal, no NO_COLOR, not quiet). */
  readonly enabled: boolean;
  /** Records an event; draws when the delay has passed (throttled). */
  update: ProgressSink;
  /** Erases the line if the bar is showing (before other output on the terminal). */
  clear(): void;
  /** Erases the line and stops for good. */
  end(): void;
}

/** How long work runs before the bar appears, in ms. */
export const PROGRESS_DELAY_MS = 300;
/** The least time between two redraws, in ms. */
const REDRAW_MS = 80;
const SPINNER = ["|", "/", "-", "\\"];

/** Whether a progress bar may be drawn on `stream` under `env`. */
export function progressEnabled(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>, quiet: boolean): boolean {
  if (quiet || !stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

/** A byte count for people: `512 B`, `12.3 MB`. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** The bar's text for `e`, at most `width` columns (without the leading `\r` or the erase). */
export function renderProgress(e: ProgressEvent, width: number, tick = 0): string {
  const label = `kimage: ${e.phase}`;
  const max = Math.max(10, width - 1); // never write into the last column (some terminals wrap)
  let line: string;
  if (e.total !== undefined && e.total > 0) {
    const frac = Math.min(1, Math.max(0, e.done / e.total));
    const pct = `${String(Math.floor(frac * 100)).padStart(3)}%`;
    const counts = `${formatBytes(e.done)}/${formatBytes(e.total)}`;
    const room = max - label.length - pct.length - counts.length - 5;
    const barWidth = Math.min(30, room);
    if (barWidth >= 5) {
      const full = Math.round(frac * barWidth);
      line = `${label} [${"#".repeat(full)}${"-".repeat(barWidth - full)}] ${pct} ${counts}`;
    } else {
      line = `${label} ${pct} ${counts}`;
    }
  } else {
    line = `${label} ${SPINNER[tick % SPINNER.length]}${e.done > 0 ? ` ${formatBytes(e.done)}` : ""}`;
  }
  return line.length > max ? line.slice(0, max) : line;
}

/** Options of {@link createProgressBar}. */
export interface ProgressOptions {
  stream: ProgressStream;
  env: Readonly<Record<string, string | undefined>>;
  quiet: boolean;
  /** Override {@link PROGRESS_DELAY_MS} (tests). */
  delayMs?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** Start a redraw timer (default true; tests turn it off). */
  timer?: boolean;
}

/** A progress bar on `opts.stream`; a no-op one when it is not enabled. */
export function createProgressBar(opts: ProgressOptions): ProgressBar {
  const enabled = progressEnabled(opts.stream, opts.env, opts.quiet);
  if (!enabled) return { enabled, update: () => undefined, clear: () => undefined, end: () => undefined };
  const now = opts.now ?? (() => performance.now());
  const delay = opts.delayMs ?? PROGRESS_DELAY_MS;
  const start = now();
  let last: ProgressEvent | undefined;
  let drawnAt = -Infinity;
  let drawnPhase: string | undefined;
  let showing = false;
  let ended = false;
  let tick = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const draw = (force: boolean): void => {
    if (ended || !last) return;
    const t = now();
    if (t - start < delay) return;
    if (!force && last.phase === drawnPhase && t - drawnAt < REDRAW_MS) return;
    drawnAt = t;
    drawnPhase = last.phase;
    tick++;
    opts.stream.write(`\r${renderProgress(last, opts.stream.columns || 80, tick)}\x1b[K`);
    showing = true;
  };
  if (opts.timer !== false) {
    timer = setInterval(() => draw(false), REDRAW_MS);
    timer.unref?.();
  }
  const clear = (): void => {
    if (!showing) return;
    opts.stream.write("\r\x1b[K");
    showing = false;
    drawnPhase = undefined; // redraw at the next event
  };
  return {
    enabled,
    update(e) {
      if (ended) return;
      last = { phase: e.phase, done: e.done, total: e.total };
      draw(false);
    },
    clear,
    end() {
      clear();
      ended = true;
      if (timer) clearInterval(timer);
    },
  };
}
