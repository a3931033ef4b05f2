// Public API of the hypergraph-grpc TypeScript client.
export {
  createHypergraphClient,
  durationFromMs,
  type CallOpts,
  type ClientOptions,
  type GraphInfo,
  type HypergraphClient,
  type InputInfo,
  type IterOptions,
  type ListRunsOptions,
  type RunOptions,
  type StopOptions,
  type TextStream,
  type WatchOptions,
} from "./client.js";
export { type TlsOptions } from "./tls.js";
export {
  toEvent,
  toRunResult,
  type EventEnvelope,
  type EventKind,
  type HypergraphEvent,
  type RunError,
  type RunResult,
  type RunState,
  type RunSummary,
  type RunStatus,
  type StopOutcome,
} from "./events.js";
export {
  Code,
  ERROR_DOMAIN,
  HypergraphError,
  RpcError,
  RunFailedError,
  codeFromName,
  codeName,
  type FieldViolation,
} from "./errors.js";
export { ValueConversionError, fromValue, toJsonValue, toStruct, type JsonObject, type JsonValue } from "./values.js";
