// The native protocol (proxy <-> core): framing, messages, the member's
// server and the discovery route. See design.md.

export { FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES, FrameDecoder, NativeProtocolError, encodeFrame } from './codec.js';
export type { NativeErrorCode } from './codec.js';
export { NATIVE_PROTOCOL_VERSION, checkClientMsg } from './messages.js';
export type * from './messages.js';
export { startNativeServer } from './server.js';
export type { NativeServer, NativeServerOptions } from './server.js';
export { NATIVE_DISCOVERY_PATH, nativeDiscoveryAnswer } from './discovery.js';
export type { NativeDiscovery } from './discovery.js';
