/*-------------------------------------------------------------------------
 *
 * offset_spec.c
 *	  Parse and resolve Spark-style offset specifications.
 *
 *-------------------------------------------------------------------------
 */
#include "common/offset_spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
parse_partition_number(const char *key, int32_t *partition)
{
	char	   *end;
	long		v;

	if (*key == '\0' || *key == '-' || *key == '+')
		return false;
	errno = 0;
	v = strtol(key, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > INT32_MAX)
		return false;
	*partition = (int32_t) v;
	return true;
}

static bool
add_entry(KafkaOffsetSpec *out, size_t *capacity, const char *topic,
		  int32_t partition, int64_t value)
{
	if (out->count == *capacity)
	{
		size_t		newcap = *capacity ? *capacity * 2 : 8;
		KafkaOffsetSpecEntry *n = realloc(out->entries, newcap * sizeof(*n));

		if (n == NULL)
			return false;
		out->entries = n;
		*capacity = newcap;
	}
	out->entries[out->count].topic = strdup(topic);
	if (out->entries[out->count].topic == NULL)
		return false;
	out->entries[out->count].partition = partition;
	out->entries[out->count].value = value;
	out->count++;
	return true;
}

static int
compare_partitions(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/*
 * Are the partitions of one topic, entries [first, count), all different?
 * Sorted rather than searched entry by entry, so that a long list (the
 * text may come from anywhere) costs n log n, not n squared.
 */
static bool
check_unique_partitions(const KafkaOffsetSpec *spec, size_t first,
						const char *topic, char *errbuf, size_t errlen)
{
	size_t		n = spec->count - first;
	int32_t    *sorted;
	bool		unique = true;

	if (n < 2)
		return true;
	sorted = malloc(n * sizeof(int32_t));
	if (sorted == NULL)
	{
		snprintf(errbuf, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = spec->entries[first + i].partition;
	qsort(sorted, n, sizeof(int32_t), compare_partitions);
	for (size_t i = 1; i < n && unique; i++)
	{
		if (sorted[i] == sorted[i - 1])
		{
			snprintf(errbuf, errlen, "partition %d of topic \"%.200s\" is listed twice",
					 (int) sorted[i], topic);
			unique = false;
		}
	}
	free(sorted);
	return unique;
}

static json_t *
load_object(const char *text, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t	   *root = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &jerr);

	if (root == NULL)
	{
		snprintf(errbuf, errlen, "invalid JSON at character %d: %s",
				 jerr.position, jerr.text);
		return NULL;
	}
	if (!json_is_object(root))
	{
		snprintf(errbuf, errlen, "expected a JSON object keyed by topic name");
		json_decref(root);
		return NULL;
	}
	if (json_object_size(root) == 0)
	{
		snprintf(errbuf, errlen, "the JSON object names no topic");
		json_decref(root);
		return NULL;
	}
	return root;
}

static bool parse_spec(const char *text, bool keywords, bool timestamps,
					   KafkaTimestampParser parse_timestamp,
					   KafkaOffsetSpec *out, char *errbuf, size_t errlen);

bool
kafka_parse_offset_spec(const char *text, bool keywords, bool timestamps,
						KafkaOffsetSpec *out, char *errbuf, size_t errlen)
{
	return parse_spec(text, keywords, timestamps, NULL, out, errbuf, errlen);
}

bool
kafka_parse_timestamp_spec(const char *text, KafkaTimestampParser parse_timestamp,
						   KafkaOffsetSpec *out, char *errbuf, size_t errlen)
{
	return parse_spec(text, false, true, parse_timestamp, out, errbuf, errlen);
}

static bool
parse_spec(const char *text, bool keywords, bool timestamps,
		   KafkaTimestampParser parse_timestamp,
		   KafkaOffsetSpec *out, char *errbuf, size_t errlen)
{
	json_t	   *root;
	const char *topic;
	json_t	   *partitions;
	size_t		capacity = 0;

	memset(out, 0, sizeof(*out));
	if (keywords && strcmp(text, "earliest") == 0)
	{
		out->kind = KAFKA_SPEC_EARLIEST;
		return true;
	}
	if (keywords && strcmp(text, "latest") == 0)
	{
		out->kind = KAFKA_SPEC_LATEST;
		return true;
	}
	out->kind = KAFKA_SPEC_PER_PARTITION;

	root = load_object(text, errbuf, errlen);
	if (root == NULL)
	{
		if (keywords && text[0] != '{')
			snprintf(errbuf, errlen, "expected \"earliest\", \"latest\" or a JSON object");
		return false;
	}

	json_object_foreach(root, topic, partitions)
	{
		const char *pkey;
		json_t	   *pvalue;

		if (topic[0] == '\0')
		{
			snprintf(errbuf, errlen, "empty topic name");
			goto fail;
		}
		if (!json_is_object(partitions))
		{
			snprintf(errbuf, errlen, "the value for topic \"%.200s\" must be an object of partition: %s",
					 topic, timestamps ? "timestamp" : "offset");
			goto fail;
		}
		json_object_foreach(partitions, pkey, pvalue)
		{
			int32_t		partition;
			json_int_t	v;

			if (!parse_partition_number(pkey, &partition))
			{
				snprintf(errbuf, errlen, "invalid partition \"%.40s\" for topic \"%.200s\"", pkey, topic);
				goto fail;
			}
			if (parse_timestamp != NULL && json_is_string(pvalue))
			{
				int64_t		ms;
				char		why[200];

				why[0] = '\0';
				if (!parse_timestamp(json_string_value(pvalue), &ms, why, sizeof(why)))
				{
					snprintf(errbuf, errlen, "the timestamp for %.200s[%d]: %s",
							 topic, partition, why);
					goto fail;
				}
				v = ms;
			}
			else if (!json_is_integer(pvalue))
			{
				snprintf(errbuf, errlen, "the %s for %.200s[%d] must be %s",
						 timestamps ? "timestamp" : "offset", topic, partition,
						 parse_timestamp != NULL ?
						 "an integer (milliseconds since 1970) or a string (a timestamp)" :
						 "an integer");
				goto fail;
			}
			else
				v = json_integer_value(pvalue);
			if (timestamps ? v < 0 : v < -2)
			{
				snprintf(errbuf, errlen, "invalid %s %lld for %.200s[%d]%s",
						 timestamps ? "timestamp" : "offset", (long long) v, topic, partition,
						 timestamps ? "" : " (use -2 for earliest, -1 for latest)");
				goto fail;
			}
			if (!add_entry(out, &capacity, topic, partition, v))
			{
				snprintf(errbuf, errlen, "out of memory");
				goto fail;
			}
		}
	}
	json_decref(root);
	return true;

fail:
	json_decref(root);
	kafka_offset_spec_free(out);
	return false;
}

bool
kafka_parse_assign_spec(const char *text, KafkaOffsetSpec *out,
						char *errbuf, size_t errlen)
{
	json_t	   *root;
	const char *topic;
	json_t	   *partitions;
	size_t		capacity = 0;

	memset(out, 0, sizeof(*out));
	out->kind = KAFKA_SPEC_PER_PARTITION;
	root = load_object(text, errbuf, errlen);
	if (root == NULL)
		return false;

	json_object_foreach(root, topic, partitions)
	{
		size_t		i;
		json_t	   *p;
		size_t		first = out->count;

		if (topic[0] == '\0')
		{
			snprintf(errbuf, errlen, "empty topic name");
			goto fail;
		}
		if (!json_is_array(partitions) || json_array_size(partitions) == 0)
		{
			snprintf(errbuf, errlen, "the value for topic \"%.200s\" must be a non-empty array of partition numbers", topic);
			goto fail;
		}
		json_array_foreach(partitions, i, p)
		{
			json_int_t	v;

			if (!json_is_integer(p) || (v = json_integer_value(p)) < 0 || v > INT32_MAX)
			{
				snprintf(errbuf, errlen, "invalid partition number in the array for topic \"%.200s\"", topic);
				goto fail;
			}
			if (!add_entry(out, &capacity, topic, (int32_t) v, 0))
			{
				snprintf(errbuf, errlen, "out of memory");
				goto fail;
			}
		}
		if (!check_unique_partitions(out, first, topic, errbuf, errlen))
			goto fail;
	}
	json_decref(root);
	return true;

fail:
	json_decref(root);
	kafka_offset_spec_free(out);
	return false;
}

void
kafka_offset_spec_free(KafkaOffsetSpec *spec)
{
	size_t		i;

	for (i = 0; i < spec->count; i++)
		free(spec->entries[i].topic);
	free(spec->entries);
	spec->entries = NULL;
	spec->count = 0;
}

const KafkaOffsetSpecEntry *
kafka_offset_spec_find(const KafkaOffsetSpec *spec, const char *topic,
					   int32_t partition)
{
	size_t		i;

	for (i = 0; i < spec->count; i++)
		if (spec->entries[i].partition == partition &&
			strcmp(spec->entries[i].topic, topic) == 0)
			return &spec->entries[i];
	return NULL;
}

int64_t
kafka_resolve_start_offset(int64_t requested, int64_t low, int64_t high,
						   bool *data_loss)
{
	*data_loss = false;
	if (requested == KAFKA_OFFSET_EARLIEST)
		return low;
	if (requested == KAFKA_OFFSET_LATEST)
		return high;
	if (requested < low)
	{
		*data_loss = true;
		return low;
	}
	return requested;
}

int64_t
kafka_resolve_end_offset(int64_t requested, int64_t low, int64_t high)
{
	if (requested == KAFKA_OFFSET_LATEST)
		return high;
	if (requested == KAFKA_OFFSET_EARLIEST)
		return low;
	if (requested > high)
		return high;
	return requested;
}

int64_t
kafka_resolve_timestamp_offset(int64_t found, int64_t low, int64_t high)
{
	if (found < 0)
		return high;
	if (found < low)
		return low;
	if (found > high)
		return high;
	return found;
}
