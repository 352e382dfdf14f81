/*-------------------------------------------------------------------------
 *
 * scd2.c
 *	  Keyed streaming tables stored as SCD type 2: each key's history as
 *	  versions [__start_at, __end_at) of its rows, the current one with
 *	  __end_at NULL.
 *
 * A key's history is defined as the replay of all its changes sorted by
 * (sequence, Kafka position): an UPSERT at s whose tracked columns equal
 * the current version's updates that version's other columns in place,
 * otherwise it closes the current version at s and opens [s, NULL); a
 * DELETE at s closes the current version; a change at a sequence where a
 * version already starts is ignored.  So that out-of-order arrival gives
 * exactly that history, a batch rebuilds each touched key's events from
 * what is stored -- its versions (a version [a, b) is an UPSERT at a, and
 * a DELETE at b unless the next version starts at b), its remembered
 * deletes (kafka.stream_tombstones: every delete is remembered) and its
 * remembered absorbed upserts (an UPSERT at s with the values of the
 * version holding s, see ABSORBED_MARK; a stored version a late change
 * absorbs becomes one) -- merges
 * the batch's changes, replays, and writes the difference: versions whose
 * end or values changed are updated, new ones inserted, vanished ones
 * deleted.  Written columns must have the input's types, so stored and
 * incoming values compare directly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "stream/keyed.h"

/* The extra key element of an absorbed upsert's row in stream_tombstones. */
#define ABSORBED_MARK "absorbed upsert"

typedef struct Scd2State
{
	TupleDesc	versions;		/* written input columns, __start_at, __end_at */
	int			ninput;
	int		   *target_of;		/* per input column: target attribute or -1 */
	int			start_target;	/* target attributes (0-based) */
	int			end_target;
	bool	   *tracked;		/* per input column */
	FmgrInfo   *equal;			/* per input column (fn_oid 0: binary) */
	Oid		   *collations;
} Scd2State;

/* An event of a key's history. */
typedef struct Scd2Event
{
	StreamChangeKind kind;
	Datum		sequence;
	int			origin;			/* 0: stored (already applied), 1: the batch */
	int64		ordinal;
	Datum	   *values;			/* input-shaped, for UPSERT */
	bool	   *nulls;
	bool	   *keep;			/* or NULL */
	KeyedChange *change;		/* of the batch, or NULL */
} Scd2Event;

/* A version of a key, stored or replayed. */
typedef struct Scd2Version
{
	Datum		start;
	Datum		end;
	bool		end_null;
	Datum	   *values;
	bool	   *nulls;
	ItemPointerData tid;		/* stored */
	bool		matched;
	KeyedChange *change;		/* that opened it, for coordinates */
} Scd2Version;

void
stream_scd2_begin(KeyedTarget *keyed, TupleDesc written)
{
	StreamDef  *def = keyed->base.def;
	Relation	rel = keyed->base.rel;
	TupleDesc	desc = RelationGetDescr(rel);
	Scd2State  *state = palloc0(sizeof(Scd2State));
	Form_pg_attribute seq = TupleDescAttr(keyed->base.input, keyed->sequence_input);
	int			n = written->natts;
	int		   *map;
	int			i;
	int			j;

	state->ninput = n;
	state->versions = CreateTemplateTupleDesc(n + 2);
	for (j = 0; j < n; j++)
		TupleDescCopyEntry(state->versions, j + 1, written, j + 1);
	TupleDescInitEntry(state->versions, n + 1, "__start_at", seq->atttypid, seq->atttypmod, 0);
	TupleDescInitEntry(state->versions, n + 2, "__end_at", seq->atttypid, seq->atttypmod, 0);
	map = stream_sink_map_columns(rel, state->versions, keyed->base.input_name);
	state->target_of = palloc(sizeof(int) * Max(n, 1));
	state->tracked = palloc0(sizeof(bool) * Max(n, 1));
	state->equal = palloc0(sizeof(FmgrInfo) * Max(n, 1));
	state->collations = palloc0(sizeof(Oid) * Max(n, 1));
	for (j = 0; j < n; j++)
		state->target_of[j] = -1;
	for (i = 0; i < desc->natts; i++)
	{
		if (map[i] < 0)
			continue;
		if (map[i] == n)
			state->start_target = i;
		else if (map[i] == n + 1)
			state->end_target = i;
		else
		{
			Form_pg_attribute in = TupleDescAttr(written, map[i]);

			if (in->atttypid != TupleDescAttr(desc, i)->atttypid)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of streaming table %s stored as SCD type 2 must have the type of its input, %s",
								NameStr(in->attname), def->target_name,
								format_type_be(in->atttypid)),
						 errhint("Give both columns the same type, or cast in the transform.")));
			state->target_of[map[i]] = i;
		}
	}
	for (j = 0; j < n; j++)
	{
		Form_pg_attribute in = TupleDescAttr(written, j);
		TypeCacheEntry *type;

		if (state->target_of[j] < 0)
			continue;
		if (def->track_history_columns == NIL)
			state->tracked[j] = true;
		else
		{
			ListCell   *lc;

			foreach(lc, def->track_history_columns)
				if (strcmp(lfirst(lc), NameStr(in->attname)) == 0)
					state->tracked[j] = true;
		}
		type = lookup_type_cache(in->atttypid, TYPECACHE_EQ_OPR_FINFO);
		if (OidIsValid(type->eq_opr))
			fmgr_info_copy(&state->equal[j], &type->eq_opr_finfo, CurrentMemoryContext);
		state->collations[j] = in->attcollation;
	}
	keyed->scd2_state = state;
	keyed->sink = stream_sink_begin(rel, state->versions, keyed->base.input_name);
	stream_sink_set_key_index(keyed->sink, keyed->index);
}

static bool
values_equal(Scd2State *state, int j, Datum a, bool anull, Datum b, bool bnull)
{
	Form_pg_attribute att = TupleDescAttr(state->versions, j);

	if (anull || bnull)
		return anull && bnull;
	if (OidIsValid(state->equal[j].fn_oid))
		return DatumGetBool(FunctionCall2Coll(&state->equal[j], state->collations[j], a, b));
	return datumIsEqual(a, b, att->attbyval, att->attlen);
}

static int
compare_events(const void *a, const void *b, void *arg)
{
	const Scd2Event *x = a;
	const Scd2Event *y = b;
	int			c = stream_keyed_compare_sequences((KeyedTarget *) arg, x->sequence, y->sequence);

	if (c != 0)
		return c;
	if (x->origin != y->origin)
		return x->origin - y->origin;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal ? 1 : 0;
}

/* Put a replayed version to the sink: as an insert, or an update of stored. */
static void
write_version(KeyedTarget *keyed, Scd2Version *version, TupleTableSlot *stored)
{
	Scd2State  *state = keyed->scd2_state;
	int			n = state->ninput;
	Datum	   *values = palloc(sizeof(Datum) * (n + 2));
	bool	   *nulls = palloc(sizeof(bool) * (n + 2));
	KeyedChange *change = version->change;

	memcpy(values, version->values, sizeof(Datum) * n);
	memcpy(nulls, version->nulls, sizeof(bool) * n);
	values[n] = version->start;
	nulls[n] = false;
	values[n + 1] = version->end;
	nulls[n + 1] = version->end_null;
	if (stored)
		stream_sink_put_update(keyed->sink, values, nulls, NULL, stored,
							   change ? change->topic : NULL,
							   change ? change->partition : 0,
							   change ? change->offset : 0);
	else
		stream_sink_put(keyed->sink, values, nulls,
						change ? change->topic : NULL,
						change ? change->partition : 0,
						change ? change->offset : 0);
	pfree(values);
	pfree(nulls);
}

void
stream_scd2_apply(KeyedTarget *keyed, KeyedChange **changes, uint32 nchanges,
				  Snapshot snapshot, TimestampTz live_after,
				  StreamTargetCounts *counts)
{
	StreamDef  *def = keyed->base.def;
	Relation	rel = keyed->base.rel;
	TupleDesc	desc = RelationGetDescr(rel);
	Scd2State  *state = keyed->scd2_state;
	int			n = state->ninput;
	MemoryContext keycxt = AllocSetContextCreate(CurrentMemoryContext, "kafka scd2 key",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	List	   *keys = NIL;
	List	  **tombstones = palloc0(sizeof(List *) * Max(nchanges, 1));
	List	  **marks = palloc0(sizeof(List *) * Max(nchanges, 1));
	List	   *new_mark_keys = NIL;
	List	   *new_mark_sequences = NIL;
	List	   *new_tombstone_keys = NIL;
	List	   *new_tombstone_sequences = NIL;
	Relation	index;
	IndexScanDesc scan;
	ScanKeyData *scankeys;
	TupleTableSlot *slot;
	TupleTableSlot **stored_slots = NULL;
	uint32		i;
	int			k;

	/*
	 * The remembered deletes and absorbed upserts of the batch's keys, in
	 * one statement.  An absorbed upsert (its tracked columns equal to the
	 * current version's: no new version) leaves no trace in the versions, yet
	 * a delete or a different change arriving later but sequenced before it
	 * makes it open a version: it is remembered next to the deletes, its key
	 * array carrying one more element, ABSORBED_MARK, which no key of the
	 * stream has (they all have the key columns' count).
	 */
	for (i = 0; i < nchanges; i++)
		keys = lappend(keys, stream_keyed_key_text(keyed, changes[i]));
	if (nchanges > 0)
	{
		Oid			types[4] = {OIDOID, TEXTARRAYOID, TIMESTAMPTZOID, INT4OID};
		Datum		values[4] = {ObjectIdGetDatum(def->target), stream_keyed_text_array(keys),
		TimestampTzGetDatum(live_after), Int32GetDatum(keyed->nkeys)};
		uint64		rows;
		uint64		r;

		rows = stream_catalog_exec("SELECT u.i, t.sequence, cardinality(t.key) > $4 "
								   "FROM unnest($2::text[]) WITH ORDINALITY AS u(k, i) "
								   "JOIN kafka.stream_tombstones t ON t.stream = $1 "
								   "AND (t.key = u.k::text[] OR t.key = u.k::text[] || '" ABSORBED_MARK "'::text) "
								   "WHERE t.deleted_at >= $3",
								   4, types, values, NULL, true);
		for (r = 0; r < rows; r++)
		{
			bool		isnull;
			int64		ordinal = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
															  SPI_tuptable->tupdesc, 1, &isnull));
			char	   *text = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);
			bool		absorbed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r],
															  SPI_tuptable->tupdesc, 3, &isnull));
			Datum	   *sequence;

			old = MemoryContextSwitchTo(keyed->cxt);
			sequence = palloc(sizeof(Datum));
			*sequence = OidInputFunctionCall(keyed->sequence_input_function, text,
											 keyed->sequence_ioparam, -1);
			if (absorbed)
				marks[ordinal - 1] = lappend(marks[ordinal - 1], sequence);
			else
				tombstones[ordinal - 1] = lappend(tombstones[ordinal - 1], sequence);
			MemoryContextSwitchTo(old);
		}
	}

	index = index_open(keyed->index, AccessShareLock);
	scankeys = palloc0(sizeof(ScanKeyData) * keyed->nkeys);
	scan = index_beginscan(rel, index, snapshot, keyed->nkeys, 0);
	slot = table_slot_create(rel, NULL);

	for (i = 0; i < nchanges; i++)
	{
		KeyedChange *head = changes[i];
		KeyedChange *c;
		Scd2Version *stored;
		Scd2Version *replayed;
		Scd2Event  *events;
		int			nstored = 0;
		int			nreplayed = 0;
		int			nevents = 0;
		int			capacity = 8;
		int			current = -1;
		int			e;
		int			v;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(keycxt);
		old = MemoryContextSwitchTo(keycxt);

		/* the stored versions of the key, by the index on keys + __start_at */
		stored = palloc(sizeof(Scd2Version) * capacity);
		stored_slots = palloc(sizeof(TupleTableSlot *) * capacity);
		for (k = 0; k < keyed->nkeys; k++)
		{
			KeyColumn  *key = &keyed->keys[k];

			ScanKeyEntryInitialize(&scankeys[k], 0, key->index_column + 1,
								   BTEqualStrategyNumber, key->scan_subtype,
								   index->rd_indcollation[key->index_column],
								   key->scan_procedure, head->values[key->input]);
		}
		/*
		 * The scan allocates what it keeps (e.g. btree's killed items) in
		 * the current context when it first needs it: not in the key's.
		 */
		MemoryContextSwitchTo(old);
		index_rescan(scan, scankeys, keyed->nkeys, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			Scd2Version *version;
			int			j;

			MemoryContextSwitchTo(keycxt);
			slot_getallattrs(slot);
			if (slot->tts_isnull[state->start_target])
			{
				MemoryContextSwitchTo(old);
				continue;
			}
			if (nstored == capacity)
			{
				capacity *= 2;
				stored = repalloc(stored, sizeof(Scd2Version) * capacity);
				stored_slots = repalloc(stored_slots, sizeof(TupleTableSlot *) * capacity);
			}
			version = &stored[nstored];
			version->values = palloc0(sizeof(Datum) * Max(n, 1));
			version->nulls = palloc(sizeof(bool) * Max(n, 1));
			for (j = 0; j < n; j++)
			{
				int			a = state->target_of[j];
				Form_pg_attribute att = TupleDescAttr(desc, Max(a, 0));

				version->nulls[j] = a < 0 || slot->tts_isnull[a];
				if (!version->nulls[j])
					version->values[j] = datumCopy(slot->tts_values[a], att->attbyval, att->attlen);
			}
			version->start = datumCopy(slot->tts_values[state->start_target],
									   keyed->sequence_byval, keyed->sequence_typlen);
			version->end_null = slot->tts_isnull[state->end_target];
			version->end = version->end_null ? (Datum) 0 :
				datumCopy(slot->tts_values[state->end_target],
						  keyed->sequence_byval, keyed->sequence_typlen);
			version->tid = slot->tts_tid;
			version->matched = false;
			version->change = NULL;
			/* kept for the update of this version */
			stored_slots[nstored] = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
			ExecStoreHeapTuple(ExecCopySlotHeapTuple(slot), stored_slots[nstored], true);
			stored_slots[nstored]->tts_tid = slot->tts_tid;
			nstored++;
			MemoryContextSwitchTo(old);
		}
		MemoryContextSwitchTo(keycxt);
		ExecClearTuple(slot);

		/* the events: stored versions, remembered deletes, the batch's changes */
		nevents = 0;
		for (c = head; c; c = c->next)
			nevents++;
		events = palloc(sizeof(Scd2Event) * (nevents + 2 * nstored + list_length(tombstones[i]) +
											 list_length(marks[i]) + 1));
		nevents = 0;
		for (v = 0; v < nstored; v++)
		{
			Scd2Event  *ev = &events[nevents++];
			int			next;

			ev->kind = STREAM_CHANGE_UPSERT;
			ev->sequence = stored[v].start;
			ev->origin = 0;
			ev->ordinal = v;
			ev->values = stored[v].values;
			ev->nulls = stored[v].nulls;
			ev->keep = NULL;
			ev->change = NULL;
			if (stored[v].end_null)
				continue;
			/* does another version start where this one ends? */
			for (next = 0; next < nstored; next++)
				if (stream_keyed_compare_sequences(keyed, stored[next].start, stored[v].end) == 0)
					break;
			if (next < nstored)
				continue;
			ev = &events[nevents++];
			ev->kind = STREAM_CHANGE_DELETE;
			ev->sequence = stored[v].end;
			ev->origin = 0;
			ev->ordinal = v;
			ev->values = NULL;
			ev->nulls = NULL;
			ev->keep = NULL;
			ev->change = NULL;
		}
		foreach(lc, marks[i])
		{
			Datum		sequence = *(Datum *) lfirst(lc);

			/* with the values of the version that absorbed it */
			for (v = 0; v < nstored; v++)
				if (stream_keyed_compare_sequences(keyed, stored[v].start, sequence) <= 0 &&
					(stored[v].end_null ||
					 stream_keyed_compare_sequences(keyed, sequence, stored[v].end) < 0))
				{
					Scd2Event  *ev = &events[nevents++];

					ev->kind = STREAM_CHANGE_UPSERT;
					ev->sequence = sequence;
					ev->origin = 0;
					ev->ordinal = -1;
					ev->values = stored[v].values;
					ev->nulls = stored[v].nulls;
					ev->keep = NULL;
					ev->change = NULL;
					break;
				}
		}
		foreach(lc, tombstones[i])
		{
			Scd2Event  *ev = &events[nevents++];

			ev->kind = STREAM_CHANGE_DELETE;
			ev->sequence = *(Datum *) lfirst(lc);
			ev->origin = 0;
			ev->ordinal = -1;
			ev->values = NULL;
			ev->nulls = NULL;
			ev->keep = NULL;
			ev->change = NULL;
		}
		for (c = head; c; c = c->next)
		{
			Scd2Event  *ev = &events[nevents++];

			ev->kind = c->kind;
			ev->sequence = c->sequence;
			ev->origin = 1;
			ev->ordinal = c->ordinal;
			ev->values = c->values;
			ev->nulls = c->nulls;
			ev->keep = c->any_keep ? c->keep : NULL;
			ev->change = c;
			if (c->kind == STREAM_CHANGE_DELETE)
			{
				/* SCD 2 remembers every delete, also those closing nothing */
				MemoryContext batch = MemoryContextSwitchTo(keyed->cxt);

				new_tombstone_keys = lappend(new_tombstone_keys, list_nth(keys, i));
				new_tombstone_sequences = lappend(new_tombstone_sequences,
												  OutputFunctionCall(&keyed->sequence_output,
																	 c->sequence));
				MemoryContextSwitchTo(batch);
			}
		}
		qsort_arg(events, nevents, sizeof(Scd2Event), compare_events, keyed);

		/* replay */
		replayed = palloc(sizeof(Scd2Version) * (nevents + 1));
		for (e = 0; e < nevents; e++)
		{
			Scd2Event  *ev = &events[e];

			if (ev->kind == STREAM_CHANGE_DELETE)
			{
				if (current >= 0)
				{
					replayed[current].end = ev->sequence;
					replayed[current].end_null = false;
				}
				current = -1;
				continue;
			}
			/* a change where a version already starts is ignored */
			if (nreplayed > 0 &&
				stream_keyed_compare_sequences(keyed, replayed[nreplayed - 1].start, ev->sequence) == 0)
				continue;
			if (current >= 0)
			{
				Scd2Version *cur = &replayed[current];
				bool		same = true;
				int			j;

				for (j = 0; j < n && same; j++)
					if (state->tracked[j] && !(ev->keep && ev->keep[j]))
						same = values_equal(state, j, cur->values[j], cur->nulls[j],
											ev->values[j], ev->nulls[j]);
				if (same)
				{
					/*
					 * Remembered: the batch's change, or a stored version
					 * that an earlier change with its values absorbs.  A
					 * delete or a different change arriving later between
					 * the two reopens it at its own start.
					 */
					if (ev->origin == 1 || ev->ordinal >= 0)
					{
						MemoryContext batch = MemoryContextSwitchTo(keyed->cxt);

						new_mark_keys = lappend(new_mark_keys, list_nth(keys, i));
						new_mark_sequences = lappend(new_mark_sequences,
													 OutputFunctionCall(&keyed->sequence_output,
																		ev->sequence));
						MemoryContextSwitchTo(batch);
					}
					/* the untracked columns change in place */
					for (j = 0; j < n; j++)
						if (state->target_of[j] >= 0 && !state->tracked[j] &&
							!(ev->keep && ev->keep[j]))
						{
							cur->values[j] = ev->values[j];
							cur->nulls[j] = ev->nulls[j];
						}
					continue;
				}
				cur->end = ev->sequence;
				cur->end_null = false;
			}
			{
				Scd2Version *version = &replayed[nreplayed];
				int			j;

				version->start = ev->sequence;
				version->end_null = true;
				version->end = (Datum) 0;
				version->values = palloc(sizeof(Datum) * Max(n, 1));
				version->nulls = palloc(sizeof(bool) * Max(n, 1));
				for (j = 0; j < n; j++)
				{
					bool		keep = ev->keep && ev->keep[j];

					version->values[j] = keep ? (current >= 0 ? replayed[current].values[j] : (Datum) 0) :
						ev->values[j];
					version->nulls[j] = keep ? (current < 0 || replayed[current].nulls[j]) :
						ev->nulls[j];
				}
				version->change = ev->change;
				version->matched = false;
				current = nreplayed++;
			}
		}

		/* write the difference */
		for (v = 0; v < nreplayed; v++)
		{
			Scd2Version *r = &replayed[v];
			int			s;

			for (s = 0; s < nstored; s++)
				if (!stored[s].matched &&
					stream_keyed_compare_sequences(keyed, stored[s].start, r->start) == 0)
					break;
			if (s < nstored)
			{
				bool		same = r->end_null == stored[s].end_null &&
					(r->end_null || stream_keyed_compare_sequences(keyed, r->end, stored[s].end) == 0);
				int			j;

				stored[s].matched = true;
				for (j = 0; j < n && same; j++)
					if (state->target_of[j] >= 0)
						same = values_equal(state, j, r->values[j], r->nulls[j],
											stored[s].values[j], stored[s].nulls[j]);
				if (!same)
					write_version(keyed, r, stored_slots[s]);
			}
			else
				write_version(keyed, r, NULL);
		}
		for (v = 0; v < nstored; v++)
			if (!stored[v].matched)
				stream_sink_delete(keyed->sink, NULL, stored_slots[v]);
		/* the sink copied what it buffered (rows and stored versions) */
		for (v = 0; v < nstored; v++)
			ExecDropSingleTupleTableSlot(stored_slots[v]);
		MemoryContextSwitchTo(old);
	}
	index_endscan(scan);
	index_close(index, AccessShareLock);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(keycxt);

	/*
	 * A replayed delete (same key and sequence twice in a batch) lists its
	 * tombstone twice: DISTINCT, or ON CONFLICT would meet its own row.
	 */
	if (new_tombstone_keys != NIL)
	{
		Oid			types[3] = {OIDOID, TEXTARRAYOID, TEXTARRAYOID};
		Datum		values[3] = {ObjectIdGetDatum(def->target),
			stream_keyed_text_array(new_tombstone_keys),
		stream_keyed_text_array(new_tombstone_sequences)};

		stream_catalog_exec("INSERT INTO kafka.stream_tombstones (stream, key, sequence, deleted_at) "
							"SELECT DISTINCT $1, u.k::text[], u.s, now() FROM unnest($2::text[], $3::text[]) AS u(k, s) "
							"ON CONFLICT (stream, key, sequence) DO UPDATE SET deleted_at = excluded.deleted_at",
							3, types, values, NULL, false);
	}
	if (new_mark_keys != NIL)
	{
		Oid			types[3] = {OIDOID, TEXTARRAYOID, TEXTARRAYOID};
		Datum		values[3] = {ObjectIdGetDatum(def->target),
			stream_keyed_text_array(new_mark_keys),
		stream_keyed_text_array(new_mark_sequences)};

		stream_catalog_exec("INSERT INTO kafka.stream_tombstones (stream, key, sequence, deleted_at) "
							"SELECT DISTINCT $1, u.k::text[] || '" ABSORBED_MARK "'::text, u.s, now() "
							"FROM unnest($2::text[], $3::text[]) AS u(k, s) "
							"ON CONFLICT (stream, key, sequence) DO UPDATE SET deleted_at = excluded.deleted_at",
							3, types, values, NULL, false);
	}
}
