// Value conversion between native JS values and google.protobuf.Struct/Value.
//
// Struct numbers are doubles on the wire. In JS every number is a double too, so
// an integral value within 2^53 (the server sends Python ints as such) is simply
// an integral `number`: 42 arrives as 42, never 42.0 or a bigint. What JSON
// cannot carry is refused here, with its path, instead of being silently dropped.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Value } from "@bufbuild/protobuf/wkt";
import { HypergraphError } from "./errors.js";

export type { JsonObject, JsonValue };

/** Thrown for an input value that google.protobuf.Struct cannot carry. */
export class ValueConversionError extends HypergraphError {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

/**
 * Check that `values` is a plain object of JSON-like values and return it as a
 * JsonObject for RunRequest.values. Throws ValueConversionError naming the path.
 */
export function toStruct(values: Record<string, unknown> | undefined, path = "values"): JsonObject {
  if (values === undefined) return {};
  if (!isPlainObject(values)) {
    throw new ValueConversionError(path, `expected a plain object of inputs, got ${describe(values)}`);
  }
  return toJsonValue(values, path) as JsonObject;
}

/** Convert one native value to a JsonValue, checking every nested value. */
export function toJsonValue(value: unknown, path = "value"): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) {
        throw new ValueConversionError(path, `${value} is not a JSON number; send a finite number or null`);
      }
      return value;
    case "bigint":
      return bigintToNumber(value, path);
    case "object":
      return objectToJson(value as object, path);
    default:
      throw new ValueConversionError(path, `${describe(value)} cannot be sent; use JSON-like values (null, boolean, number, string, array, plain object)`);
  }
}

function bigintToNumber(value: bigint, path: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new ValueConversionError(path, `bigint ${value} is outside +-2^53 and would lose precision; send it as a string`);
  }
  return Number(value);
}

function objectToJson(value: object, path: string): JsonValue {
  if (Array.isArray(value)) return value.map((item, i) => toJsonValue(item, `${path}[${i}]`));
  if (value instanceof Date) return value.toISOString(); // as JSON.stringify does: ISO-8601 text
  if (!isPlainObject(value)) {
    throw new ValueConversionError(path, `${describe(value)} cannot be sent; convert it to a plain object first`);
  }
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) {
      throw new ValueConversionError(`${path}.${key}`, "undefined cannot be sent; omit the key or use null");
    }
    out[key] = toJsonValue(item, `${path}.${key}`);
  }
  return out;
}

/** Convert a google.protobuf.Value message (e.g. a value chunk) to a native JsonValue. */
export function fromValue(value: Value | undefined): JsonValue {
  if (value === undefined) return null;
  const kind = value.kind;
  switch (kind.case) {
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return kind.value;
    case "structValue": {
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(kind.value.fields)) out[key] = fromValue(item);
      return out;
    }
    case "listValue":
      return kind.value.values.map(fromValue);
    default:
      return null; // nullValue, or unset
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  if (typeof value === "function") return "a function";
  return `a ${typeof value}`;
}
