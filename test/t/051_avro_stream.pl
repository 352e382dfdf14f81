# Avro streaming tables: poison messages (unknown schema id, wrong magic
# byte, truncated payload) are dead-lettered with their coordinates while
# every good record lands once; a Schema Registry outage is not a property
# of the messages: a continuous worker waits and retries (nothing
# dead-lettered, nothing skipped, kafka.stream_progress says why it waits)
# and a refresh errors without advancing offsets, then loads everything
# once the registry is back.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use JSON::PP;
use KafkaFdwTest;

my $broker = start_broker(brokers => 1,
	topics => [ 'ev_poison:2', 'ev_live:2', 'ev_refresh:1' ]);
my $registry = start_schema_registry();
my $bs = $broker->bootstrap;
my $url = $registry->url;
my $node = new_node('avro_stream', broker => $broker, schema_registry => $registry,
	conf => "timezone = 'UTC'");

# Avro events written by python3-avro (see produce_avro.py --events)
sub produce_events
{
	my (%opts) = @_;
	my @cmd = ($ENV{KT_PYTHON} // '/usr/bin/python3',
		"$srcdir/test/fixtures/produce_avro.py", '--bootstrap', $bs,
		'--registry', $url, '--topic', $opts{topic}, '--events', $opts{count},
		'--start', $opts{start} // 0, '--partitions', $opts{partitions} // 1,
		'--version', $opts{version} // 1);
	push @cmd, '--schema-id', $opts{schema_id} if defined $opts{schema_id};
	push @cmd, '--poison' if $opts{poison};
	my ($ok, $out, $err) = run_cmd(\@cmd);
	die "produce_avro.py failed: $err$out" unless $ok;
	my @lines = grep { /^\{/ } split /\n/, $out;
	return decode_json($lines[-1]);
}

# wait until $sql returns $expected (polls; the suite asserts values, not time)
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

# What the rows of events from..to must add up to, computed from the
# generator's definition (not from what was read).
sub expected_checksum
{
	my ($from, $to) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*), sum(i), sum((i * 7919 % 100000) / 100.0)::numeric(14,2),
		       md5(string_agg(format('%s|n%s|%s', i, i, '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second'), ',' ORDER BY i))
		  FROM generate_series($from, $to) i});
}

sub checksum
{
	my ($table) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*), sum(id), sum(amount),
		       md5(string_agg(format('%s|%s|%s', id, name, at), ',' ORDER BY id))
		  FROM $table});
}

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
});

# one source foreign table and one target per topic
foreach my $t ('ev_poison', 'ev_live', 'ev_refresh')
{
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE ${t}_src (id bigint, name text, amount numeric(10,2), at timestamptz,
		  _partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
		  SERVER k OPTIONS (topic '$t', format 'avro');
		CREATE TABLE $t (id bigint, name text, amount numeric(10,2), at timestamptz,
		  _partition int, _offset bigint);
	});
}

###########################################################################
# 1. Poison messages among good ones: a refresh with on_error dead_letter
# loads exactly the good records and dead-letters exactly the poison ones.
my $sent = produce_events(topic => 'ev_poison', count => 200, partitions => 2, poison => 1);
is(scalar(@{ $sent->{poison} }), 3, 'three poison messages produced');

$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('ev_poison', source => 'ev_poison_src',
	  trigger => 'available_now', on_error => 'dead_letter', max_offsets_per_trigger => 50);});
my $summary = $node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('ev_poison')});
like($summary, qr/200 rows from 203 records in \d+ batches, 3 dead letters, 0 skipped, lag 0/,
	'refresh summary: every good record a row, the poison ones dead letters');
is(checksum('ev_poison'), expected_checksum(0, 199), 'the good records, with the values produced');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ev_poison}),
	'200|200', 'each once');

my $expected_dead = join(',', map { "ev_poison $_->[0] $_->[1]" }
	sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @{ $sent->{poison} });
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', topic, "partition", "offset"), ',' ORDER BY "partition", "offset")
	  FROM kafka.dead_letters WHERE stream = 'ev_poison'::regclass}),
	$expected_dead, 'dead letters: exactly the poison messages, with their coordinates');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM kafka.dead_letters d JOIN ev_poison e
	    ON e._partition = d."partition" AND e._offset = d."offset"}),
	'0', 'no dead letter is also a row');
my %poison_at = map { ("$_->[0] $_->[1]" => $_->[2]) } @{ $sent->{poison} };
my %error_of = map { my ($p, $o, $e) = split /\|/, $_, 3; ("$p $o" => $e) }
	split /\n/, $node->safe_psql('postgres', q{
	SELECT "partition", "offset", error FROM kafka.dead_letters WHERE stream = 'ev_poison'::regclass});
my %expected_error = (
	'unknown schema id' => qr/^schema id 999999 is not in the schema registry$/,
	'wrong magic byte' => qr/^Avro payload starts with byte 0x01, not the Confluent magic byte 0x00$/,
	'truncated payload' => qr/^cannot decode field "at" into column "at": truncated or malformed Avro data \(schema id \d+\)$/);
foreach my $at (sort keys %poison_at)
{
	like($error_of{$at} // '', $expected_error{ $poison_at{$at} },
		"dead letter of the $poison_at{$at} says so");
}
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM kafka.dead_letters WHERE stream = 'ev_poison'::regclass
	   AND value IS NOT NULL AND convert_from(key, 'UTF8') LIKE 'k%'}),
	'3', 'dead letters keep key and value');
is($node->safe_psql('postgres', q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'ev_poison'::regclass}),
	'203', 'offsets advanced over every record');
is($node->safe_psql('postgres', q{CALL kafka.refresh_streaming_table('ev_poison')}) =~ /0 rows from 0 records/ ? 1 : 0,
	1, 'a second refresh finds nothing');

# the same through a continuous worker
$node->safe_psql('postgres', q{
	CREATE TABLE ev_poison_live (LIKE ev_poison);
	SELECT kafka.create_streaming_table('ev_poison_live', source => 'ev_poison_src',
	  on_error => 'dead_letter', max_offsets_per_trigger => 50);});
ok(wait_for(q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'ev_poison_live'::regclass}, '203', 'poison live'),
	'a worker goes through the poison messages');
is(checksum('ev_poison_live'), expected_checksum(0, 199), 'and loads the good records');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s', topic, "partition", "offset"), ',' ORDER BY "partition", "offset")
	  FROM kafka.dead_letters WHERE stream = 'ev_poison_live'::regclass}),
	$expected_dead, 'and dead-letters exactly the poison ones');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('ev_poison_live')});

###########################################################################
# 2. A continuous worker with a backlog of schema ids it has not seen while
# the registry is down: it waits and retries, dead-letters nothing, skips
# nothing; every record lands once when the registry is back.  Its
# statement_timeout (from the database) cuts the retries of one batch short,
# so that the worker also gives up and is restarted while the registry is
# down.
$node->safe_psql('postgres', q{
	ALTER DATABASE postgres SET statement_timeout = '3s';
	SELECT kafka.create_streaming_table('ev_live', source => 'ev_live_src',
	  on_error => 'dead_letter', max_offsets_per_trigger => 40);});
my $v1 = produce_events(topic => 'ev_live', count => 100, partitions => 2);
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ev_live', '100|100', 'live v1'),
	'the worker loads the first records (schema v1)');

# a second schema version, registered now, first used while the registry is down
my $v2 = produce_events(topic => 'ev_live', count => 0, version => 2);
isnt($v2->{schema_id}, $v1->{schema_id}, 'schema v2 has an id of its own');
$registry->down;
produce_events(topic => 'ev_live', count => 100, start => 100, partitions => 2,
	version => 2, schema_id => $v2->{schema_id});
produce_events(topic => 'ev_live', count => 50, start => 200, partitions => 2,
	schema_id => $v1->{schema_id});

ok(wait_for(q{SELECT count(*) > 0 FROM kafka.stream_progress
	  WHERE stream = 'ev_live'::regclass AND last_error LIKE '%schema registry%unavailable%'}, 't', 'progress'),
	'kafka.stream_progress shows that the registry is unavailable');
my $progress = $node->safe_psql('postgres', q{
	SELECT DISTINCT state || ': ' || last_error FROM kafka.stream_progress WHERE stream = 'ev_live'::regclass});
note("progress while the registry is down: $progress");
# waiting inside the batch; once the retries of one batch run out (60 s)
# the worker restarts after a backoff and waits again
like($progress, qr/^(waiting for schema registry|backoff(?: until \S+ \S+)?): schema registry "http:\/\/127\.0\.0\.1:\d+" of server "k" is unavailable/,
	'the state and the error name the registry and the server');
my $first_pid = $node->safe_psql('postgres', q{SELECT pid FROM kafka.stream_workers() WHERE stream = 'ev_live'::regclass});
ok(wait_for(q{SELECT restarts > 0 FROM kafka.stream_workers() WHERE stream = 'ev_live'::regclass}, 't', 'restarted'),
	'the worker gave up the batch when its retries ran out and was restarted');
ok(wait_for(qq{SELECT state, pid <> $first_pid FROM kafka.stream_workers() WHERE stream = 'ev_live'::regclass},
		'waiting for schema registry|t', 'waiting again'),
	'a new worker (empty schema cache) waits for the registry again');
is($node->safe_psql('postgres', q{SELECT state FROM kafka.streaming_tables WHERE target = 'ev_live'::regclass}),
	'active', 'the stream is not failed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ev_live}), '100', 'nothing loaded while the registry is down');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'ev_live'::regclass}),
	'0', 'nothing dead-lettered while the registry is down');
is($node->safe_psql('postgres', q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'ev_live'::regclass}),
	'100', 'offsets not advanced past the waiting records');
ok((grep { m{^GET /schemas/ids/$v2->{schema_id} 503$} } $registry->requests),
	'the worker asked the registry for the new schema id');

$registry->up;
ok(wait_for('SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ev_live', '250|250', 'live after'),
	'after the registry is back every record lands, once');
is(checksum('ev_live'), expected_checksum(0, 249), 'with the values produced');
is($node->safe_psql('postgres', q{SELECT count(*) FROM kafka.dead_letters WHERE stream = 'ev_live'::regclass}),
	'0', 'and no dead letters');
is($node->safe_psql('postgres', q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'ev_live'::regclass}),
	'250', 'offsets at the end');
ok(wait_for(q{SELECT count(*) FROM kafka.stream_progress WHERE stream = 'ev_live'::regclass AND last_error IS NULL}, '2', 'cleared'),
	'the error is cleared once batches commit again');
$node->safe_psql('postgres', q{SELECT kafka.drop_streaming_table('ev_live');
	ALTER DATABASE postgres RESET statement_timeout;});

###########################################################################
# 3. A refresh while the registry is down: an error within statement_timeout,
# no offsets advanced, the stream not failed; then it loads everything.
produce_events(topic => 'ev_refresh', count => 120);
$node->safe_psql('postgres', q{
	SELECT kafka.create_streaming_table('ev_refresh', source => 'ev_refresh_src',
	  trigger => 'available_now', on_error => 'dead_letter', max_offsets_per_trigger => 50);});
$registry->down;
my $start = time;
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '4s'; CALL kafka.refresh_streaming_table('ev_refresh')});
my $elapsed = time - $start;
isnt($ret, 0, 'refresh fails while the registry stays down');
like($err, qr/schema registry "http:\/\/127\.0\.0\.1:\d+" of server "k" is unavailable/,
	'the error names the registry');
like($err, qr/HTTP status 503/, 'and what it answered');
cmp_ok($elapsed, '<', 4, 'given up before statement_timeout');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM ev_refresh) || ' ' ||
	       (SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = 'ev_refresh'::regclass) || ' ' ||
	       (SELECT count(*) FROM kafka.dead_letters WHERE stream = 'ev_refresh'::regclass) || ' ' ||
	       (SELECT state FROM kafka.streaming_tables WHERE target = 'ev_refresh'::regclass)}),
	'0 0 0 active', 'no rows, no offsets, no dead letters, the stream still active');

# a refresh that starts while the registry is down waits for it
my ($h, $rout, $rerr) = start_psql($node, q{CALL kafka.refresh_streaming_table('ev_refresh')});
sleep 2;
$registry->up;
$h->finish;
like($$rout, qr/120 rows from 120 records in 3 batches, 0 dead letters, 0 skipped, lag 0/,
	'a refresh waiting for the registry loads everything once it is back') or diag($$rerr);
is(checksum('ev_refresh'), expected_checksum(0, 119), 'with the values produced');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT (_partition, _offset)) FROM ev_refresh}),
	'120', 'each once');

done_testing();
