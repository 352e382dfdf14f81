/*-------------------------------------------------------------------------
 *
 * fdw_import.h
 *	  IMPORT FOREIGN SCHEMA for kafka servers: foreign tables for the
 *	  topics of a server, typed from the Schema Registry or raw.
 *
 * fdw_import.c lists topics and subjects and writes the CREATE FOREIGN
 * TABLE statements; the format table turns a registered schema into
 * columns (KafkaFormatDef.schema_columns, one per schema type).
 *
 * IDENTIFICATION
 *	  src/fdw/fdw_import.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KAFKA_FDW_IMPORT_H
#define KAFKA_FDW_IMPORT_H

#include "foreign/fdwapi.h"

/* The ImportForeignSchema callback of the kafka_fdw handler. */
extern List *kafka_import_foreign_schema(ImportForeignSchemaStmt *stmt,
										 Oid server_oid);

/* One column of an imported table. */
typedef struct ImportColumn
{
	char	   *name;
	const char *type;			/* SQL type name */
	const char *kafka;			/* column option kafka, or NULL (payload) */
} ImportColumn;

extern ImportColumn *kafka_import_column(const char *name, const char *type,
										 const char *kafka);

#endif							/* KAFKA_FDW_IMPORT_H */
