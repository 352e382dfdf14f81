/*-------------------------------------------------------------------------
 *
 * json_decode.c
 *	  JSON payloads to columns in one pass, without building a document.
 *
 * The payload is tokenized once, left to right.  Each object key is looked
 * up in a small hash table of column names; fields of no interest are
 * skipped (still checked, so a malformed payload is always reported), and
 * the value of a wanted field is converted straight into a Datum of its
 * column's type.  Nothing is allocated per field except the values
 * themselves.  This is what makes decoding several times faster than
 * json_populate_record, which parses into a hash table of strings first.
 *
 * Mapping rules:
 *	- The payload must be one JSON object (whitespace around it allowed).
 *	- A key matches the column of exactly that name; failing that, the only
 *	  column whose name equals it with ASCII letters folded to lower case
 *	  (so "orderId" fills column orderid).  A case-insensitive match never
 *	  overrides an exact one; otherwise a repeated key's last value wins.
 *	- Missing fields and JSON null give NULL; unknown fields are ignored.
 *	- Scalars are converted by their text, like json_populate_record does:
 *	  "42" fills an integer column, 1 fills a boolean.  Strings holding ISO
 *	  8601 dates and times fill date, timestamp and timestamptz.
 *	- Objects and arrays fill json, jsonb and text columns with their JSON
 *	  text, composite columns field by field, and array columns element by
 *	  element (nested arrays give a multidimensional array; for json and
 *	  jsonb elements a nested array is one element).  json and jsonb columns
 *	  take any JSON value as it is written, strings keeping their quotes.
 *
 * Envelope 'debezium': the payload is a change event, bare or inside the
 * JSON converter's {"schema", "payload"}, its members in any order.  One
 * scan checks all of it, notes where "before", "source", "op" and "ts_ms"
 * are and decodes "after" into the columns on the way; only a delete's
 * "before" is read a second time.  Row values equal to Debezium's
 * unchanged-TOAST placeholder leave their column NULL and marked
 * unavailable (codec.h).
 *
 * IDENTIFICATION
 *	  src/codec/json_decode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "codec/codec_internal.h"
#include "registry/schema_registry.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

/*
 * Past these, jsonb_in might fail: let it decide inside the slow path.
 * (Nesting needs no such limit: payloads nested deeper than
 * KAFKA_MAX_NESTING_DEPTH are refused before jsonb_in sees them.)
 */
#define JSONB_SAFE_NUMERIC_DIGITS 1000
#define JSONB_SAFE_NUMERIC_EXPONENT 500
#define JSONB_SAFE_BYTES (64 * 1024 * 1024)

/* How a key matched its column. */
#define MATCH_NONE 0
#define MATCH_FOLDED 1
#define MATCH_EXACT 2

#define SLOT_EMPTY (-1)

typedef struct JsonColumn
{
	const char *name;			/* for messages: in the server encoding */
	const char *key;			/* the name as a JSON key: UTF-8 */
	int			key_length;
	char	   *folded_key;		/* with ASCII letters in lower case */
	int			attnum;			/* 0-based index into values/nulls */
	KafkaValueInput input;
} JsonColumn;

typedef struct NameSlot
{
	uint32		hash;
	int			column;			/* index into columns, or SLOT_EMPTY */
	bool		ambiguous;		/* folded: several columns have this name */
} NameSlot;

/* The columns one JSON object fills: the payload, or a composite value. */
typedef struct JsonObjectMap
{
	int			ncolumns;
	JsonColumn *columns;
	uint32		slot_mask;
	NameSlot   *exact_slots;
	NameSlot   *folded_slots;
	uint8	   *match;			/* per column, reset for each object */

	/* composites only: the row being built */
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;

	/* the payload's map under envelope 'debezium': columns not carried */
	KafkaChangeEvent *change;
	/* the payload's map: report the members no column takes, or NULL */
	KafkaDecoder *report_unknown;
} JsonObjectMap;

typedef struct JsonDecoderState
{
	JsonObjectMap *map;
	char	   *nesting;		/* open containers while skipping values */
	int			nesting_size;
} JsonDecoderState;

/* Position in a payload, and what was seen that matters to jsonb_in. */
typedef struct JsonCursor
{
	const char *start;
	const char *p;
	const char *end;
	KafkaConvertState *state;
	JsonDecoderState *decoder;

	int			depth;			/* objects and arrays open around the cursor */
	bool		syntax_error;	/* error is about the payload, not a column */
	bool		jsonb_unsafe;	/* the last value might make jsonb_in throw */
} JsonCursor;

/* A string token: its content between the quotes. */
typedef struct JsonString
{
	const char *content;
	int			length;
	bool		has_escapes;
} JsonString;

/* Bytes that end the fast scan of a string: quote, backslash, control, non-ASCII. */
static bool string_stop_byte[256];
static bool string_stop_byte_ready = false;

static bool parse_value(JsonCursor *cursor, KafkaValueInput *input,
						Datum *value, bool *isnull);

static void
init_string_stop_bytes(void)
{
	if (string_stop_byte_ready)
		return;
	for (int i = 0; i < 256; i++)
		string_stop_byte[i] = (i < 0x20 || i == '"' || i == '\\' || i >= 0x80);
	string_stop_byte_ready = true;
}

static inline uint32
hash_name(const char *name, int length)
{
	uint32		hash = 2166136261u;

	for (int i = 0; i < length; i++)
	{
		hash ^= (unsigned char) name[i];
		hash *= 16777619u;
	}
	return hash;
}

static inline uint32
hash_folded_name(const char *name, int length)
{
	uint32		hash = 2166136261u;

	for (int i = 0; i < length; i++)
	{
		hash ^= (unsigned char) pg_ascii_tolower((unsigned char) name[i]);
		hash *= 16777619u;
	}
	return hash;
}

static void
insert_slot(NameSlot *slots, uint32 mask, uint32 hash, int column,
			JsonColumn *columns, bool folded)
{
	uint32		i = hash & mask;

	for (;; i = (i + 1) & mask)
	{
		if (slots[i].column == SLOT_EMPTY)
		{
			slots[i].hash = hash;
			slots[i].column = column;
			slots[i].ambiguous = false;
			return;
		}
		if (folded && slots[i].hash == hash)
		{
			JsonColumn *other = &columns[slots[i].column];
			JsonColumn *this = &columns[column];

			if (other->key_length == this->key_length &&
				memcmp(other->folded_key, this->folded_key,
					   this->key_length) == 0)
			{
				slots[i].ambiguous = true;
				return;
			}
		}
	}
}

static void prepare_nested_input(KafkaValueInput *input, MemoryContext mcxt);

static JsonObjectMap *
build_object_map(TupleDesc desc, const int *attnums, int ncolumns,
				 MemoryContext mcxt)
{
	JsonObjectMap *map = palloc0(sizeof(JsonObjectMap));
	uint32		nslots = 8;

	while (nslots < (uint32) ncolumns * 2)
		nslots *= 2;

	map->ncolumns = ncolumns;
	map->columns = palloc0(sizeof(JsonColumn) * Max(ncolumns, 1));
	map->slot_mask = nslots - 1;
	map->exact_slots = palloc(sizeof(NameSlot) * nslots);
	map->folded_slots = palloc(sizeof(NameSlot) * nslots);
	map->match = palloc0(Max(ncolumns, 1));
	for (uint32 i = 0; i < nslots; i++)
	{
		map->exact_slots[i].column = SLOT_EMPTY;
		map->folded_slots[i].column = SLOT_EMPTY;
	}

	for (int i = 0; i < ncolumns; i++)
	{
		JsonColumn *column = &map->columns[i];
		Form_pg_attribute attr = TupleDescAttr(desc, attnums[i]);

		column->name = pstrdup(NameStr(attr->attname));
		column->key = pg_server_to_any(column->name, strlen(column->name),
									   PG_UTF8);
		column->key_length = strlen(column->key);
		column->folded_key = pstrdup(column->key);
		for (int j = 0; j < column->key_length; j++)
			column->folded_key[j] = pg_ascii_tolower((unsigned char) column->folded_key[j]);
		column->attnum = attnums[i];
		kafka_value_input_init(&column->input, attr->atttypid, attr->atttypmod,
							   mcxt);
		prepare_nested_input(&column->input, mcxt);

		insert_slot(map->exact_slots, map->slot_mask,
					hash_name(column->key, column->key_length), i,
					map->columns, false);
		insert_slot(map->folded_slots, map->slot_mask,
					hash_name(column->folded_key, column->key_length), i,
					map->columns, true);
	}
	return map;
}

/* Composite columns (also as array elements) get a map of their own. */
static void
prepare_nested_input(KafkaValueInput *input, MemoryContext mcxt)
{
	if (input->kind == KAFKA_VALUE_ARRAY)
		prepare_nested_input(input->element, mcxt);
	else if (input->kind == KAFKA_VALUE_COMPOSITE)
	{
		TupleDesc	desc = input->composite_desc;
		int		   *attnums = palloc(sizeof(int) * Max(desc->natts, 1));
		int			count = 0;
		JsonObjectMap *map;

		for (int i = 0; i < desc->natts; i++)
		{
			if (!TupleDescAttr(desc, i)->attisdropped)
				attnums[count++] = i;
		}
		map = build_object_map(desc, attnums, count, mcxt);
		map->desc = desc;
		map->values = palloc0(sizeof(Datum) * Max(desc->natts, 1));
		map->nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
		memset(map->nulls, true, sizeof(bool) * Max(desc->natts, 1));
		input->composite_state = map;
	}
}

/* Is key, with ASCII letters in lower case, equal to folded? */
static inline bool
equals_folded(const char *folded, const char *key, int length)
{
	for (int i = 0; i < length; i++)
	{
		if (folded[i] != pg_ascii_tolower((unsigned char) key[i]))
			return false;
	}
	return true;
}

/* The slot of the column named key (folded: ignoring ASCII case), or NULL. */
static inline NameSlot *
probe(JsonObjectMap *map, NameSlot *slots, uint32 hash, const char *key,
	  int length, bool folded)
{
	uint32		i;

	for (i = hash & map->slot_mask;; i = (i + 1) & map->slot_mask)
	{
		NameSlot   *slot = &slots[i];

		if (slot->column == SLOT_EMPTY)
			return NULL;
		if (slot->hash == hash)
		{
			JsonColumn *column = &map->columns[slot->column];

			if (column->key_length == length &&
				(folded ? equals_folded(column->folded_key, key, length) :
				 memcmp(column->key, key, length) == 0))
				return slot;
		}
	}
}

static int
find_column(JsonObjectMap *map, const char *key, int length, int *match)
{
	NameSlot   *slot;

	slot = probe(map, map->exact_slots, hash_name(key, length), key, length, false);
	if (slot != NULL)
	{
		*match = MATCH_EXACT;
		return slot->column;
	}
	slot = probe(map, map->folded_slots, hash_folded_name(key, length), key, length, true);
	/* several columns differ from this key only in case: none wins */
	if (slot != NULL && !slot->ambiguous)
	{
		*match = MATCH_FOLDED;
		return slot->column;
	}
	*match = MATCH_NONE;
	return -1;
}

/* ---------- tokenizer ---------- */

/*
 * Nesting is bounded for the whole payload, whatever the columns: a value
 * nested thousands deep would otherwise reach jsonb_in or later JSON
 * functions and fail there on the stack depth limit, an error of the
 * statement that takes the whole scan or stream down instead of this one
 * record.  The stack check covers row types nested deeply by their
 * definitions, which the decoder walks recursively.
 */
static bool
nested_too_deeply(JsonCursor *cursor, int depth)
{
	if (depth <= KAFKA_MAX_NESTING_DEPTH && !stack_is_too_deep())
		return false;
	cursor->syntax_error = true;
	kafka_decode_fail(cursor->state, ERRCODE_INVALID_TEXT_REPRESENTATION,
					  "invalid JSON payload at byte offset %d: nested too deeply (more than %d levels)",
					  (int) (cursor->p - cursor->start), KAFKA_MAX_NESTING_DEPTH);
	return true;
}

static bool
syntax_error(JsonCursor *cursor, const char *detail)
{
	cursor->syntax_error = true;
	if (cursor->p >= cursor->end || detail == NULL)
		return kafka_decode_fail(cursor->state, ERRCODE_INVALID_TEXT_REPRESENTATION,
								 "invalid JSON payload: unexpected end of input at byte offset %d",
								 (int) (cursor->end - cursor->start));
	return kafka_decode_fail(cursor->state, ERRCODE_INVALID_TEXT_REPRESENTATION,
							 "invalid JSON payload at byte offset %d: %s",
							 (int) (cursor->p - cursor->start), detail);
}

static inline void
skip_whitespace(JsonCursor *cursor)
{
	const char *p = cursor->p;

	while (p < cursor->end &&
		   (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	cursor->p = p;
}

static int
hex4(const char *p)
{
	int			value = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];
		int			digit;

		if (c >= '0' && c <= '9')
			digit = c - '0';
		else if (c >= 'a' && c <= 'f')
			digit = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			digit = c - 'A' + 10;
		else
			return -1;
		value = (value << 4) | digit;
	}
	return value;
}

/*
 * Scans a string token at cursor->p (a quote), checking escapes, surrogate
 * pairs and UTF-8.  Leaves the cursor after the closing quote.
 */
static bool
scan_string(JsonCursor *cursor, JsonString *string)
{
	const char *p = cursor->p + 1;
	const char *end = cursor->end;

	string->content = p;
	string->has_escapes = false;
	for (;;)
	{
		unsigned char c;

		while (p < end && !string_stop_byte[(unsigned char) *p])
			p++;
		if (p >= end)
		{
			cursor->p = end;
			return syntax_error(cursor, NULL);
		}
		c = (unsigned char) *p;
		if (c == '"')
			break;
		if (c == '\\')
		{
			string->has_escapes = true;
			if (end - p < 2)
			{
				cursor->p = end;
				return syntax_error(cursor, NULL);
			}
			switch (p[1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					p += 2;
					break;
				case 'u':
					{
						int			code;

						if (end - p < 6 || (code = hex4(p + 2)) < 0)
						{
							cursor->p = p;
							return syntax_error(cursor, "invalid \\u escape: four hexadecimal digits expected");
						}
						if (code == 0 ||
							(code >= 0x80 && OidIsValid(cursor->state->utf8_to_server_proc)))
							cursor->jsonb_unsafe = true;
						if (code >= 0xDC00 && code <= 0xDFFF)
						{
							cursor->p = p;
							return syntax_error(cursor, "Unicode low surrogate must follow a high surrogate");
						}
						if (code >= 0xD800 && code <= 0xDBFF)
						{
							int			low;

							if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
								(low = hex4(p + 8)) < 0xDC00 || low > 0xDFFF)
							{
								cursor->p = p;
								return syntax_error(cursor, "Unicode high surrogate must be followed by a low surrogate");
							}
							p += 6;
						}
						p += 6;
					}
					break;
				default:
					cursor->p = p;
					return syntax_error(cursor, "invalid escape sequence in a string");
			}
			continue;
		}
		if (c < 0x20)
		{
			cursor->p = p;
			return syntax_error(cursor, "control characters in strings must be escaped");
		}
		else
		{
			int			char_length = pg_utf_mblen((const unsigned char *) p);

			if (char_length > end - p ||
				!pg_utf8_islegal((const unsigned char *) p, char_length))
			{
				cursor->p = p;
				cursor->syntax_error = true;
				return kafka_decode_fail(cursor->state, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
										 "invalid UTF-8 byte sequence in JSON payload at byte offset %d",
										 (int) (p - cursor->start));
			}
			p += char_length;
		}
	}
	string->length = (int) (p - string->content);
	cursor->p = p + 1;
	return true;
}

/*
 * The content of a scanned string with escapes resolved, as UTF-8.  Returns
 * false if it contains \u0000, which no text can hold.
 */
static bool
unescape_string(KafkaConvertState *state, const JsonString *string,
				const char **text, int *length)
{
	bool		has_nul = false;

	const char *p = string->content;
	const char *end = p + string->length;
	StringInfo	out = &state->unescaped;

	if (!string->has_escapes)
	{
		*text = string->content;
		*length = string->length;
		return true;
	}

	resetStringInfo(out);
	while (p < end)
	{
		const char *run = p;

		while (p < end && *p != '\\')
			p++;
		if (p > run)
			appendBinaryStringInfo(out, run, (int) (p - run));
		if (p >= end)
			break;
		switch (p[1])
		{
			case 'b':
				appendStringInfoCharMacro(out, '\b');
				break;
			case 'f':
				appendStringInfoCharMacro(out, '\f');
				break;
			case 'n':
				appendStringInfoCharMacro(out, '\n');
				break;
			case 'r':
				appendStringInfoCharMacro(out, '\r');
				break;
			case 't':
				appendStringInfoCharMacro(out, '\t');
				break;
			case 'u':
				{
					pg_wchar	code = hex4(p + 2);
					unsigned char utf8[8];

					if (is_utf16_surrogate_first(code))
					{
						code = surrogate_pair_to_codepoint(code, hex4(p + 8));
						p += 6;
					}
					if (code == 0)
					{
						has_nul = true;
						appendStringInfoCharMacro(out, '\0');
					}
					else
					{
						unicode_to_utf8(code, utf8);
						appendBinaryStringInfo(out, (char *) utf8,
											   pg_utf_mblen(utf8));
					}
					p += 4;
				}
				break;
			default:			/* the character itself: " \ / */
				appendStringInfoCharMacro(out, p[1]);
				break;
		}
		p += 2;
	}
	*text = out->data;
	*length = out->len;
	return !has_nul;
}

/* After a number or literal, only a delimiter may follow. */
static inline bool
at_delimiter(JsonCursor *cursor)
{
	char		c;

	if (cursor->p >= cursor->end)
		return true;
	c = *cursor->p;
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' ||
		c == '\r' || c == '\t';
}

static bool
scan_number(JsonCursor *cursor, KafkaJsonNumber *number)
{
	int			length = kafka_scan_json_number(cursor->p, cursor->end, number);

	if (length == 0)
		return syntax_error(cursor, "invalid number");
	cursor->p += length;
	if (!at_delimiter(cursor))
		return syntax_error(cursor, "invalid number");
	if (number->integer_digits + number->fraction_digits > JSONB_SAFE_NUMERIC_DIGITS ||
		number->exponent > JSONB_SAFE_NUMERIC_EXPONENT ||
		number->exponent < -JSONB_SAFE_NUMERIC_EXPONENT)
		cursor->jsonb_unsafe = true;
	return true;
}

/* true, false or null; *literal gets its first letter. */
static bool
scan_literal(JsonCursor *cursor, char *literal)
{
	static const char *const words[] = {"true", "false", "null"};
	const char *p = cursor->p;

	for (int i = 0; i < lengthof(words); i++)
	{
		int			length = strlen(words[i]);

		if (*p == words[i][0])
		{
			if (cursor->end - p < length || memcmp(p, words[i], length) != 0)
				break;
			cursor->p += length;
			if (!at_delimiter(cursor))
				break;
			*literal = words[i][0];
			return true;
		}
	}
	return syntax_error(cursor, "invalid literal: true, false or null expected");
}

static void
push_container(JsonCursor *cursor, int depth, char closer)
{
	JsonDecoderState *decoder = cursor->decoder;

	if (depth >= decoder->nesting_size)
	{
		decoder->nesting_size *= 2;
		decoder->nesting = repalloc(decoder->nesting, decoder->nesting_size);
	}
	decoder->nesting[depth] = closer;
}

/* Expects an object key at the cursor, then ':'. */
static bool
scan_key_and_colon(JsonCursor *cursor, JsonString *key)
{
	skip_whitespace(cursor);
	if (cursor->p >= cursor->end || *cursor->p != '"')
		return syntax_error(cursor, "object key expected");
	if (!scan_string(cursor, key))
		return false;
	skip_whitespace(cursor);
	if (cursor->p >= cursor->end || *cursor->p != ':')
		return syntax_error(cursor, "\":\" expected after an object key");
	cursor->p++;
	return true;
}

/*
 * Checks the syntax of one value and moves past it, without recursion, so
 * that deep nesting cannot exhaust the stack.
 */
static bool
skip_value(JsonCursor *cursor)
{
	int			depth = 0;
	JsonString	string;
	KafkaJsonNumber number;
	char		literal;

	for (;;)
	{
		skip_whitespace(cursor);
		if (cursor->p >= cursor->end)
			return syntax_error(cursor, NULL);

		switch (*cursor->p)
		{
			case '{':
				if (nested_too_deeply(cursor, cursor->depth + depth + 1))
					return false;
				cursor->p++;
				skip_whitespace(cursor);
				if (cursor->p < cursor->end && *cursor->p == '}')
				{
					cursor->p++;
					break;
				}
				push_container(cursor, depth++, '}');
				if (!scan_key_and_colon(cursor, &string))
					return false;
				continue;		/* to the member's value */
			case '[':
				if (nested_too_deeply(cursor, cursor->depth + depth + 1))
					return false;
				cursor->p++;
				skip_whitespace(cursor);
				if (cursor->p < cursor->end && *cursor->p == ']')
				{
					cursor->p++;
					break;
				}
				push_container(cursor, depth++, ']');
				continue;		/* to the first element */
			case '"':
				if (!scan_string(cursor, &string))
					return false;
				break;
			case '-':
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
			case '8':
			case '9':
				if (!scan_number(cursor, &number))
					return false;
				break;
			case 't':
			case 'f':
			case 'n':
				if (!scan_literal(cursor, &literal))
					return false;
				break;
			default:
				return syntax_error(cursor, "value expected");
		}

		/* a value is complete: close containers or go to the next member */
		for (;;)
		{
			char		closer;

			if (depth == 0)
				return true;
			closer = cursor->decoder->nesting[depth - 1];
			skip_whitespace(cursor);
			if (cursor->p >= cursor->end)
				return syntax_error(cursor, NULL);
			if (*cursor->p == closer)
			{
				cursor->p++;
				depth--;
				continue;
			}
			if (*cursor->p != ',')
				return syntax_error(cursor, closer == '}' ?
									"\",\" or \"}\" expected" :
									"\",\" or \"]\" expected");
			cursor->p++;
			if (closer == '}' && !scan_key_and_colon(cursor, &string))
				return false;
			break;
		}
	}
}

/* ---------- values ---------- */

static const char *
json_kind_name(char first)
{
	switch (first)
	{
		case '{':
			return "an object";
		case '[':
			return "an array";
		case '"':
			return "a string";
		case 't':
		case 'f':
			return "a boolean";
		case 'n':
			return "null";
		default:
			return "a number";
	}
}

/* A json or jsonb value from the JSON text of [start, cursor->p). */
static bool
json_value_from_span(JsonCursor *cursor, KafkaValueInput *input,
					 const char *start, Datum *value)
{
	KafkaConvertState *state = cursor->state;
	int			length = (int) (cursor->p - start);
	const char *converted;
	int			converted_length;

	if (input->kind == KAFKA_VALUE_JSON)
	{
		/* json keeps its input text: checked already, so no json_in */
		if (!kafka_utf8_to_server(state, start, length, &converted,
								  &converted_length))
			return false;
		*value = PointerGetDatum(cstring_to_text_with_len(converted,
														  converted_length));
		return true;
	}

	/*
	 * The text is valid JSON nested no deeper than the limit, so jsonb_in
	 * can only fail on what the scan flagged (\u0000, huge numbers); such
	 * values take the slow path.
	 */
	if (cursor->jsonb_unsafe || length > JSONB_SAFE_BYTES)
		return kafka_value_call_input(state, input, start, length, value);
	if (!kafka_utf8_to_server(state, start, length, &converted,
							  &converted_length))
		return false;
	resetStringInfo(&state->cstring);
	appendBinaryStringInfo(&state->cstring, converted, converted_length);
	*value = DirectFunctionCall1(jsonb_in, CStringGetDatum(state->cstring.data));
	return true;
}

static bool
parse_object_into(JsonCursor *cursor, JsonObjectMap *map, Datum *values,
				  bool *nulls);

static bool
wrong_json_kind(JsonCursor *cursor, KafkaValueInput *input, char first)
{
	return kafka_decode_fail(cursor->state, ERRCODE_INVALID_TEXT_REPRESENTATION,
							 "%s cannot be converted to type %s",
							 json_kind_name(first), input->type_name);
}

typedef struct ArrayBuild
{
	KafkaValueInput *input;
	Datum	   *elements;
	bool	   *nulls;
	int			count;
	int			capacity;
	int			ndims;			/* 0 until the first element is seen */
	int			dims[MAXDIM];
	bool		dim_known[MAXDIM];
} ArrayBuild;

static bool
array_shape_error(JsonCursor *cursor)
{
	return kafka_decode_fail(cursor->state, ERRCODE_INVALID_TEXT_REPRESENTATION,
							 "multidimensional arrays must have sub-arrays with matching dimensions");
}

/* One level of a (possibly nested) JSON array; the cursor is at '['. */
static bool
parse_array_level(JsonCursor *cursor, ArrayBuild *build, int level)
{
	KafkaValueInput *element = build->input->element;
	bool		nested_is_element = (element->kind == KAFKA_VALUE_JSON ||
									 element->kind == KAFKA_VALUE_JSONB);
	int			count = 0;

	if (level >= MAXDIM)
		return kafka_decode_fail(cursor->state, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								 "number of array dimensions exceeds the maximum allowed (%d)",
								 MAXDIM);
	if (nested_too_deeply(cursor, cursor->depth + 1))
		return false;
	cursor->depth++;
	cursor->p++;
	skip_whitespace(cursor);
	if (cursor->p < cursor->end && *cursor->p == ']')
		cursor->p++;
	else
	{
		for (;;)
		{
			skip_whitespace(cursor);
			if (cursor->p >= cursor->end)
				return syntax_error(cursor, NULL);
			if (*cursor->p == '[' && !nested_is_element)
			{
				if (build->ndims != 0 && level + 1 >= build->ndims)
					return array_shape_error(cursor);
				if (!parse_array_level(cursor, build, level + 1))
					return false;
			}
			else
			{
				int			position = build->count;

				if (build->ndims == 0)
					build->ndims = level + 1;
				else if (build->ndims != level + 1)
					return array_shape_error(cursor);
				if (build->count == build->capacity)
				{
					build->capacity *= 2;
					build->elements = repalloc(build->elements,
											   sizeof(Datum) * build->capacity);
					build->nulls = repalloc(build->nulls,
											sizeof(bool) * build->capacity);
				}
				if (!parse_value(cursor, element, &build->elements[position],
								 &build->nulls[position]))
				{
					if (!cursor->syntax_error)
						return kafka_decode_fail(cursor->state,
												 cursor->state->error_code,
												 "array element %d: %s",
												 position + 1,
												 cursor->state->error);
					return false;
				}
				build->count++;
			}
			count++;
			skip_whitespace(cursor);
			if (cursor->p >= cursor->end)
				return syntax_error(cursor, NULL);
			if (*cursor->p == ']')
			{
				cursor->p++;
				break;
			}
			if (*cursor->p != ',')
				return syntax_error(cursor, "\",\" or \"]\" expected");
			cursor->p++;
		}
	}

	cursor->depth--;
	if (!build->dim_known[level])
	{
		build->dim_known[level] = true;
		build->dims[level] = count;
	}
	else if (build->dims[level] != count)
		return array_shape_error(cursor);
	return true;
}

static bool
parse_array(JsonCursor *cursor, KafkaValueInput *input, Datum *value)
{
	ArrayBuild	build;
	int			lower_bounds[MAXDIM];

	memset(&build, 0, sizeof(build));
	build.input = input;
	build.capacity = 16;
	build.elements = palloc(sizeof(Datum) * build.capacity);
	build.nulls = palloc(sizeof(bool) * build.capacity);

	if (!parse_array_level(cursor, &build, 0))
		return false;

	if (build.count == 0)
	{
		*value = PointerGetDatum(construct_empty_array(input->element->typid));
		return true;
	}
	for (int i = 0; i < build.ndims; i++)
		lower_bounds[i] = 1;
	*value = PointerGetDatum(construct_md_array(build.elements, build.nulls,
												build.ndims, build.dims,
												lower_bounds,
												input->element->typid,
												input->element_length,
												input->element_byval,
												input->element_align));
	return true;
}

static bool
parse_composite(JsonCursor *cursor, KafkaValueInput *input, Datum *value)
{
	JsonObjectMap *map = input->composite_state;
	HeapTuple	tuple;

	if (!parse_object_into(cursor, map, map->values, map->nulls))
		return false;
	tuple = heap_form_tuple(map->desc, map->values, map->nulls);
	*value = HeapTupleGetDatum(tuple);
	return true;
}

/* Converts the value at the cursor for input; the cursor is on its first byte. */
static bool
parse_value(JsonCursor *cursor, KafkaValueInput *input, Datum *value,
			bool *isnull)
{
	KafkaConvertState *state = cursor->state;
	const char *start = cursor->p;
	char		first = *start;
	bool		wants_json = (input->kind == KAFKA_VALUE_JSON ||
							  input->kind == KAFKA_VALUE_JSONB);

	*isnull = false;
	cursor->jsonb_unsafe = false;
	switch (first)
	{
		case '"':
			{
				JsonString string;
				const char *text;
				int			length;

				if (!scan_string(cursor, &string))
					return false;
				if (wants_json)
					return json_value_from_span(cursor, input, start, value);
				if (!unescape_string(state, &string, &text, &length))
					return kafka_decode_fail(state, ERRCODE_UNTRANSLATABLE_CHARACTER,
											 "\\u0000 cannot be converted to text");
				return kafka_value_from_text(state, input, text, length,
											 KAFKA_TEXT_STRING, value);
			}
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			{
				KafkaJsonNumber number;

				if (!scan_number(cursor, &number))
					return false;
				if (wants_json)
					return json_value_from_span(cursor, input, start, value);
				return kafka_value_from_number(state, input, start,
											   (int) (cursor->p - start),
											   &number, value);
			}
		case 't':
		case 'f':
		case 'n':
			{
				char		literal;

				if (!scan_literal(cursor, &literal))
					return false;
				if (literal == 'n')
				{
					*isnull = true;
					*value = (Datum) 0;
					return true;
				}
				if (wants_json)
					return json_value_from_span(cursor, input, start, value);
				return kafka_value_from_text(state, input, start,
											 (int) (cursor->p - start),
											 KAFKA_TEXT_LITERAL, value);
			}
		case '{':
		case '[':
			if (input->kind == KAFKA_VALUE_COMPOSITE && first == '{')
				return parse_composite(cursor, input, value);
			if (input->kind == KAFKA_VALUE_ARRAY && first == '[')
				return parse_array(cursor, input, value);
			if (!skip_value(cursor))
				return false;
			if (wants_json)
				return json_value_from_span(cursor, input, start, value);
			/* text keeps the JSON text; so do types without a fast path */
			if (input->kind == KAFKA_VALUE_TEXT ||
				input->kind == KAFKA_VALUE_BOUNDED_TEXT ||
				input->kind == KAFKA_VALUE_GENERIC)
				return kafka_value_from_text(state, input, start,
											 (int) (cursor->p - start),
											 KAFKA_TEXT_STRING, value);
			return wrong_json_kind(cursor, input, first);
		default:
			return syntax_error(cursor, "value expected");
	}
}

/*
 * Is the value at the cursor Debezium's placeholder for a value it did not
 * read?  The placeholder string; for bytea, its bytes in base64 as
 * Debezium's JSON converter writes bytes; for arrays, an array of just the
 * string.  If so, moves past it.
 */
static bool
at_unavailable_value(JsonCursor *cursor, const JsonColumn *column)
{
	static const char placeholder[] = "\"" KAFKA_DEBEZIUM_UNAVAILABLE "\"";
	static const char placeholder_base64[] = "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"";
	const char *p = cursor->p;
	const char *end = cursor->end;

#define LOOKING_AT(p, text) \
	((size_t) (end - (p)) >= sizeof(text) - 1 && memcmp((p), (text), sizeof(text) - 1) == 0)

	if (LOOKING_AT(p, placeholder))
		p += sizeof(placeholder) - 1;
	else if (column->input.typid == BYTEAOID && LOOKING_AT(p, placeholder_base64))
		p += sizeof(placeholder_base64) - 1;
	else if (*p == '[' && column->input.kind == KAFKA_VALUE_ARRAY)
	{
		for (p++; p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'); p++)
			;
		if (!LOOKING_AT(p, placeholder))
			return false;
		for (p += sizeof(placeholder) - 1;
			 p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'); p++)
			;
		if (p >= end || *p != ']')
			return false;
		p++;
	}
	else
		return false;
#undef LOOKING_AT
	cursor->p = p;
	return true;
}

/*
 * The PostgreSQL type for a JSON value (checked, between start and end)
 * that no column takes: see kafka_decoder_unknown_fields.  NULL for null.
 */
static const char *
json_type_name(const char *start, const char *end)
{
	const char *p;

	switch (*start)
	{
		case '"':
			return "text";
		case '{':
		case '[':
			return "jsonb";
		case 't':
		case 'f':
			return "boolean";
		case 'n':
			return NULL;
	}
	for (p = start; p < end; p++)
		if (*p == '.' || *p == 'e' || *p == 'E')
			return "numeric";
	/* beyond bigint's digits: numeric too */
	return end - start - (*start == '-') > 18 ? "numeric" : "bigint";
}

/* The member at the cursor (its value) is one no column takes: note it. */
static bool
report_member(JsonCursor *cursor, JsonObjectMap *map, const char *key_text,
			  int key_length)
{
	const char *start = cursor->p;
	/* the unescaped key may live in scratch space the skip reuses */
	char	   *name = pnstrdup(key_text, key_length);

	if (!skip_value(cursor))
		return false;
	kafka_unknown_field_add(map->report_unknown, name, key_length, start,
							(int) (cursor->p - start), json_type_name(start, cursor->p));
	pfree(name);
	return true;
}

/*
 * Fills the columns of map from the object at the cursor ('{').  Columns
 * without a field are NULL.
 */
static bool
parse_object_into(JsonCursor *cursor, JsonObjectMap *map, Datum *values,
				  bool *nulls)
{
	KafkaConvertState *state = cursor->state;

	/* row types can nest deeply; each level recurses once */
	if (nested_too_deeply(cursor, cursor->depth + 1))
		return false;
	cursor->depth++;
	cursor->p++;
	memset(map->match, MATCH_NONE, map->ncolumns);
	for (int i = 0; i < map->ncolumns; i++)
	{
		values[map->columns[i].attnum] = (Datum) 0;
		nulls[map->columns[i].attnum] = true;
	}
	if (map->change != NULL)
	{
		for (int i = 0; i < map->ncolumns; i++)
			map->change->unavailable[map->columns[i].attnum] = false;
	}

	skip_whitespace(cursor);
	if (cursor->p < cursor->end && *cursor->p == '}')
	{
		cursor->p++;
		cursor->depth--;
		return true;
	}

	for (;;)
	{
		JsonString key;
		const char *key_text;
		int			key_length;
		int			match = MATCH_NONE;
		int			column_index;

		if (!scan_key_and_colon(cursor, &key))
			return false;
		/* a key with \u0000 matches no column name (nor becomes one) */
		if (unescape_string(state, &key, &key_text, &key_length))
			column_index = find_column(map, key_text, key_length, &match);
		else
		{
			column_index = -1;
			key_text = NULL;
		}

		skip_whitespace(cursor);
		if (cursor->p >= cursor->end)
			return syntax_error(cursor, NULL);

		if (column_index < 0 && map->report_unknown != NULL && key_text != NULL)
		{
			if (!report_member(cursor, map, key_text, key_length))
				return false;
		}
		else if (column_index < 0 || map->match[column_index] > match)
		{
			if (!skip_value(cursor))
				return false;
		}
		else
		{
			JsonColumn *column = &map->columns[column_index];
			const char *start = cursor->p;
			int			depth = cursor->depth;

			state->context_field = key.content;
			state->context_field_length = key.length;
			state->context_column = column->name;
			if (map->change != NULL && at_unavailable_value(cursor, column))
			{
				/* Debezium did not carry it (an unchanged TOASTed value) */
				values[column->attnum] = (Datum) 0;
				nulls[column->attnum] = true;
				kafka_change_mark_unavailable(map->change, column->attnum);
			}
			else if (!parse_value(cursor, &column->input, &values[column->attnum],
								  &nulls[column->attnum]))
			{
				if (cursor->syntax_error)
					return false;
				if (map->report_unknown != NULL && map->report_unknown->rescue_mismatches)
				{
					/* the value its column cannot take is rescued instead */
					values[column->attnum] = (Datum) 0;
					nulls[column->attnum] = true;
					kafka_convert_forget_error(state);
					cursor->p = start;
					cursor->depth = depth;
					/* the key again: its unescaped text shared scratch space */
					if (!unescape_string(state, &key, &key_text, &key_length) ||
						!report_member(cursor, map, key_text, key_length))
						return false;
				}
				else
					return kafka_decode_fail(state, state->error_code,
											 "cannot decode field \"%s\" into column \"%s\": %s",
											 kafka_payload_text_for_message(state, key.content,
																			key.length),
											 column->name, state->error);
			}
			else if (map->change != NULL)
				map->change->unavailable[column->attnum] = false;
			state->context_column = NULL;
			map->match[column_index] = match;
		}

		skip_whitespace(cursor);
		if (cursor->p >= cursor->end)
			return syntax_error(cursor, NULL);
		if (*cursor->p == '}')
		{
			cursor->p++;
			cursor->depth--;
			return true;
		}
		if (*cursor->p != ',')
			return syntax_error(cursor, "\",\" or \"}\" expected");
		cursor->p++;
	}
}

static void
init_cursor(JsonCursor *cursor, KafkaConvertState *state,
			JsonDecoderState *decoder, const char *data, size_t len)
{
	cursor->start = data;
	cursor->p = data;
	cursor->end = data + len;
	cursor->state = state;
	cursor->decoder = decoder;
	cursor->depth = 0;
	cursor->syntax_error = false;
	cursor->jsonb_unsafe = false;
}

/* ---------- Debezium change events (envelope 'debezium') ---------- */

/* A member's value in the payload, and the nesting around it. */
typedef struct JsonSpan
{
	const char *start;			/* NULL: no such member */
	const char *end;
	int			depth;
} JsonSpan;

/* The members of a change event object that matter. */
typedef struct ChangeEventScan
{
	JsonSpan	before;
	JsonSpan	after;
	JsonSpan	source;
	JsonSpan	op;
	JsonSpan	ts_ms;
	JsonSpan	payload;		/* {"schema", "payload"}: the event inside */
	struct ChangeEventScan *inner;	/* scanned payload, when an object */
} ChangeEventScan;

static inline bool
key_is(const char *key, int length, const char *name)
{
	return length == (int) strlen(name) && memcmp(key, name, length) == 0;
}

static inline bool
span_is(const JsonSpan *span, char first)
{
	return span->start != NULL && *span->start == first;
}

/*
 * Scans the change event object at the cursor ('{'), checking all of it,
 * and notes where its members are.  "after" is decoded into the columns
 * on the way when it is an object (it is the row image of every event but
 * deletes and truncates), and *decoded_by says which scan's "after" the
 * columns hold.  inner, at the top level only, takes the event inside a
 * "payload" member.
 */
static bool
scan_change_event(JsonCursor *cursor, ChangeEventScan *scan,
				  ChangeEventScan *inner, ChangeEventScan **decoded_by,
				  Datum *values, bool *nulls)
{
	JsonDecoderState *json_decoder = cursor->decoder;

	memset(scan, 0, sizeof(ChangeEventScan));
	if (nested_too_deeply(cursor, cursor->depth + 1))
		return false;
	cursor->depth++;
	cursor->p++;
	skip_whitespace(cursor);
	if (cursor->p < cursor->end && *cursor->p == '}')
	{
		cursor->p++;
		cursor->depth--;
		return true;
	}
	for (;;)
	{
		JsonString key;
		const char *name;
		int			length;
		JsonSpan   *span = NULL;
		const char *start;

		if (!scan_key_and_colon(cursor, &key))
			return false;
		if (!unescape_string(cursor->state, &key, &name, &length))
			length = -1;		/* \u0000: no member of interest */
		skip_whitespace(cursor);
		if (cursor->p >= cursor->end)
			return syntax_error(cursor, NULL);

		if (key_is(name, length, "after"))
			span = &scan->after;
		else if (key_is(name, length, "before"))
			span = &scan->before;
		else if (key_is(name, length, "source"))
			span = &scan->source;
		else if (key_is(name, length, "op"))
			span = &scan->op;
		else if (key_is(name, length, "ts_ms"))
			span = &scan->ts_ms;
		else if (inner != NULL && key_is(name, length, "payload"))
			span = &scan->payload;

		start = cursor->p;
		if (span == &scan->after && *start == '{')
		{
			if (!parse_object_into(cursor, json_decoder->map, values, nulls))
				return false;
			*decoded_by = scan;
		}
		else if (span == &scan->payload && *start == '{')
		{
			if (!scan_change_event(cursor, inner, NULL, decoded_by, values, nulls))
				return false;
			scan->inner = inner;
		}
		else
		{
			/* a repeated member: the last one counts */
			if (span == &scan->after && *decoded_by == scan)
				*decoded_by = NULL;
			if (span == &scan->payload)
			{
				if (*decoded_by == inner)
					*decoded_by = NULL;
				scan->inner = NULL;
			}
			if (!skip_value(cursor))
				return false;
		}
		if (span != NULL)
		{
			span->start = start;
			span->end = cursor->p;
			span->depth = cursor->depth;
		}

		skip_whitespace(cursor);
		if (cursor->p >= cursor->end)
			return syntax_error(cursor, NULL);
		if (*cursor->p == '}')
		{
			cursor->p++;
			cursor->depth--;
			return true;
		}
		if (*cursor->p != ',')
			return syntax_error(cursor, "\",\" or \"}\" expected");
		cursor->p++;
	}
}

/*
 * An integer member of the event (source.lsn, ts_ms): *present false for
 * null; anything but an integer within bigint is the record's error.
 */
static bool
change_event_integer(JsonCursor *cursor, const char *what, const JsonSpan *span,
					 bool *present, int64 *result)
{
	KafkaJsonNumber number;
	char		digits[24];
	int			length = (int) (span->end - span->start);
	char	   *end;

	*present = false;
	if (span_is(span, 'n'))
		return true;
	if (kafka_scan_json_number(span->start, span->end, &number) != length ||
		number.has_fraction || number.has_exponent)
		return kafka_change_event_error(cursor->state,
										"\"%s\" is not an integer", what);
	if (length >= (int) sizeof(digits))
		return kafka_change_event_error(cursor->state,
										"\"%s\" is out of range for type bigint", what);
	memcpy(digits, span->start, length);
	digits[length] = '\0';
	errno = 0;
	*result = strtoi64(digits, &end, 10);
	if (errno != 0 || *end != '\0')
		return kafka_change_event_error(cursor->state,
										"\"%s\" is out of range for type bigint", what);
	*present = true;
	return true;
}

/* A cursor over one member's value (already checked) of the payload. */
static void
span_cursor(JsonCursor *cursor, const JsonCursor *payload, const JsonSpan *span)
{
	*cursor = *payload;
	cursor->p = span->start;
	cursor->end = span->end;
	cursor->depth = span->depth;
	cursor->syntax_error = false;
	cursor->jsonb_unsafe = false;
}

/* source.lsn and source.ts_ms */
static bool
read_change_source(JsonCursor *payload, const JsonSpan *span,
				   KafkaChangeEvent *change)
{
	JsonCursor	cursor;

	if (span->start == NULL || span_is(span, 'n'))
		return true;
	if (!span_is(span, '{'))
		return kafka_change_event_error(payload->state,
										"\"source\" is not an object");
	span_cursor(&cursor, payload, span);
	cursor.p++;
	skip_whitespace(&cursor);
	while (cursor.p < cursor.end && *cursor.p != '}')
	{
		JsonString key;
		const char *name;
		int			length;
		JsonSpan	value;

		if (*cursor.p == ',')
			cursor.p++;
		if (!scan_key_and_colon(&cursor, &key))
			return false;
		if (!unescape_string(cursor.state, &key, &name, &length))
			length = -1;
		skip_whitespace(&cursor);
		value.start = cursor.p;
		if (!skip_value(&cursor))
			return false;
		value.end = cursor.p;
		if (key_is(name, length, "lsn") &&
			!change_event_integer(&cursor, "source.lsn", &value, &change->has_lsn,
								  &change->lsn))
			return false;
		if (key_is(name, length, "ts_ms") &&
			!change_event_integer(&cursor, "source.ts_ms", &value, &change->has_ts,
								  &change->ts_ms))
			return false;
		skip_whitespace(&cursor);
	}
	return true;
}

/*
 * A Debezium change event: its row image into the payload columns, the
 * rest into decoder->change.  The cursor is at the payload's '{'.
 */
static bool
decode_change_event(KafkaDecoder *decoder, JsonCursor *cursor, Datum *values,
					bool *nulls)
{
	JsonDecoderState *json_decoder = decoder->format_state;
	KafkaConvertState *state = cursor->state;
	KafkaChangeEvent *change = decoder->change;
	ChangeEventScan outer;
	ChangeEventScan inner;
	ChangeEventScan *event = &outer;
	ChangeEventScan *decoded_by = NULL;
	JsonSpan   *image = NULL;

	if (!scan_change_event(cursor, &outer, &inner, &decoded_by, values, nulls))
		return false;
	skip_whitespace(cursor);
	if (cursor->p < cursor->end)
		return syntax_error(cursor, "unexpected data after the object");

	/* with the JSON converter's schemas: {"schema": ..., "payload": event} */
	if (outer.op.start == NULL && outer.payload.start != NULL)
	{
		if (outer.inner == NULL)
			return kafka_change_event_error(state, "\"payload\" is not an object");
		event = outer.inner;
	}

	if (event->op.start == NULL)
		return kafka_change_event_error(state, "no \"op\"");
	{
		JsonCursor	op_cursor;
		JsonString	op;
		const char *text;
		int			length;

		if (!span_is(&event->op, '"'))
			return kafka_change_event_error(state, "\"op\" is not a string");
		span_cursor(&op_cursor, cursor, &event->op);
		if (!scan_string(&op_cursor, &op))
			return false;
		if (!unescape_string(state, &op, &text, &length))
			return kafka_change_event_error(state, "\"op\" is not one of c, u, d, r, t");
		if (!kafka_change_set_op(state, change, text, length))
			return false;
	}
	if (!read_change_source(cursor, &event->source, change))
		return false;
	if (event->ts_ms.start != NULL)
	{
		bool		has_ts;
		int64		ts_ms;

		if (!change_event_integer(cursor, "ts_ms", &event->ts_ms, &has_ts, &ts_ms))
			return false;
		/* when the connector processed it: what the source says comes first */
		if (has_ts && !change->has_ts)
		{
			change->has_ts = true;
			change->ts_ms = ts_ms;
		}
	}

	/* the row: after, else before (a delete), else none (a truncate) */
	if (event->after.start != NULL && !span_is(&event->after, 'n'))
	{
		if (!span_is(&event->after, '{'))
			return kafka_change_event_error(state, "\"after\" is not an object");
		if (decoded_by == event)
			return true;
		image = &event->after;
	}
	else if (event->before.start != NULL && !span_is(&event->before, 'n'))
	{
		if (!span_is(&event->before, '{'))
			return kafka_change_event_error(state, "\"before\" is not an object");
		image = &event->before;
	}
	if (image != NULL)
	{
		JsonCursor	row;

		span_cursor(&row, cursor, image);
		return parse_object_into(&row, json_decoder->map, values, nulls);
	}
	for (int i = 0; i < json_decoder->map->ncolumns; i++)
	{
		int			attnum = json_decoder->map->columns[i].attnum;

		values[attnum] = (Datum) 0;
		nulls[attnum] = true;
		change->unavailable[attnum] = false;
	}
	return true;
}

static bool
json_decode(KafkaDecoder *decoder, const char *data, size_t len,
			Datum *values, bool *nulls)
{
	JsonDecoderState *json_decoder = decoder->format_state;
	JsonCursor	cursor;

	if (len > (size_t) MaxAllocSize)
		return kafka_decode_fail(&decoder->convert, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								 "JSON payload of %zu bytes is too large", len);
	/*
	 * Confluent's JSON Schema serializer puts its wire header (magic byte 0,
	 * the schema id) before the JSON text, which never starts with a zero
	 * byte: skip it.
	 */
	if (len >= KAFKA_CONFLUENT_HEADER_SIZE && data[0] == KAFKA_CONFLUENT_MAGIC)
	{
		data += KAFKA_CONFLUENT_HEADER_SIZE;
		len -= KAFKA_CONFLUENT_HEADER_SIZE;
	}
	init_cursor(&cursor, &decoder->convert, json_decoder, data, len);

	skip_whitespace(&cursor);
	if (cursor.p >= cursor.end)
		return kafka_decode_fail(&decoder->convert, ERRCODE_INVALID_TEXT_REPRESENTATION,
								 len == 0 ? "invalid JSON payload: the payload is empty" :
								 "invalid JSON payload: the payload holds only whitespace");
	if (*cursor.p != '{')
	{
		const char *first = cursor.p;

		/* name what was found, if it is JSON at all */
		if (!skip_value(&cursor))
			return false;
		return kafka_decode_fail(&decoder->convert, ERRCODE_INVALID_TEXT_REPRESENTATION,
								 "invalid JSON payload: expected an object, found %s",
								 json_kind_name(*first));
	}
	if (decoder->change != NULL)
		return decode_change_event(decoder, &cursor, values, nulls);
	if (!parse_object_into(&cursor, json_decoder->map, values, nulls))
		return false;
	skip_whitespace(&cursor);
	if (cursor.p < cursor.end)
		return syntax_error(&cursor, "unexpected data after the object");
	return true;
}

void
kafka_json_decoder_init(KafkaDecoder *decoder, TupleDesc desc,
						const KafkaCodecOptions *options)
{
	JsonDecoderState *json_decoder = palloc0(sizeof(JsonDecoderState));

	init_string_stop_bytes();
	json_decoder->map = build_object_map(desc, decoder->payload_attnums,
										 decoder->npayload, decoder->mcxt);
	json_decoder->map->change = decoder->change;
	json_decoder->map->report_unknown = decoder->unknown ? decoder : NULL;
	json_decoder->nesting_size = 64;
	json_decoder->nesting = palloc(json_decoder->nesting_size);
	decoder->format_state = json_decoder;
	decoder->decode = json_decode;
}

/*
 * Checks that data is exactly one JSON value (for json and jsonb columns of
 * the text format) and tells whether jsonb_in is sure to accept it.
 */
bool
kafka_json_validate(KafkaConvertState *state, const char *data, size_t len,
					bool *jsonb_safe)
{
	JsonDecoderState containers;
	JsonCursor	cursor;

	init_string_stop_bytes();
	containers.map = NULL;
	containers.nesting_size = 64;
	containers.nesting = palloc(containers.nesting_size);
	init_cursor(&cursor, state, &containers, data, len);
	if (!skip_value(&cursor))
		return false;
	skip_whitespace(&cursor);
	if (cursor.p < cursor.end)
		return syntax_error(&cursor, "unexpected data after the value");
	*jsonb_safe = !cursor.jsonb_unsafe && len <= JSONB_SAFE_BYTES;
	pfree(containers.nesting);
	return true;
}
