/*-------------------------------------------------------------------------
 *
 * avro_libavro.h
 *	  The second opinion on Avro schemas: libavro-c's schema parser.
 *
 * Kept apart from avro.h: libavro-c's headers define AVRO_NULL, AVRO_INT
 * and the other type names ours use, so no file includes both.
 *
 * IDENTIFICATION
 *	  src/avro/avro_libavro.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_AVRO_LIBAVRO_H
#define KAFKA_AVRO_LIBAVRO_H

extern char *kafka_avro_libavro_schema_error(const char *json, size_t len);

#endif							/* KAFKA_AVRO_LIBAVRO_H */
