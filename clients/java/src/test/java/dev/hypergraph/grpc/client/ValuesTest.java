package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ValuesTest {
  private static Value num(double d) {
    return Value.newBuilder().setNumberValue(d).build();
  }

  @Test
  void integralNumbersBecomeLongs() {
    assertEquals(42L, Values.toJava(num(42)));
    assertEquals(-7L, Values.toJava(num(-7)));
    assertEquals(0L, Values.toJava(num(-0.0)));
    assertEquals(1L << 53, Values.toJava(num(Math.pow(2, 53))));
    assertEquals(-(1L << 53), Values.toJava(num(-Math.pow(2, 53))));
  }

  @Test
  void otherNumbersStayDoubles() {
    assertEquals(1.5, Values.toJava(num(1.5)));
    assertInstanceOf(Double.class, Values.toJava(num(Math.pow(2, 54))));
    assertInstanceOf(Double.class, Values.toJava(num(Double.POSITIVE_INFINITY)));
    assertInstanceOf(Double.class, Values.toJava(num(Double.NaN)));
  }

  @Test
  void nestedValuesConvertBothWays() {
    List<Object> list = new ArrayList<>(Arrays.asList(1, "two", null, 2.5, false));
    Map<String, Object> inner = new LinkedHashMap<>();
    inner.put("none", null);
    inner.put("s", "héllo");
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("l", list);
    values.put("m", inner);
    values.put("n", 7);

    Map<String, Object> back = Values.toJava(Values.toStruct(values));

    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("l", Arrays.asList(1L, "two", null, 2.5, false));
    expected.put("m", inner);
    expected.put("n", 7L);
    assertEquals(expected, back);
  }

  @Test
  void javaTypesMapToTheirProtobufKinds() {
    assertEquals(Value.KindCase.NULL_VALUE, Values.toValue(null).getKindCase());
    assertEquals(3.0, Values.toValue((short) 3).getNumberValue());
    assertEquals(0.25, Values.toValue(0.25f).getNumberValue());
    assertEquals(1.5, Values.toValue(new BigDecimal("1.5")).getNumberValue());
    assertEquals("x", Values.toValue('x').getStringValue());
    assertEquals("NANOSECONDS",
        Values.toValue(java.util.concurrent.TimeUnit.NANOSECONDS).getStringValue());
    assertEquals(3, Values.toValue(new int[] {1, 2, 3}).getListValue().getValuesCount());
    assertEquals(2, Values.toValue(new String[] {"a", "b"}).getListValue().getValuesCount());
    Value v = Value.newBuilder().setBoolValue(true).build();
    assertEquals(v, Values.toValue(v));
    Struct s = Struct.newBuilder().putFields("k", v).build();
    assertEquals(s, Values.toValue(s).getStructValue());
    ListValue l = ListValue.newBuilder().addValues(v).build();
    assertEquals(l, Values.toValue(l).getListValue());
  }

  @Test
  void protobufKindsMapToJavaTypes() {
    Value nul = Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    assertNull(Values.toJava(nul));
    assertNull(Values.toJava(Value.getDefaultInstance()));
    assertEquals(true, Values.toJava(Value.newBuilder().setBoolValue(true).build()));
    assertEquals("s", Values.toJava(Value.newBuilder().setStringValue("s").build()));
  }

  @Test
  void convertedCollectionsAreUnmodifiable() {
    Map<String, Object> back = Values.toJava(Values.toStruct(Map.of("l", List.of(1))));
    assertThrows(UnsupportedOperationException.class, () -> back.put("x", 1));
    @SuppressWarnings("unchecked")
    List<Object> l = (List<Object>) back.get("l");
    assertThrows(UnsupportedOperationException.class, () -> l.add(2));
  }

  @Test
  void integersBeyond2To53AreRefusedWithTheirPath() {
    long big = (1L << 53) + 1;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Values.toStruct(Map.of("a", Map.of("b", List.of(1, big)))));
    assertTrue(e.getMessage().contains("values.a.b[1]"), e.getMessage());
    assertTrue(e.getMessage().contains(Long.toString(big)), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> Values.toValue(BigInteger.ONE.shiftLeft(60)));
    assertEquals((double) (1L << 53), Values.toValue(1L << 53).getNumberValue());
  }

  @Test
  void unsupportedValuesAreRefusedWithAHint() {
    IllegalArgumentException key = assertThrows(IllegalArgumentException.class,
        () -> Values.toValue(Map.of(1, "x")));
    assertTrue(key.getMessage().contains("String.valueOf"), key.getMessage());
    IllegalArgumentException bytes = assertThrows(IllegalArgumentException.class,
        () -> Values.toStruct(Map.of("data", new byte[] {1})));
    assertTrue(bytes.getMessage().contains("values.data"), bytes.getMessage());
    assertTrue(bytes.getMessage().contains("base64"), bytes.getMessage());
    IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
        () -> Values.toValue(new Object()));
    assertTrue(other.getMessage().contains("java.lang.Object"), other.getMessage());
  }
}
