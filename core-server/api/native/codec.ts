// Framing for the native protocol (proxy <-> core). PURE: bytes in, messages
// out; no sockets, no clocks.
//
// A frame is a 4-byte big-endian payload length followed by that many bytes
// of msgpack (core-server/msgpack.ts: plain maps, so any msgpack decoder reads
// it). The decoder accepts the byte stream in arbitrary chunks and refuses a
// frame whose declared length is above the limit before buffering any of it:
// a peer can never make us hold more than one frame plus one chunk.

import { pack, unpack } from '../../msgpack.js';

export const FRAME_HEADER_BYTES = 4;
/** Default frame limit: a v2 value may be 10 MiB (Go's form limit) and an event carries node and prevNode. */
export const FRAME_BYTES_MAX_DEFAULT = 64 << 20;

export type NativeErrorCode =
  | 'RG_ERR_NATIVE_FRAME_TOO_LARGE'
  | 'RG_ERR_NATIVE_BAD_FRAME'
  | 'RG_ERR_NATIVE_BAD_MESSAGE'
  | 'RG_ERR_NATIVE_VERSION'
  | 'RG_ERR_NATIVE_TOO_MANY_CONNECTIONS'
  | 'RG_ERR_NATIVE_STOPPING';

/** A protocol violation: the connection that produced it is closed (after a goaway naming `code`). */
export class NativeProtocolError extends Error {
  readonly code: NativeErrorCode;
  constructor(code: NativeErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'NativeProtocolError';
    this.code = code;
  }
}


function assertFrameBytesMax(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 0xffff_ffff) throw new Error(`RG_ERR_NATIVE_CONFIG: frameBytesMax must be an integer in [1, 2^32), got ${n}`);
}

/** One frame for one message; throws RG_ERR_NATIVE_FRAME_TOO_LARGE rather than send what the peer must refuse. */
export function encodeFrame(msg: unknown, frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT): Buffer {
  const payload = pack(msg);
  if (payload.length > frameBytesMax) {
    throw new NativeProtocolError('RG_ERR_NATIVE_FRAME_TOO_LARGE', `frame of ${payload.length} bytes is over the ${frameBytesMax}-byte limit`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Streaming decoder. `push(chunk)` returns every message completed by the
 * chunk, in order. After it throws (frame too large, undecodable payload)
 * the stream is unusable: further pushes throw the same error.
 */
export class FrameDecoder {
  private readonly frameBytesMax: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: NativeProtocolError | null = null;

  constructor(frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT) {
    assertFrameBytesMax(frameBytesMax);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): unknown[] {
    if (this.failure !== null) throw this.failure;
    if (chunk.length === 0) return [];
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.buffered += chunk.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) return out;
      const head = this.contiguous(FRAME_HEADER_BYTES);
      const len = head.readUInt32BE(0);
      if (len > this.frameBytesMax) {
        return this.fail(new NativeProtocolError('RG_ERR_NATIVE_FRAME_TOO_LARGE', `peer sent a frame of ${len} bytes, over the ${this.frameBytesMax}-byte limit`));
      }
      if (len === 0) return this.fail(new NativeProtocolError('RG_ERR_NATIVE_BAD_FRAME', 'empty frame'));
      if (this.buffered < FRAME_HEADER_BYTES + len) return out;
      const buf = this.contiguous(FRAME_HEADER_BYTES + len);
      let msg: unknown;
      try {
        msg = unpack(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len));
      } catch (err) {
        return this.fail(new NativeProtocolError('RG_ERR_NATIVE_BAD_FRAME', `undecodable msgpack payload: ${(err as Error).message}`));
      }
      out.push(msg);
      this.consume(FRAME_HEADER_BYTES + len);
    }
  }

  private fail(e: NativeProtocolError): never {
    this.failure = e;
    this.chunks = [];
    this.buffered = 0;
    throw e;
  }

  /** The first n buffered bytes as one Buffer (joins chunks only when a frame spans them). */
  private contiguous(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }

  private consume(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
  }
}
