// Public surface of config/: load a process's configuration, describe it,
// and the error type the CLI turns into `raftgate: <message>` and exit 2.

export { loadConfig, type LoadOptions, type LoadResult } from './load.js';
export { helpText } from './help.js';
export {
  describeFields,
  fieldsOf,
  coreFields,
  proxyFields,
  devFields,
  PROCESS_KINDS,
  LOG_LEVELS,
  DEV_PORT_STRIDE,
  type ProcessKind,
  type CoreConfig,
  type ProxyConfig,
  type DevConfig,
  type ConfigFor,
  type FieldDescription,
  type InitialMember,
  type LogLevel,
} from './schema.js';
export { devMemberPorts, NATIVE_PORT_OFFSET, type DevMemberPorts } from './resolve.js';
export { ConfigError, exitCodeFor, type ConfigSource } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export { parseByteSize, formatByteSize } from './byte-size.js';
export { formatInitialCluster } from './initial-cluster.js';
export { loopbackInitialCluster, loopbackMemberFlags, loopbackUrl, proxyFlags, type LoopbackMember, type LoopbackProxy } from './member-flags.js';
export type { FieldSpec, ValueKind } from './field-types.js';
