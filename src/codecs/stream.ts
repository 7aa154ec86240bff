/**
 * Streaming decode: compressed bytes go in as chunks, decoded bytes come out
 * as chunks, and a decoder holds only its window (the dictionary) plus one
 * output chunk and whatever part of one block it is waiting to complete. The
 * same typed errors, checksums and limits as the one-shot decoders
 * ({@link decompressSync}); use it as an `AsyncIterable` ({@link decodeStream})
 * or a WHATWG `TransformStream` ({@link decodeTransformStream}).
 *
 * A {@link StreamDecoder} is push-based and synchronous: `write` consumes a
 * chunk and calls the sink for every decoded chunk it completes; `end` says
 * there is no more input and throws `truncated` if the stream is incomplete.
 * Bytes after the end of the stream (kernel payloads carry a size trailer)
 * are not consumed; `consumed` says where the stream ended.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { CODECS, type Codec, type DecompressOptions } from "./types.js";
import { createBzip2StreamDecoder } from "./bzip2.js";
import { createGzipStreamDecoder } from "./gzip.js";
import type { StreamSink } from "./window.js";
import { warmUp } from "./warmup.js";
import { createXzStreamDecoder } from "./xz.js";
import { createLzmaStreamDecoder } from "./lzma-alone.js";
import { createLz4StreamDecoder } from "./lz4.js";
import { createLzoStreamDecoder } from "./lzo.js";
import { createZstdStreamDecoder } from "./zstd.js";

export type { StreamSink } from "./window.js";

/** Options of a streaming decoder: those of the one-shot decoders, without `partial` (stop reading instead). */
export interface StreamDecodeOptions extends Omit<DecompressOptions, "partial"> {
  /** Decoded bytes per emitted chunk, at most (default 1 MiB; a stored block may emit more at once). */
  chunkSize?: number;
  /**
   * Lend the sink views instead of giving it arrays: each chunk is then a
   * view of the decoder's own buffers, valid only until the sink returns
   * (the sink copies what it keeps). This saves one allocation and copy per
   * chunk, and the garbage a long stream would leave for the collector. Off
   * by default: a sink owns every chunk it gets.
   */
  borrow?: boolean;
}

/** A push-based streaming decoder for one codec. */
export interface StreamDecoder {
  /** The codec it decodes. */
  readonly codec: Codec;
  /** Feeds the next chunk of compressed input; decoded chunks go to the sink. Input after the end of the stream is ignored. */
  write(chunk: Uint8Array): void;
  /**
   * No more input: decodes what is left and emits the last chunk.
   *
   * @throws KimageError `truncated` when the stream has not ended, or `codec-size-mismatch` against `expectedSize`.
   */
  end(): void;
  /** Compressed bytes consumed through the end of the stream (and its checksums) once `complete`; before that, bytes consumed so far. */
  readonly consumed: number;
  /** Decoded bytes produced so far. */
  readonly produced: number;
  /** True once the end of the stream was decoded and verified. */
  readonly complete: boolean;
  /** Which integrity checks were verified, e.g. `["crc32"]`. */
  readonly checked: readonly string[];
}

/** Makes a streaming decoder writing to `sink`. */
export type StreamDecoderFactory = (sink: StreamSink, options?: StreamDecodeOptions) => StreamDecoder;

/**
 * The streaming decoders by codec. Each codec module exports its factory
 * (e.g. `createXzStreamDecoder` in `xz.ts`) and gets one line here.
 */
const FACTORIES: Partial<Record<Codec, StreamDecoderFactory>> = {
  // gzip, bzip2
  gzip: createGzipStreamDecoder,
  bzip2: createBzip2StreamDecoder,

  // zstd, lz4, lzo
  zstd: createZstdStreamDecoder,
  lz4: createLz4StreamDecoder,
  lzo: createLzoStreamDecoder,

  // xz, lzma
  xz: createXzStreamDecoder,
  lzma: createLzmaStreamDecoder,
};

/** The codecs that have a streaming decoder. */
export function streamingCodecs(): Codec[] {
  return CODECS.filter((c) => FACTORIES[c] !== undefined);
}

/**
 * A streaming decoder for `codec` writing decoded chunks to `sink`.
 *
 * @throws KimageError `bad-argument` for an unknown codec, `unsupported` for a codec without a streaming decoder.
 */
export function createStreamDecoder(codec: Codec, sink: StreamSink, options: StreamDecodeOptions = {}): StreamDecoder {
  const base = options.base ?? 0;
  if (!(CODECS as readonly string[]).includes(codec)) throw new KimageError("bad-argument", `unknown codec ${JSON.stringify(codec)}`, { layer: "codec", offset: base });
  const f = FACTORIES[codec];
  if (!f) throw new KimageError("unsupported", `no streaming decoder for ${codec}`, { layer: codec, offset: base });
  // One small streamed decode first, so the optimizing compiler sees every path (warmup.ts).
  warmUp(`${codec} stream`, codec, Infinity, (sample) => {
    const d = f(() => undefined, { chunkSize: 4096 });
    d.write(sample);
    d.end();
  });
  return f(sink, options);
}

/** What {@link decodeStream} returns when the stream is done. */
export interface StreamSummary {
  codec: Codec;
  /** Compressed bytes consumed through the end of the stream. */
  consumed: number;
  /** Decoded bytes. */
  produced: number;
  /** Integrity checks verified. */
  checked: string[];
}

/**
 * Decodes `source` (chunks of one compressed stream, possibly followed by
 * other bytes) and yields the decoded chunks in order. Stopping the iteration
 * early (`break`) stops decoding; nothing more is read from `source`.
 *
 * @throws KimageError from the decoder, as {@link decompressSync} would.
 */
export async function* decodeStream(
  codec: Codec,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: StreamDecodeOptions = {},
): AsyncGenerator<Uint8Array, StreamSummary, undefined> {
  const queue: Uint8Array[] = [];
  const dec = createStreamDecoder(codec, (c) => queue.push(c), options);
  for await (const chunk of source) {
    if (dec.complete) break;
    dec.write(chunk);
    while (queue.length > 0) yield queue.shift() as Uint8Array;
  }
  dec.end();
  while (queue.length > 0) yield queue.shift() as Uint8Array;
  return { codec, consumed: dec.consumed, produced: dec.produced, checked: [...dec.checked] };
}

/**
 * The same as a WHATWG `TransformStream` (e.g. `file.stream().pipeThrough(decodeTransformStream("zstd"))`).
 * Errors are `KimageError`s, delivered through the stream.
 */
export function decodeTransformStream(codec: Codec, options: StreamDecodeOptions = {}): TransformStream<Uint8Array, Uint8Array> {
  let dec: StreamDecoder | null = null;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      dec = createStreamDecoder(codec, (c) => controller.enqueue(c), options);
    },
    transform(chunk) {
      if (dec && !dec.complete) dec.write(chunk);
    },
    flush() {
      dec?.end();
    },
  });
}
