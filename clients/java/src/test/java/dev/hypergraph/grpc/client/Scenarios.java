package dev.hypergraph.grpc.client;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

/**
 * clients/scenarios.json, read with Gson (ints as Long, other numbers as Double) so the
 * expected values do not go through the client's own codec.
 */
final class Scenarios {
  private static final Gson GSON = new GsonBuilder()
      .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE)
      .serializeNulls()
      .create();

  final List<String> serverArgs;
  final List<Case> cases;

  private Scenarios(List<String> serverArgs, List<Case> cases) {
    this.serverArgs = serverArgs;
    this.cases = cases;
  }

  /** One case: its fields as native values. */
  record Case(Map<String, Object> fields) {
    String name() {
      return string("name");
    }

    String kind() {
      return string("kind");
    }

    boolean has(String key) {
      return fields.containsKey(key);
    }

    String string(String key) {
      return (String) fields.get(key);
    }

    long number(String key) {
      return ((Number) fields.get(key)).longValue();
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map(String key) {
      return (Map<String, Object>) fields.get(key);
    }

    @SuppressWarnings("unchecked")
    List<String> strings(String key) {
      return (List<String>) fields.get(key);
    }

    Object get(String key) {
      return fields.get(key);
    }

    Case sub(String key) {
      return new Case(map(key));
    }
  }

  static Path path() {
    String root = System.getProperty("hypergraph.root", "../..");
    return Paths.get(root, "clients", "scenarios.json").toAbsolutePath().normalize();
  }

  static Scenarios load() throws IOException {
    try (Reader reader = Files.newBufferedReader(path(), StandardCharsets.UTF_8)) {
      Map<String, Object> doc = GSON.fromJson(reader,
          new TypeToken<Map<String, Object>>() {}.getType());
      @SuppressWarnings("unchecked")
      List<String> args = (List<String>) doc.get("server_args");
      @SuppressWarnings("unchecked")
      List<Map<String, Object>> cases = (List<Map<String, Object>>) doc.get("cases");
      return new Scenarios(args, cases.stream().map(Case::new).toList());
    }
  }
}
