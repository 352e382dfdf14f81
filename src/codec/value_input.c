/*-------------------------------------------------------------------------
 *
 * value_input.c
 *	  Typed values from payload text, without throwing on bad data.
 *
 * PostgreSQL 15 input functions report bad input by throwing, and catching
 * that costs a subtransaction per value.  So the common column types are
 * parsed here by code that checks its input first and only then builds the
 * value (sometimes with a PostgreSQL function that can no longer fail on
 * checked input).  Text this code does not recognise goes to the type's
 * input function: inside a subtransaction, or directly when the decoder may
 * throw.  The fast paths accept a subset of what the input functions accept
 * and build the same values; when they are unsure they defer to the input
 * function rather than guess.
 *
 * IDENTIFICATION
 *	  src/codec/value_input.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "codec/codec_internal.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

/* Above these sizes numeric_in might report overflow: let it decide. */
#define SAFE_NUMERIC_DIGITS 1000
#define SAFE_NUMERIC_EXPONENT 500

/* An ISO 8601 date or date-time, as found in the text. */
typedef struct IsoDateTime
{
	int			year;
	int			month;
	int			day;
	bool		has_time;
	int			hour;
	int			minute;
	int			second;
	int			microsecond;
	bool		has_offset;
	int			offset_seconds; /* east of UTC */
} IsoDateTime;

void
kafka_value_input_init(KafkaValueInput *input, Oid typid, int32 typmod,
					   MemoryContext mcxt)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(mcxt);
	Oid			input_function_oid;
	char		typtype = get_typtype(typid);

	memset(input, 0, sizeof(KafkaValueInput));
	input->typid = typid;
	input->typmod = typmod;
	input->type_name = format_type_be(typid);
	getTypeInputInfo(typid, &input_function_oid, &input->typioparam);
	fmgr_info_cxt(input_function_oid, &input->input_function, mcxt);

	switch (typid)
	{
		case INT2OID:
			input->kind = KAFKA_VALUE_INT2;
			break;
		case INT4OID:
			input->kind = KAFKA_VALUE_INT4;
			break;
		case INT8OID:
			input->kind = KAFKA_VALUE_INT8;
			break;
		case FLOAT4OID:
			input->kind = KAFKA_VALUE_FLOAT4;
			break;
		case FLOAT8OID:
			input->kind = KAFKA_VALUE_FLOAT8;
			break;
		case NUMERICOID:
			input->kind = KAFKA_VALUE_NUMERIC;
			break;
		case BOOLOID:
			input->kind = KAFKA_VALUE_BOOL;
			break;
		case TEXTOID:
			input->kind = KAFKA_VALUE_TEXT;
			break;
		case VARCHAROID:
		case BPCHAROID:
			input->kind = typmod >= (int32) VARHDRSZ ?
				KAFKA_VALUE_BOUNDED_TEXT : KAFKA_VALUE_TEXT;
			break;
		case NAMEOID:
		case CHAROID:
			input->kind = KAFKA_VALUE_TOTAL_INPUT;
			break;
		case UUIDOID:
			input->kind = KAFKA_VALUE_UUID;
			break;
		case DATEOID:
			input->kind = KAFKA_VALUE_DATE;
			break;
		case TIMESTAMPOID:
			input->kind = KAFKA_VALUE_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			input->kind = KAFKA_VALUE_TIMESTAMPTZ;
			break;
		case JSONOID:
			input->kind = KAFKA_VALUE_JSON;
			break;
		case JSONBOID:
			input->kind = KAFKA_VALUE_JSONB;
			break;
		default:
			{
				Oid			element_type = InvalidOid;

				/* A domain over an array must have its constraints checked. */
				if (typtype != TYPTYPE_DOMAIN)
					element_type = get_element_type(typid);

				if (OidIsValid(element_type))
				{
					input->kind = KAFKA_VALUE_ARRAY;
					input->element = palloc(sizeof(KafkaValueInput));
					kafka_value_input_init(input->element, element_type,
										   typmod, mcxt);
					get_typlenbyvalalign(element_type,
										 &input->element_length,
										 &input->element_byval,
										 &input->element_align);
				}
				else if (typtype == TYPTYPE_COMPOSITE ||
						 (typid == RECORDOID && typmod >= 0))
				{
					input->kind = KAFKA_VALUE_COMPOSITE;
					input->composite_desc =
						lookup_rowtype_tupdesc_copy(typid, typmod);
				}
				else
					input->kind = KAFKA_VALUE_GENERIC;
			}
			break;
	}
	MemoryContextSwitchTo(oldcontext);
}

/* NUL-terminated copy of text in a reused buffer. */
static char *
scratch_cstring(KafkaConvertState *state, const char *text, int len)
{
	resetStringInfo(&state->cstring);
	appendBinaryStringInfo(&state->cstring, text, len);
	return state->cstring.data;
}

static inline bool
is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

static inline bool
is_ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Is this error about the data (so it belongs to the row) rather than about
 * the session (cancel, out of memory, internal errors), which must go on?
 */
static bool
is_data_error(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/*
 * Calls the input function inside a subtransaction, turning a data error
 * into a recorded failure.  This is the PL/pgSQL exception block pattern:
 * the result is allocated in the caller's memory context so it survives the
 * subtransaction.
 */
static bool
call_input_in_subtransaction(KafkaConvertState *state, KafkaValueInput *input,
							 char *cstring, Datum *result)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);

	PG_TRY();
	{
		*result = InputFunctionCall(&input->input_function, cstring,
									input->typioparam, input->typmod);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;

		if (!is_data_error(edata->sqlerrcode))
			ReThrowError(edata);
		/* the message alone may be vague ("numeric field overflow") */
		if (edata->detail != NULL)
			state->error = psprintf("%s: %s", edata->message, edata->detail);
		else
			state->error = edata->message;
		state->error_code = edata->sqlerrcode;
	}
	PG_END_TRY();

	return ok;
}

/*
 * Calls the input function where a failure may end the transaction (the
 * caller allowed it, or parallel mode forbids subtransactions).  A data error
 * is caught only to be thrown again by kafka_decoder_decode once the decoder
 * has unwound and the message names the field and column; the code in
 * between only formats that message, so no state is used after the error.
 */
static bool
call_input_then_rethrow(KafkaConvertState *state, KafkaValueInput *input,
						char *cstring, Datum *result)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile bool ok = true;

	state->context_in_message = true;
	PG_TRY();
	{
		*result = InputFunctionCall(&input->input_function, cstring,
									input->typioparam, input->typmod);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		state->context_in_message = false;
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		if (!is_data_error(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		state->pending_error = edata;
		state->error = edata->message;
		state->error_code = edata->sqlerrcode;
		ok = false;
	}
	PG_END_TRY();
	state->context_in_message = false;

	return ok;
}

/* The slow path for every type: the type's own input function. */
bool
kafka_value_call_input(KafkaConvertState *state, KafkaValueInput *input,
					   const char *text, int len, Datum *result)
{
	const char *converted;
	int			converted_length;
	char	   *cstring;

	if (memchr(text, '\0', len) != NULL)
		return kafka_decode_fail(state, ERRCODE_UNTRANSLATABLE_CHARACTER,
								 "\\u0000 cannot be converted to text");
	if (!kafka_utf8_to_server(state, text, len, &converted, &converted_length))
		return false;
	cstring = scratch_cstring(state, converted, converted_length);

	if (state->allow_throw || IsInParallelMode())
		return call_input_then_rethrow(state, input, cstring, result);
	return call_input_in_subtransaction(state, input, cstring, result);
}

/*
 * Scans a JSON number at start.  Returns its length, or 0 if start does not
 * begin with a number in JSON syntax.
 */
int
kafka_scan_json_number(const char *start, const char *end,
					   KafkaJsonNumber *number)
{
	const char *p = start;

	memset(number, 0, sizeof(KafkaJsonNumber));
	if (p < end && *p == '-')
	{
		number->negative = true;
		p++;
	}
	if (p >= end || !is_ascii_digit(*p))
		return 0;
	if (*p == '0')
	{
		number->integer_digits = 1;
		p++;
	}
	else
	{
		while (p < end && is_ascii_digit(*p))
		{
			number->integer_digits++;
			p++;
		}
		number->significant_integer_digits = number->integer_digits;
	}
	if (p < end && *p == '.')
	{
		p++;
		number->has_fraction = true;
		while (p < end && is_ascii_digit(*p))
		{
			number->fraction_digits++;
			p++;
		}
		if (number->fraction_digits == 0)
			return 0;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		negative_exponent = false;
		int			exponent_digits = 0;

		p++;
		number->has_exponent = true;
		if (p < end && (*p == '+' || *p == '-'))
		{
			negative_exponent = (*p == '-');
			p++;
		}
		while (p < end && is_ascii_digit(*p))
		{
			if (number->exponent < 1000000)
				number->exponent = number->exponent * 10 + (*p - '0');
			exponent_digits++;
			p++;
		}
		if (exponent_digits == 0)
			return 0;
		if (negative_exponent)
			number->exponent = -number->exponent;
	}
	return (int) (p - start);
}

/* int2, int4, int8: the grammar of PostgreSQL 15's pg_strtoint*. */
static bool
integer_from_text(KafkaConvertState *state, KafkaValueInput *input,
				  const char *text, int len, Datum *result)
{
	const char *p = text;
	const char *end = text + len;
	bool		negative = false;
	uint64		magnitude = 0;
	uint64		limit;
	const char *digits;

	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
			limit = PG_INT16_MAX;
			break;
		case KAFKA_VALUE_INT4:
			limit = PG_INT32_MAX;
			break;
		default:
			limit = PG_INT64_MAX;
			break;
	}

	while (p < end && is_ascii_space(*p))
		p++;
	if (p < end && (*p == '-' || *p == '+'))
	{
		negative = (*p == '-');
		p++;
	}
	if (negative)
		limit++;				/* one more on the negative side */

	digits = p;
	while (p < end && is_ascii_digit(*p))
	{
		unsigned	digit = *p - '0';

		if (magnitude > (limit - digit) / 10)
			return kafka_decode_fail(state, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									 "value \"%s\" is out of range for type %s",
									 kafka_payload_text_for_message(state, text, len),
									 input->type_name);
		magnitude = magnitude * 10 + digit;
		p++;
	}
	if (p == digits)
		goto syntax_error;
	while (p < end && is_ascii_space(*p))
		p++;
	if (p != end)
		goto syntax_error;

	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
			*result = Int16GetDatum(negative ? -(int64) magnitude : (int64) magnitude);
			break;
		case KAFKA_VALUE_INT4:
			*result = Int32GetDatum(negative ? -(int64) magnitude : (int64) magnitude);
			break;
		default:
			/* -magnitude computed unsigned so that INT64_MIN does not overflow */
			*result = Int64GetDatum(negative ? (int64) (0 - magnitude) : (int64) magnitude);
			break;
	}
	return true;

syntax_error:
	return kafka_decode_fail(state, ERRCODE_INVALID_TEXT_REPRESENTATION,
							 "invalid input syntax for type %s: \"%s\"",
							 input->type_name,
							 kafka_payload_text_for_message(state, text, len));
}

static bool
float_from_number(KafkaConvertState *state, KafkaValueInput *input,
				  const char *text, int len, Datum *result)
{
	char	   *cstring = scratch_cstring(state, text, len);

	if (input->kind == KAFKA_VALUE_FLOAT8)
	{
		bool		have_error = false;
		float8		value;

		value = float8in_internal_opt_error(cstring, NULL, "double precision",
											cstring, &have_error);
		if (!have_error)
		{
			*result = Float8GetDatum(value);
			return true;
		}
	}
	else
	{
		char	   *endptr;
		float4		value;

		/* float4in's own rules: strtof, and only true overflow is an error */
		errno = 0;
		value = strtof(cstring, &endptr);
		if (endptr == cstring + len &&
			!(errno == ERANGE && (value == 0.0 || isinf(value))))
		{
			*result = Float4GetDatum(value);
			return true;
		}
	}
	/* out of range: let float*in word the error */
	return kafka_value_call_input(state, input, text, len, result);
}

static void
numeric_typmod_limits(int32 typmod, int *precision, int *scale)
{
	int32		packed = typmod - VARHDRSZ;

	*precision = (packed >> 16) & 0xffff;
	*scale = (((packed & 0x7ff) ^ 1024) - 1024);
}

static bool
numeric_from_number(KafkaConvertState *state, KafkaValueInput *input,
					const char *text, int len, const KafkaJsonNumber *number,
					Datum *result)
{
	int			digits = number->integer_digits + number->fraction_digits;
	Numeric		value;

	if (!number->has_exponent && digits <= 18)
	{
		int64		scaled = 0;

		/* the decimal digits as one integer, then scaled: no text parsing */
		for (const char *p = text; p < text + len; p++)
		{
			if (is_ascii_digit(*p))
				scaled = scaled * 10 + (*p - '0');
		}
		if (number->negative)
			scaled = -scaled;
		if (number->fraction_digits == 0)
			value = int64_to_numeric(scaled);
		else
			value = int64_div_fast_to_numeric(scaled, number->fraction_digits);
	}
	else if (number->integer_digits <= SAFE_NUMERIC_DIGITS &&
			 number->fraction_digits <= SAFE_NUMERIC_DIGITS &&
			 number->exponent >= -SAFE_NUMERIC_EXPONENT &&
			 number->exponent <= SAFE_NUMERIC_EXPONENT)
	{
		value = DatumGetNumeric(DirectFunctionCall3(numeric_in,
													CStringGetDatum(scratch_cstring(state, text, len)),
													ObjectIdGetDatum(InvalidOid),
													Int32GetDatum(-1)));
	}
	else
		return kafka_value_call_input(state, input, text, len, result);

	if (input->typmod >= (int32) VARHDRSZ)
	{
		int			precision;
		int			scale;

		/*
		 * Rounding to the scale adds at most one integer digit, so a value
		 * with fewer integer digits than allowed always fits; anything closer
		 * to the limit is left to numeric_in and its exact overflow error.
		 */
		numeric_typmod_limits(input->typmod, &precision, &scale);
		if (number->has_exponent ||
			number->significant_integer_digits >= precision - scale)
			return kafka_value_call_input(state, input, text, len, result);
		*result = DirectFunctionCall2(numeric, NumericGetDatum(value),
									  Int32GetDatum(input->typmod));
		return true;
	}
	*result = NumericGetDatum(value);
	return true;
}

/*
 * From a JSON number token (syntax already checked and described by number).
 */
bool
kafka_value_from_number(KafkaConvertState *state, KafkaValueInput *input,
						const char *text, int len,
						const KafkaJsonNumber *number, Datum *result)
{
	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
		case KAFKA_VALUE_INT4:
		case KAFKA_VALUE_INT8:
			return integer_from_text(state, input, text, len, result);
		case KAFKA_VALUE_FLOAT4:
		case KAFKA_VALUE_FLOAT8:
			return float_from_number(state, input, text, len, result);
		case KAFKA_VALUE_NUMERIC:
			return numeric_from_number(state, input, text, len, number, result);
		default:
			return kafka_value_from_text(state, input, text, len,
										 KAFKA_TEXT_NUMBER, result);
	}
}

static bool
bool_from_text(KafkaConvertState *state, KafkaValueInput *input,
			   const char *text, int len, Datum *result)
{
	const char *start = text;
	const char *end = text + len;
	bool		value;

	/* boolin trims blanks, then parse_bool_with_len decides */
	while (start < end && is_ascii_space(*start))
		start++;
	while (end > start && is_ascii_space(end[-1]))
		end--;
	if (parse_bool_with_len(start, end - start, &value))
	{
		*result = BoolGetDatum(value);
		return true;
	}
	return kafka_decode_fail(state, ERRCODE_INVALID_TEXT_REPRESENTATION,
							 "invalid input syntax for type boolean: \"%s\"",
							 kafka_payload_text_for_message(state, text, len));
}

/* text, varchar, bpchar: UTF-8 payload text to a text datum. */
static bool
string_from_text(KafkaConvertState *state, KafkaValueInput *input,
				 const char *text, int len, Datum *result)
{
	const char *converted;
	int			converted_length;

	if (!kafka_utf8_to_server(state, text, len, &converted, &converted_length))
		return false;

	if (input->kind == KAFKA_VALUE_BOUNDED_TEXT)
	{
		int			max_chars = input->typmod - VARHDRSZ;
		int			chars = pg_mbstrlen_with_len(converted, converted_length);
		struct varlena *padded;

		/* too long: varchar/bpchar input decide (trailing blanks are cut) */
		if (chars > max_chars)
			return kafka_value_call_input(state, input, text, len, result);

		if (input->typid == BPCHAROID && chars < max_chars)
		{
			int			padding = max_chars - chars;

			padded = (struct varlena *) palloc(VARHDRSZ + converted_length + padding);
			SET_VARSIZE(padded, VARHDRSZ + converted_length + padding);
			memcpy(VARDATA(padded), converted, converted_length);
			memset(VARDATA(padded) + converted_length, ' ', padding);
			*result = PointerGetDatum(padded);
			return true;
		}
	}
	*result = PointerGetDatum(cstring_to_text_with_len(converted,
													   converted_length));
	return true;
}

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The canonical 8-4-4-4-12 form and 32 plain hex digits. */
static bool
parse_uuid(const char *text, int len, pg_uuid_t *uuid)
{
	bool		hyphenated;
	int			byte = 0;

	if (len == 36)
		hyphenated = true;
	else if (len == 32)
		hyphenated = false;
	else
		return false;

	for (int i = 0; i < len;)
	{
		int			high;
		int			low;

		if (hyphenated && (i == 8 || i == 13 || i == 18 || i == 23))
		{
			if (text[i] != '-')
				return false;
			i++;
			continue;
		}
		high = hex_digit_value(text[i]);
		low = hex_digit_value(text[i + 1]);
		if (high < 0 || low < 0)
			return false;
		uuid->data[byte++] = (unsigned char) (high << 4 | low);
		i += 2;
	}
	return byte == UUID_LEN;
}

static bool
parse_digits(const char **p, const char *end, int count, int *value)
{
	*value = 0;
	if (end - *p < count)
		return false;
	for (int i = 0; i < count; i++)
	{
		if (!is_ascii_digit((*p)[i]))
			return false;
		*value = *value * 10 + ((*p)[i] - '0');
	}
	*p += count;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && isleap(year))
		return 29;
	return days[month - 1];
}

/*
 * YYYY-MM-DD, optionally followed by T (or a blank) HH:MM[:SS[.ffffff]] and
 * Z or an offset +HH, +HHMM, +HH:MM.  Returns false for anything else and for
 * values out of range: the type's input function then has the last word.
 */
static bool
parse_iso_datetime(const char *text, int len, IsoDateTime *dt)
{
	const char *p = text;
	const char *end = text + len;

	memset(dt, 0, sizeof(IsoDateTime));
	if (!parse_digits(&p, end, 4, &dt->year) || p >= end || *p++ != '-' ||
		!parse_digits(&p, end, 2, &dt->month) || p >= end || *p++ != '-' ||
		!parse_digits(&p, end, 2, &dt->day))
		return false;
	if (dt->year < 1 || dt->month < 1 || dt->month > 12 || dt->day < 1 ||
		dt->day > days_in_month(dt->year, dt->month))
		return false;
	if (p == end)
		return true;

	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	dt->has_time = true;
	if (!parse_digits(&p, end, 2, &dt->hour) || p >= end || *p++ != ':' ||
		!parse_digits(&p, end, 2, &dt->minute))
		return false;
	if (p < end && *p == ':')
	{
		p++;
		if (!parse_digits(&p, end, 2, &dt->second))
			return false;
		if (p < end && *p == '.')
		{
			int			fraction_digits = 0;

			p++;
			while (p < end && is_ascii_digit(*p))
			{
				/* more than microseconds needs the input's rounding rules */
				if (++fraction_digits > 6)
					return false;
				dt->microsecond = dt->microsecond * 10 + (*p - '0');
				p++;
			}
			if (fraction_digits == 0)
				return false;
			for (; fraction_digits < 6; fraction_digits++)
				dt->microsecond *= 10;
		}
	}
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 59)
		return false;

	if (p < end && (*p == 'Z' || *p == 'z'))
	{
		p++;
		dt->has_offset = true;
	}
	else if (p < end && (*p == '+' || *p == '-'))
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			hours;
		int			minutes = 0;

		p++;
		if (!parse_digits(&p, end, 2, &hours))
			return false;
		if (p < end && *p == ':')
		{
			p++;
			if (!parse_digits(&p, end, 2, &minutes))
				return false;
		}
		else if (p < end && !parse_digits(&p, end, 2, &minutes))
			return false;
		if (hours > 15 || minutes > 59)
			return false;
		dt->has_offset = true;
		dt->offset_seconds = sign * (hours * SECS_PER_HOUR + minutes * SECS_PER_MINUTE);
	}
	return p == end;
}

static bool
datetime_from_text(KafkaConvertState *state, KafkaValueInput *input,
				   const char *text, int len, Datum *result)
{
	IsoDateTime dt;
	int			date;
	Timestamp	timestamp;

	if (!parse_iso_datetime(text, len, &dt))
		return kafka_value_call_input(state, input, text, len, result);

	/* like date_in and timestamp_in, a time or an offset is ignored here */
	date = date2j(dt.year, dt.month, dt.day) - POSTGRES_EPOCH_JDATE;
	if (input->kind == KAFKA_VALUE_DATE)
	{
		*result = DateADTGetDatum(date);
		return true;
	}

	timestamp = date * USECS_PER_DAY +
		((dt.hour * MINS_PER_HOUR + dt.minute) * SECS_PER_MINUTE + dt.second) *
		USECS_PER_SEC + dt.microsecond;

	if (input->kind == KAFKA_VALUE_TIMESTAMPTZ)
	{
		if (dt.has_offset)
			timestamp -= (int64) dt.offset_seconds * USECS_PER_SEC;
		else
		{
			struct pg_tm tm;

			/* no offset: the session time zone, as timestamptz_in does */
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = dt.year;
			tm.tm_mon = dt.month;
			tm.tm_mday = dt.day;
			tm.tm_hour = dt.hour;
			tm.tm_min = dt.minute;
			tm.tm_sec = dt.second;
			timestamp += (int64) DetermineTimeZoneOffset(&tm, session_timezone) *
				USECS_PER_SEC;
		}
	}
	if (input->typmod >= 0)
		AdjustTimestampForTypmod(&timestamp, input->typmod);
	*result = TimestampGetDatum(timestamp);
	return true;
}

/*
 * From text in the payload (UTF-8, not NUL-terminated, without NUL
 * characters): a JSON string's content, a JSON literal or number, or a whole
 * text payload.
 */
bool
kafka_value_from_text(KafkaConvertState *state, KafkaValueInput *input,
					  const char *text, int len, KafkaTextOrigin origin,
					  Datum *result)
{
	switch (input->kind)
	{
		case KAFKA_VALUE_INT2:
		case KAFKA_VALUE_INT4:
		case KAFKA_VALUE_INT8:
			return integer_from_text(state, input, text, len, result);

		case KAFKA_VALUE_FLOAT4:
		case KAFKA_VALUE_FLOAT8:
		case KAFKA_VALUE_NUMERIC:
			{
				KafkaJsonNumber number;

				/* "12.5" in a string is fine; NaN and the like take the slow path */
				if (origin != KAFKA_TEXT_LITERAL && len > 0 &&
					kafka_scan_json_number(text, text + len, &number) == len)
				{
					if (input->kind == KAFKA_VALUE_NUMERIC)
						return numeric_from_number(state, input, text, len,
												   &number, result);
					return float_from_number(state, input, text, len, result);
				}
				return kafka_value_call_input(state, input, text, len, result);
			}

		case KAFKA_VALUE_BOOL:
			if (origin == KAFKA_TEXT_LITERAL)
			{
				*result = BoolGetDatum(text[0] == 't');
				return true;
			}
			return bool_from_text(state, input, text, len, result);

		case KAFKA_VALUE_TEXT:
		case KAFKA_VALUE_BOUNDED_TEXT:
			return string_from_text(state, input, text, len, result);

		case KAFKA_VALUE_UUID:
			{
				pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

				if (origin == KAFKA_TEXT_STRING && parse_uuid(text, len, uuid))
				{
					*result = UUIDPGetDatum(uuid);
					return true;
				}
				pfree(uuid);
				return kafka_value_call_input(state, input, text, len, result);
			}

		case KAFKA_VALUE_DATE:
		case KAFKA_VALUE_TIMESTAMP:
		case KAFKA_VALUE_TIMESTAMPTZ:
			if (origin == KAFKA_TEXT_STRING)
				return datetime_from_text(state, input, text, len, result);
			return kafka_value_call_input(state, input, text, len, result);

		case KAFKA_VALUE_TOTAL_INPUT:
			{
				const char *converted;
				int			converted_length;

				if (!kafka_utf8_to_server(state, text, len, &converted,
										  &converted_length))
					return false;
				*result = InputFunctionCall(&input->input_function,
											scratch_cstring(state, converted,
															converted_length),
											input->typioparam, input->typmod);
				return true;
			}

		case KAFKA_VALUE_JSON:
		case KAFKA_VALUE_JSONB:
		case KAFKA_VALUE_ARRAY:
		case KAFKA_VALUE_COMPOSITE:
		case KAFKA_VALUE_GENERIC:
			break;
	}
	return kafka_value_call_input(state, input, text, len, result);
}
