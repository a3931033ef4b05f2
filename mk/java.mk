# Java client (clients/java): Maven build, tests, benchmark.
# The message classes (protoc) and the RunnerServiceGrpc stubs (protoc-gen-grpc-java), both
# Maven Central artifacts, are generated at build time into clients/java/target by
# protobuf-maven-plugin, so there is no gen-java target and nothing generated is committed.
# Maven caches everything in ~/.m2, so a second run downloads nothing.

MVN       ?= mvn
JAVA      ?= java
JAVA_DIR  := $(ROOT)/clients/java
MVN_FLAGS := -B --no-transfer-progress -Dstyle.color=never -Dhypergraph.root=$(ROOT)

APT_PACKAGES  += maven openjdk-17-jdk-headless
TEST_TARGETS  += test-java
BENCH_TARGETS += bench-java

.PHONY: test-java bench-java chat-java

# Unit tests plus every case of clients/scenarios.json against a real Python server that the
# tests start themselves on a free port (.venv/bin/hypergraph-grpc).
test-java: $(STAMPS)/venv
	cd $(JAVA_DIR) && $(MVN) $(MVN_FLAGS) test

# The classpath of the client and its test code, for plain `java -cp` runs of the examples
# (test code: they start a local server with the tests' launcher). The pom pins the
# dependency plugin's version.
$(JAVA_DIR)/target/classpath.txt: $(JAVA_DIR)/pom.xml
	cd $(JAVA_DIR) && $(MVN) $(MVN_FLAGS) -q dependency:build-classpath \
	  -Dmdep.outputFile=target/classpath.txt -DincludeScope=test
JAVA_EXAMPLES_CP := target/test-classes:target/classes:$$(cat target/classpath.txt)

# 16 concurrent Iter streams of the `tokens` graph, read by a Java client in its own JVM.
bench-java: $(STAMPS)/venv $(JAVA_DIR)/target/classpath.txt
	cd $(JAVA_DIR) && $(MVN) $(MVN_FLAGS) -q test-compile
	@mkdir -p $(ROOT)/bench/results
	cd $(JAVA_DIR) && $(JAVA) -Dhypergraph.root=$(ROOT) \
	  -cp $(JAVA_EXAMPLES_CP) dev.hypergraph.grpc.examples.Bench \
	  > $(ROOT)/bench/results/clients-java.json.tmp
	@mv $(ROOT)/bench/results/clients-java.json.tmp $(ROOT)/bench/results/clients-java.json
	@cat $(ROOT)/bench/results/clients-java.json

# The chat example against a server it starts itself: make chat-java PROMPT="hello"
PROMPT ?= Tell me about hypergraphs
chat-java: $(STAMPS)/venv $(JAVA_DIR)/target/classpath.txt
	cd $(JAVA_DIR) && $(MVN) $(MVN_FLAGS) -q test-compile
	cd $(JAVA_DIR) && $(JAVA) -Dhypergraph.root=$(ROOT) \
	  -cp $(JAVA_EXAMPLES_CP) dev.hypergraph.grpc.examples.Chat \
	  --local $(PROMPT)
