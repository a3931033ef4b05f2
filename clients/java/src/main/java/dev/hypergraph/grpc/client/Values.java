package dev.hypergraph.grpc.client;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between native Java values and {@code google.protobuf.Struct}/{@code Value}.
 *
 * <p>Protobuf numbers are doubles. Like the server, this codec turns an integral number
 * within ±2^53 into a {@link Long} and any other number into a {@link Double}, so ints sent
 * by the server stay ints here. Going out, an integer beyond ±2^53 is refused rather than
 * silently rounded.
 *
 * <p>Java to protobuf: {@code null}, {@link Boolean}, {@link Number}, {@link CharSequence},
 * {@link Character}, {@link Enum} (its name), {@link Map} with string keys, {@link Iterable},
 * arrays, and protobuf {@code Value}/{@code Struct}/{@code ListValue} as they are.
 * Protobuf to Java: {@code null}, Boolean, Long or Double, String, {@code List<Object>} and
 * {@code Map<String, Object>} (insertion-ordered, unmodifiable).
 */
public final class Values {
  /** The largest integer a double holds exactly: 2^53. */
  public static final long MAX_EXACT_INT = 1L << 53;

  private Values() {}

  /** Converts a map of native values to a Struct. */
  public static Struct toStruct(Map<String, ?> values) {
    return toStruct(values, "values");
  }

  /** Converts one native value to a protobuf Value. */
  public static Value toValue(Object value) {
    return toValue(value, "value");
  }

  /** Converts a Struct to an unmodifiable, insertion-ordered map of native values. */
  public static Map<String, Object> toJava(Struct struct) {
    Map<String, Object> out = new LinkedHashMap<>();
    struct.getFieldsMap().forEach((k, v) -> out.put(k, toJava(v)));
    return Collections.unmodifiableMap(out);
  }

  /** Converts a protobuf Value to its native value (see the class comment). */
  public static Object toJava(Value value) {
    switch (value.getKindCase()) {
      case NULL_VALUE:
      case KIND_NOT_SET:
        return null;
      case BOOL_VALUE:
        return value.getBoolValue();
      case NUMBER_VALUE:
        return number(value.getNumberValue());
      case STRING_VALUE:
        return value.getStringValue();
      case LIST_VALUE:
        return toJava(value.getListValue());
      case STRUCT_VALUE:
        return toJava(value.getStructValue());
      default:
        throw new IllegalStateException("unknown google.protobuf.Value kind " + value.getKindCase());
    }
  }

  /** Converts a ListValue to an unmodifiable list of native values (nulls allowed). */
  public static List<Object> toJava(ListValue list) {
    List<Object> out = new ArrayList<>(list.getValuesCount());
    for (Value v : list.getValuesList()) {
      out.add(toJava(v));
    }
    return Collections.unmodifiableList(out);
  }

  /** An integral double within ±2^53 becomes a Long; anything else stays a Double. */
  static Object number(double d) {
    if (!Double.isInfinite(d) && d == Math.rint(d) && Math.abs(d) <= MAX_EXACT_INT) {
      return (long) d;
    }
    return d;
  }

  private static Struct toStruct(Map<?, ?> map, String path) {
    Struct.Builder b = Struct.newBuilder();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getKey() instanceof String key)) {
        throw new IllegalArgumentException(path + " has a key of type "
            + typeName(e.getKey()) + " (" + e.getKey() + "); google.protobuf.Struct keys must be"
            + " strings: convert the key with String.valueOf");
      }
      b.putFields(key, toValue(e.getValue(), path + "." + key));
    }
    return b.build();
  }

  private static Value toValue(Object o, String path) {
    if (o == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (o instanceof Value v) {
      return v;
    }
    if (o instanceof Struct s) {
      return Value.newBuilder().setStructValue(s).build();
    }
    if (o instanceof ListValue l) {
      return Value.newBuilder().setListValue(l).build();
    }
    if (o instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    }
    if (o instanceof Number n) {
      return Value.newBuilder().setNumberValue(toDouble(n, path)).build();
    }
    if (o instanceof CharSequence || o instanceof Character) {
      return Value.newBuilder().setStringValue(o.toString()).build();
    }
    if (o instanceof Enum<?> e) {
      return Value.newBuilder().setStringValue(e.name()).build();
    }
    if (o instanceof Map<?, ?> m) {
      return Value.newBuilder().setStructValue(toStruct(m, path)).build();
    }
    if (o instanceof Iterable<?> it) {
      ListValue.Builder lb = ListValue.newBuilder();
      int i = 0;
      for (Object item : it) {
        lb.addValues(toValue(item, path + "[" + i++ + "]"));
      }
      return Value.newBuilder().setListValue(lb).build();
    }
    if (o instanceof byte[]) {
      throw new IllegalArgumentException(path + " is a byte[]; google.protobuf.Value has no"
          + " bytes kind: send it as a base64 string (java.util.Base64)");
    }
    if (o.getClass().isArray()) {
      ListValue.Builder lb = ListValue.newBuilder();
      for (int i = 0; i < Array.getLength(o); i++) {
        lb.addValues(toValue(Array.get(o, i), path + "[" + i + "]"));
      }
      return Value.newBuilder().setListValue(lb).build();
    }
    throw new IllegalArgumentException(path + " is a " + typeName(o) + ", which has no"
        + " google.protobuf.Value form; pass null, a Boolean, Number, String, Map with String"
        + " keys, Iterable or array");
  }

  private static double toDouble(Number n, String path) {
    if (n instanceof Double || n instanceof Float || n instanceof BigDecimal) {
      return n.doubleValue();
    }
    BigInteger big = n instanceof BigInteger b ? b : BigInteger.valueOf(n.longValue());
    if (big.abs().compareTo(BigInteger.valueOf(MAX_EXACT_INT)) > 0) {
      throw new IllegalArgumentException(path + " = " + big + " is outside ±2^53 and would be"
          + " rounded as a protobuf number (a double); send it as a string instead");
    }
    return big.doubleValue();
  }

  private static String typeName(Object o) {
    return o == null ? "null" : o.getClass().getName();
  }
}
