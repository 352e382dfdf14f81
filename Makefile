# kafka_fdw — PGXS build.
#
# The extension script is assembled from sql/install/*.sql (in name order) so
# each feature keeps its SQL next to the others without one giant file.
# Released versions' install scripts are kept frozen in sql/ next to the
# upgrade scripts (ALTER EXTENSION kafka_fdw UPDATE): users keep data in the
# extension's catalogs, so every catalog change ships an upgrade script.
# `make installcheck` starts its own throwaway PostgreSQL and loopback Kafka
# test broker (test/harness/run_tests.sh); it never touches a running server.

EXTENSION    = kafka_fdw
EXTVERSION   = 0.7
MODULE_big   = kafka_fdw
# descriptor.pb-c.c is generated (below), so it is named, not globbed
PROTOBUF_GEN = src/protobuf/descriptor.pb-c.c src/protobuf/descriptor.pb-c.h
SRCS         = $(sort $(filter-out $(PROTOBUF_GEN),$(wildcard src/*.c src/*/*.c)) \
               src/protobuf/descriptor.pb-c.c)
OBJS         = $(SRCS:.c=.o)
DATA_built   = kafka_fdw--$(EXTVERSION).sql
DATA         = sql/kafka_fdw--0.1.sql sql/kafka_fdw--0.1--0.2.sql \
               sql/kafka_fdw--0.2.sql sql/kafka_fdw--0.2--0.3.sql \
               sql/kafka_fdw--0.3.sql sql/kafka_fdw--0.3--0.4.sql \
               sql/kafka_fdw--0.4.sql sql/kafka_fdw--0.4--0.5.sql \
               sql/kafka_fdw--0.5.sql sql/kafka_fdw--0.5--0.6.sql \
               sql/kafka_fdw--0.6.sql sql/kafka_fdw--0.6--0.7.sql
EXTRA_CLEAN  = test/broker/kafka_test_broker test/unit/unit_tests \
               test/verify/avro_reference $(PROTOBUF_GEN)

PG_CONFIG   ?= pg_config
PG_CPPFLAGS  = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter \
               -Wno-missing-field-initializers -Wno-sign-compare \
               -Wno-cast-function-type
SHLIB_LINK   = -lrdkafka -ljansson -lcurl -lzstd -lsnappy -lavro -lprotobuf-c -lpthread

# installcheck is ours (see above), not PGXS's "run against the default server".
NO_INSTALLCHECK = 1

# `make SANITIZE=1` builds the extension and the unit tests with
# AddressSanitizer and UndefinedBehaviorSanitizer, for the suite's sanitizer
# pass (KT_SANITIZE=1 make installcheck, see test/README.md).  Objects built
# with and without it must not be mixed: `make clean` in between.  PGXS adds
# COPT to both the compile and the link flags.
ifeq ($(SANITIZE),1)
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
COPT += $(SANITIZE_FLAGS)
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when any of our
# headers changes (a stale object with an old struct layout is worse than a
# slower build).
$(OBJS): $(wildcard src/*.h src/*/*.h)

# Protobuf descriptor sets are parsed with protobuf-c, from the C code
# protoc-c generates for the descriptor.proto of the installed protobuf.
PROTOBUF_INCLUDE ?= /usr/include/google/protobuf
src/protobuf/descriptor.pb-c.c: $(PROTOBUF_INCLUDE)/descriptor.proto
	protoc-c -I$(PROTOBUF_INCLUDE) --c_out=src/protobuf $<
src/protobuf/descriptor.pb-c.h: src/protobuf/descriptor.pb-c.c
$(filter src/protobuf/%.o,$(OBJS)): src/protobuf/descriptor.pb-c.h

kafka_fdw--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

# The loopback Kafka broker used by tests, demo and benchmarks.
test/broker/kafka_test_broker: test/broker/kafka_test_broker.c
	$(CC) -O2 -Wall -Wextra -o $@ $< -lrdkafka -lpthread

# Unit tests of the PostgreSQL-free parts (offset specs, config rules) and
# fuzzing of their parsers.  UNIT_CFLAGS adds flags, e.g.
# UNIT_CFLAGS=-fsanitize=address,undefined for a sanitizer build.
UNIT_SRCS = $(sort $(wildcard test/unit/*.c))
UNIT_LIB_SRCS = $(wildcard src/common/*.c) src/protobuf/pb_message_indexes.c
test/unit/unit_tests: $(UNIT_SRCS) $(wildcard test/unit/*.h) $(UNIT_LIB_SRCS) $(wildcard src/common/*.h) src/protobuf/pb_message_indexes.h
	$(CC) -O1 -g $(SANITIZE_FLAGS) -Wall -Wextra $(UNIT_CFLAGS) -I$(srcdir)/src -o $@ $(UNIT_SRCS) $(UNIT_LIB_SRCS) -ljansson -lrdkafka

# libavro-c as the reference decoder of the Avro tests: random schemas and
# values written by it, and its reading of payloads (057_avro_reference.pl).
test/verify/avro_reference: test/verify/avro_reference.c
	$(CC) -O1 -g -Wall -Wextra -o $@ $< -lavro -ljansson -lm

.PHONY: installcheck testtools
testtools: test/broker/kafka_test_broker test/unit/unit_tests test/verify/avro_reference

installcheck: testtools
	$(srcdir)/test/harness/run_tests.sh
