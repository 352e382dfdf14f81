/*-------------------------------------------------------------------------
 *
 * encoding.c
 *	  Character encoding of payloads: Kafka text and JSON payloads are UTF-8
 *	  whatever the database encoding, so decoders check UTF-8 without
 *	  throwing and convert to the server encoding, and encoders convert back.
 *
 * IDENTIFICATION
 *	  src/codec/encoding.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "codec/codec_internal.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

void
kafka_convert_state_init(KafkaConvertState *state, MemoryContext mcxt)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);

	memset(state, 0, sizeof(KafkaConvertState));
	state->server_encoding = GetDatabaseEncoding();

	/*
	 * SQL_ASCII stores bytes as given, like PostgreSQL's own text input does
	 * there, so only real encodings other than UTF-8 need a conversion.
	 */
	if (state->server_encoding != PG_UTF8 &&
		state->server_encoding != PG_SQL_ASCII)
	{
		state->utf8_to_server_proc =
			FindDefaultConversionProc(PG_UTF8, state->server_encoding);
		if (!OidIsValid(state->utf8_to_server_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("no conversion from UTF8 to the database encoding \"%s\"",
							GetDatabaseEncodingName()),
					 errhint("Kafka text and JSON payloads are UTF-8; create the database with an encoding PostgreSQL can convert UTF-8 to.")));
	}
	initStringInfo(&state->unescaped);
	initStringInfo(&state->cstring);
	initStringInfo(&state->converted);
	MemoryContextSwitchTo(oldcontext);
}

/*
 * Returns the offset of the first byte that does not start a valid UTF-8
 * character (overlong forms and surrogates included), or -1 if the whole of
 * data is valid.  NUL is valid UTF-8 but cannot be stored in text, hence the
 * option.
 */
int
kafka_utf8_invalid_offset(const char *data, size_t len, bool nul_is_invalid)
{
	const unsigned char *p = (const unsigned char *) data;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			char_length;

		if (*p < 0x80)
		{
			if (*p == 0 && nul_is_invalid)
				return (int) (p - (const unsigned char *) data);
			p++;
			continue;
		}
		char_length = pg_utf_mblen(p);
		if (char_length > end - p || !pg_utf8_islegal(p, char_length))
			return (int) (p - (const unsigned char *) data);
		p += char_length;
	}
	return -1;
}

/*
 * Converts valid UTF-8 (without NUL) to the server encoding.  The result
 * points either into text or into state->converted, valid until the next
 * conversion.  Returns false, with the failure recorded in state, when a
 * character has no equivalent in the server encoding.
 */
bool
kafka_utf8_to_server(KafkaConvertState *state, const char *text, int len,
					 const char **converted, int *converted_length)
{
	int			done;

	if (!OidIsValid(state->utf8_to_server_proc))
	{
		*converted = text;
		*converted_length = len;
		return true;
	}

	/* Every server encoding is a superset of ASCII. */
	for (done = 0; done < len; done++)
	{
		if ((unsigned char) text[done] >= 0x80)
			break;
	}
	if (done == len)
	{
		*converted = text;
		*converted_length = len;
		return true;
	}

	resetStringInfo(&state->converted);
	enlargeStringInfo(&state->converted,
					  (int) Min((Size) len * MAX_CONVERSION_GROWTH + 1,
								MaxAllocSize - 1));
	done = pg_do_encoding_conversion_buf(state->utf8_to_server_proc,
										 PG_UTF8, state->server_encoding,
										 (unsigned char *) text, len,
										 (unsigned char *) state->converted.data,
										 state->converted.maxlen, true);
	if (done < len)
		return kafka_decode_fail(state, ERRCODE_UNTRANSLATABLE_CHARACTER,
								 "a character has no equivalent in the database encoding \"%s\"",
								 GetDatabaseEncodingName());
	state->converted.len = strlen(state->converted.data);
	*converted = state->converted.data;
	*converted_length = state->converted.len;
	return true;
}

/*
 * Payload text (UTF-8) to quote in a message: in the server encoding, with
 * characters it lacks shown as '?', and cut after about 200 bytes so that a
 * huge bad value does not make a huge error.
 */
char *
kafka_payload_text_for_message(KafkaConvertState *state, const char *text,
							   int len)
{
	const int	limit = 200;
	bool		cut = false;
	StringInfoData message;

	if (len > limit)
	{
		len = pg_encoding_mbcliplen(PG_UTF8, text, len, limit);
		cut = true;
	}
	initStringInfo(&message);
	if (!OidIsValid(state->utf8_to_server_proc))
		appendBinaryStringInfo(&message, text, len);
	else
	{
		enlargeStringInfo(&message, len * MAX_CONVERSION_GROWTH + 1);
		if (pg_do_encoding_conversion_buf(state->utf8_to_server_proc,
										  PG_UTF8, state->server_encoding,
										  (unsigned char *) text, len,
										  (unsigned char *) message.data,
										  message.maxlen, true) == len)
			message.len = strlen(message.data);
		else
		{
			for (int i = 0; i < len; i++)
			{
				if (IS_HIGHBIT_SET(text[i]))
				{
					/* one '?' per character, not per byte */
					if ((text[i] & 0xC0) != 0x80)
						appendStringInfoChar(&message, '?');
				}
				else
					appendStringInfoChar(&message, text[i]);
			}
		}
	}
	if (cut)
		appendStringInfoString(&message, "...");
	return message.data;
}

/* Appends text of the server encoding to out as UTF-8. */
void
kafka_append_server_text_as_utf8(StringInfo out, const char *text, int len)
{
	int			server_encoding = GetDatabaseEncoding();
	char	   *utf8;

	if (server_encoding == PG_UTF8 || server_encoding == PG_SQL_ASCII)
	{
		appendBinaryStringInfo(out, text, len);
		return;
	}
	utf8 = pg_server_to_any(text, len, PG_UTF8);
	if (utf8 == text)
		appendBinaryStringInfo(out, text, len);
	else
	{
		appendBinaryStringInfo(out, utf8, strlen(utf8));
		pfree(utf8);
	}
}

/*
 * A JSON string of UTF-8 text (len bytes), for the renderers of decoded
 * values (kafka.avro_to_json, kafka.from_protobuf): quotes, backslashes and
 * control characters escaped, everything else as it is.
 */
void
kafka_append_json_string(StringInfo out, const char *text, int len)
{
	appendStringInfoChar(out, '"');
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) text[i];

		switch (c)
		{
			case '"':
				appendBinaryStringInfo(out, "\\\"", 2);
				break;
			case '\\':
				appendBinaryStringInfo(out, "\\\\", 2);
				break;
			case '\n':
				appendBinaryStringInfo(out, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(out, "\\r", 2);
				break;
			case '\t':
				appendBinaryStringInfo(out, "\\t", 2);
				break;
			default:
				if (c < 0x20)
					appendStringInfo(out, "\\u%04x", c);
				else
					appendStringInfoChar(out, (char) c);
		}
	}
	appendStringInfoChar(out, '"');
}
