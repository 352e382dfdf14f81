/*-------------------------------------------------------------------------
 *
 * fdw_import.h
 *	  IMPORT FOREIGN SCHEMA for kafka servers: foreign tables for the
 *	  topics of a server, typed from the Schema Registry or raw.
 *
 * fdw_import.c lists topics and subjects and writes the CREATE FOREIGN
 * TABLE statements; fdw_import_schema.c turns a registered schema into
 * columns, one function per schema type.
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

/*
 * The payload columns of a schema of one type, or false with *why.  A
 * schema that is not a record (object) fills a single column "value".
 */
typedef bool (*SchemaColumnsFunction) (const char *schema_text,
									   List **columns, char **why);

/* The type of a column holding the whole value (the key), or NULL. */
typedef const char *(*SchemaValueTypeFunction) (const char *schema_text);

typedef struct SchemaImporter
{
	const char *schema_type;	/* the registry's schemaType */
	const char *format;			/* table option format for it */
	SchemaColumnsFunction columns;
	SchemaValueTypeFunction value_type;
} SchemaImporter;

/*
 * The importer of a registry schemaType ("AVRO", "JSON"), or NULL when
 * IMPORT FOREIGN SCHEMA cannot read that type.
 */
extern const SchemaImporter *kafka_schema_importer(const char *schema_type);

#endif							/* KAFKA_FDW_IMPORT_H */
