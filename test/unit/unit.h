/*
 * unit.h
 *	  What the unit test files share: the TAP check and the test groups.
 */
#ifndef KAFKA_UNIT_H
#define KAFKA_UNIT_H

/* One TAP line: "ok N - what" or "not ok N - what". */
extern void check(int condition, const char *what);

/* fuzz_parsers.c */
extern void test_parser_fuzz(void);

/* protobuf_indexes.c */
extern void test_protobuf_indexes(void);

#endif							/* KAFKA_UNIT_H */
