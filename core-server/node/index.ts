export type { KvNode, MemberInfo, RaftStatus, WriteOutcome } from './types.js';
export { RaftNode, type Clock, type DriverOptions, type DurableLog, type PeerNetwork } from './driver.js';
export { encodeCommand, decodeCommand } from './command-codec.js';
