// The etcd v2 error catalogue: stable numeric codes, etcd's exact messages,
// and the HTTP status each maps to. Every v2 error in Raftgate — from the
// store, the HTTP API or the proxy — is built through this one table, so the
// JSON a client sees is byte-for-byte what etcd 3.4 sends.

export const Ecode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NoMorePeer: 103,
  NotDir: 104,
  NodeExist: 105,
  KeyIsPreserved: 106,
  RootROnly: 107,
  DirNotEmpty: 108,
  ExistingPeerAddr: 109,
  Unauthorized: 110,

  ValueRequired: 200,
  PrevValueRequired: 201,
  TTLNaN: 202,
  IndexNaN: 203,
  ValueOrTTLRequired: 204,
  TimeoutNaN: 205,
  NameRequired: 206,
  IndexOrValueRequired: 207,
  IndexValueMutex: 208,
  InvalidField: 209,
  InvalidForm: 210,
  RefreshValue: 211,
  RefreshTTLRequired: 212,

  RaftInternal: 300,
  LeaderElect: 301,

  WatcherCleared: 400,
  EventIndexCleared: 401,
  StandbyInternal: 402,
  InvalidActiveSize: 403,
  InvalidRemoveDelay: 404,

  ClientInternal: 500,
} as const;

export type EcodeNumber = (typeof Ecode)[keyof typeof Ecode];

const messages: Readonly<Record<EcodeNumber, string>> = {
  100: 'Key not found',
  101: 'Compare failed',
  102: 'Not a file',
  103: 'Reached the max number of peers in the cluster',
  104: 'Not a directory',
  105: 'Key already exists',
  106: 'The prefix of given key is a keyword in etcd',
  107: 'Root is read only',
  108: 'Directory not empty',
  109: 'Peer address has existed',
  110: 'The request requires user authentication',

  200: 'Value is Required in POST form',
  201: 'PrevValue is Required in POST form',
  202: 'The given TTL in POST form is not a number',
  203: 'The given index in POST form is not a number',
  204: 'Value or TTL is required in POST form',
  205: 'The given timeout in POST form is not a number',
  206: 'Name is required in POST form',
  207: 'Index or value is required',
  208: 'Index and value cannot both be specified',
  209: 'Invalid field',
  210: 'Invalid POST form',
  211: 'Value provided on refresh',
  212: 'A TTL must be provided on refresh',

  300: 'Raft Internal Error',
  301: 'During Leader Election',

  400: 'watcher is cleared due to etcd recovery',
  401: 'The event in requested index is outdated and cleared',
  402: 'Standby Internal Error',
  403: 'Invalid active size',
  404: 'Standby remove delay',

  500: 'Client Internal Error',
};

// Codes not listed answer 400 Bad Request, as in etcd.
const statuses: Partial<Record<EcodeNumber, number>> = {
  100: 404,
  102: 403,
  108: 403,
  110: 401,
  101: 412,
  105: 412,
  300: 500,
  301: 500,
};

/** The JSON body etcd writes for an error; `cause` is omitted when empty. */
export interface V2ErrorBody {
  errorCode: number;
  message: string;
  cause?: string;
  index: number;
}

/**
 * An etcd v2 error. It extends Error so it can reject a promise, but it is an
 * expected outcome (a failed compare, a missing key), not a crash: the API
 * writes it as etcd's JSON with its HTTP status.
 */
export class V2Error extends Error {
  readonly errorCode: EcodeNumber;
  override readonly cause: string;
  readonly index: number;

  constructor(errorCode: EcodeNumber, cause: string, index: number) {
    // An expected outcome needs no stack: capturing one cost ~6 µs on every
    // set of a new key (the store looks the old node up and gets a 100).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(messages[errorCode]);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'V2Error';
    this.errorCode = errorCode;
    this.cause = cause;
    this.index = index;
  }

  get status(): number {
    return statuses[this.errorCode] ?? 400;
  }

  toJSON(): V2ErrorBody {
    // Key order matters for byte-level comparison with etcd.
    const { errorCode, message, cause, index } = this;
    return cause === '' ? { errorCode, message, index } : { errorCode, message, cause, index };
  }

  /** etcd terminates every error body with a newline. */
  toBody(): string {
    return JSON.stringify(this.toJSON()) + '\n';
  }
}

export function v2Error(code: EcodeNumber, cause: string, index: number): V2Error {
  return new V2Error(code, cause, index);
}

export function isV2Error(x: unknown): x is V2Error {
  return x instanceof V2Error;
}

export function messageOf(code: EcodeNumber): string {
  return messages[code];
}
