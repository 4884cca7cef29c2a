export type { KvNode, MemberInfo, WriteOutcome } from './types.js';
export { SingleNode } from './single-node.js';
export type { LogEntry, LogSink, Clock, SingleNodeOptions } from './single-node.js';
export { encodeCommand, decodeCommand } from './command-codec.js';
