# Streaming tables under everyday operations: the creator's search_path
# pinned for the transform, column limits (varchar(n), numeric(p,s),
# domains) enforced under on_error 'fail' and 'dead_letter' with a dump that
# restores, an AFTER ROW trigger on a target (no relcache reference leak),
# progress and errors shown only to those who may see them, and DROP SERVER
# ... CASCADE / DROP USER MAPPING stopping the streams that depended on them.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
# more streams run at once here than the default pool of 4
my $node = new_node('hardening', broker => $broker, conf => 'kafka_fdw.max_stream_workers = 8');

$broker->create_topic('sp', 2);
$broker->create_topic('typed', 1);
$broker->create_topic('trig', 2);
produce(broker => $broker, topic => 'sp', count => 500, json => 1, partitions => 2);
produce(broker => $broker, topic => 'trig', count => 3000, json => 1, partitions => 2);

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE sp_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'sp', format 'json');
	CREATE FOREIGN TABLE typed_topic (id bigint, code text, price numeric, qty int, label text,
		at timestamp, grade text, mask bit varying,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'typed', format 'json');
	CREATE FOREIGN TABLE trig_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'trig', format 'json');
});

sub wait_for { return wait_for_value($node, 'postgres', @_, 60); }

sub consumed
{
	my ($stream) = @_;
	return qq{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '$stream'::regclass};
}

# --- the creator's search_path: a transform joining a table found through it
$node->safe_psql('postgres', q{
	CREATE SCHEMA lookup;
	CREATE TABLE lookup.segments (user_id int PRIMARY KEY, segment text);
	INSERT INTO lookup.segments SELECT u, 'segment-' || u FROM generate_series(0, 96) u;
	SET search_path = lookup, public;
	SELECT kafka.create_streaming_table('public.sp_enriched', source => 'public.sp_topic',
	  on_error => 'skip',
	  transform => 'SELECT b.event_id, s.segment, b._partition, b._offset
	                FROM batch b JOIN segments s USING (user_id)');});
ok(wait_for(consumed('sp_enriched'), '500', 'sp consumed'), 'search_path stream consumed the topic');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT (_partition, _offset)), count(segment) FROM sp_enriched}),
	'500|500|500', 'the transform found lookup.segments through the creator\'s search_path');
is($node->safe_psql('postgres', q{SELECT search_path FROM kafka.streaming_tables WHERE target = 'sp_enriched'::regclass}),
	'lookup, public', 'search_path pinned in the catalog');

# --- column limits: varchar(3), numeric(3,1), a domain over int with a
# CHECK, a domain over varchar (binary coercible from text) with a CHECK,
# timestamp(0), char(2), bit(3)
my $rest = '"at":"2024-01-01 10:00:00.6","grade":"AB","mask":"101"';
my $typed = join("\n",
	qq({"id":1,"code":"abc","price":12.3,"qty":5,"label":"fine",$rest}),
	qq({"id":2,"code":"purchase","price":1.0,"qty":5,"label":"fine",$rest}),
	qq({"id":3,"code":"xyz","price":79.19,"qty":5,"label":"fine",$rest}),
	qq({"id":4,"code":"q","price":123.4,"qty":5,"label":"fine",$rest}),
	qq({"id":5,"code":"ok","price":1,"qty":-1,"label":"fine",$rest}),
	qq({"id":6,"code":"end","price":2,"qty":7,"label":"fine",$rest}),
	qq({"id":7,"code":"a","price":1,"qty":1,"label":"nope",$rest}),
	'{"id":8,"code":"a","price":1,"qty":1,"label":"fine","at":"2024-01-01 10:00:00","grade":"ABC","mask":"101"}',
	'{"id":9,"code":"a","price":1,"qty":1,"label":"fine","at":"2024-01-01 10:00:00","grade":"AB","mask":"1010"}');
open(my $fh, '|-', 'kcat', '-q', '-P', '-b', $bs, '-t', 'typed', '-p', '0') or die "kcat: $!";
print $fh "$typed\n";
close($fh) or die "kcat failed";

my ($ret, $out, $err) = $node->psql('postgres', q{
	CREATE DOMAIN positive_qty AS int CHECK (VALUE > 0);
	CREATE DOMAIN short_label AS varchar(5) CHECK (VALUE <> 'nope');
	CREATE TABLE typed_fail (id bigint, code varchar(3), price numeric(3,1), qty positive_qty,
	                         label short_label, at timestamp(0), grade char(2), mask bit(3),
	                         _partition int, _offset bigint);
	CREATE TABLE typed_dl (LIKE typed_fail);
	SELECT kafka.create_streaming_table('typed_fail', source => 'typed_topic', on_error => 'fail');
	SELECT kafka.create_streaming_table('typed_dl', source => 'typed_topic', on_error => 'dead_letter');});
is($ret, 0, 'domain and typmod targets accepted') or diag($err);

ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'typed_fail'::regclass}, 'failed', 'typed_fail'),
	'on_error fail: a value too long for its column stops the stream');
is($node->safe_psql('postgres', q{SELECT count(*) FROM typed_fail}) . ' ' . $node->safe_psql('postgres', consumed('typed_fail')),
	'0 0', 'nothing written, no offset advanced');
like($node->safe_psql('postgres', q{SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'typed_fail'::regclass}),
	qr/value too long for type character varying\(3\).*kafka record typed\[0\] at offset 1 into column "code"/,
	'the error names the record and the column');

ok(wait_for(consumed('typed_dl'), '9', 'typed_dl'), 'on_error dead_letter: every record consumed');
is($node->safe_psql('postgres', q{SELECT string_agg(format('%s %s %s %s %s %s %s %s', id, code, price, qty, label, at, grade, mask), ',' ORDER BY id) FROM typed_dl}),
	'1 abc 12.3 5 fine 2024-01-01 10:00:01 AB 101,3 xyz 79.2 5 fine 2024-01-01 10:00:01 AB 101,6 end 2.0 7 fine 2024-01-01 10:00:01 AB 101',
	'good rows stored, rounded to the columns\' scale and precision');
is($node->safe_psql('postgres', q{SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM kafka.dead_letters WHERE stream = 'typed_dl'::regclass}),
	'1,3,4,6,7,8', 'the records that do not fit are dead-lettered');
my $errors = $node->safe_psql('postgres', q{SELECT string_agg(error, E'\n' ORDER BY "offset") FROM kafka.dead_letters WHERE stream = 'typed_dl'::regclass});
like($errors, qr/value too long for type character varying\(3\)/, 'varchar(3) error');
like($errors, qr/numeric field overflow/, 'numeric(3,1) error');
like($errors, qr/value for domain positive_qty violates check constraint/, 'domain over int error');
like($errors, qr/value for domain short_label violates check constraint/, 'domain over varchar error');
like($errors, qr/value too long for type character\(2\)/, 'char(2) error');
like($errors, qr/bit string length 4 does not match type bit\(3\)/, 'bit(3) error');
like($errors, qr/kafka record typed\[0\] at offset 1 into column "code"/, 'dead letters name the column');
is($node->safe_psql('postgres', q{SELECT state FROM kafka.streaming_tables WHERE target = 'typed_dl'::regclass}),
	'active', 'the dead_letter stream runs on');

my $dumpfile = PostgreSQL::Test::Utils::tempdir() . '/typed.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumpfile, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dumpfile ],
	'pg_restore of the streaming tables succeeds');
is($node->safe_psql('restored', q{SELECT count(*) FROM typed_dl}), '3', 'rows restored');
$node->safe_psql('postgres', 'DROP DATABASE restored');

# --- an AFTER ROW trigger on a target: rows counted, no relcache leak
$node->safe_psql('postgres', q{
	CREATE TABLE trig_rows (event_id bigint, _partition int, _offset bigint);
	CREATE TABLE trig_log (event_id bigint);
	CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN INSERT INTO trig_log VALUES (NEW.event_id); RETURN NULL; END$$;
	CREATE TRIGGER trig_rows_log AFTER INSERT ON trig_rows FOR EACH ROW EXECUTE FUNCTION log_row();
	SELECT kafka.create_streaming_table('trig_rows', source => 'trig_topic', max_offsets_per_trigger => 500);});
ok(wait_for(consumed('trig_rows'), '3000', 'trig'), 'trigger stream consumed the topic');
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM trig_rows) || ' ' || (SELECT count(*) FROM trig_log)}),
	'3000 3000', 'the AFTER ROW trigger ran once per row');
ok($node->safe_psql('postgres', q{SELECT batch_id > 1 FROM kafka.streaming_tables WHERE target = 'trig_rows'::regclass}) eq 't',
	'over several batches');

# --- progress and workers only for those who may see them
$node->safe_psql('postgres', q{
	CREATE ROLE peeker; GRANT USAGE ON SCHEMA kafka TO peeker;
	CREATE ROLE monitor IN ROLE pg_read_all_stats; GRANT USAGE ON SCHEMA kafka TO monitor;});
is($node->safe_psql('postgres', q{SET ROLE peeker; SELECT count(*) FROM kafka.stream_workers()}), '0',
	'a role without privileges sees no workers');
is($node->safe_psql('postgres', q{SET ROLE peeker; SELECT count(*) FROM kafka.stream_progress}), '0',
	'nor any progress');
is($node->safe_psql('postgres', q{SET ROLE peeker; SELECT count(*) FROM kafka.streaming_tables WHERE state = 'failed'}), '1',
	'but sees the streams and their states');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE peeker; SELECT last_error FROM kafka.streaming_tables});
like($err, qr/permission denied for table streaming_tables/, 'not their errors');
ok($node->safe_psql('postgres', q{SET ROLE monitor; SELECT count(*) FROM kafka.stream_workers()}) > 0,
	'pg_read_all_stats sees the workers');
like($node->safe_psql('postgres', q{SET ROLE monitor; SELECT DISTINCT last_error FROM kafka.stream_progress WHERE stream = 'typed_fail'::regclass}),
	qr/value too long/, 'and the errors');

# --- DROP SERVER ... CASCADE stops the stream; resume says why not
my $workers_of = sub {
	my ($name) = @_;
	return qq{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kafka_fdw stream public.$name'};
};
$node->safe_psql('postgres', qq{
	CREATE SERVER k2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k2;
	CREATE FOREIGN TABLE sp_topic2 (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k2 OPTIONS (topic 'sp', format 'json');
	SELECT kafka.create_streaming_table('sp_copy', source => 'sp_topic2');});
ok(wait_for(consumed('sp_copy'), '500', 'sp_copy'), 'stream over a second server runs');
ok(wait_for($workers_of->('sp_copy'), '1', 'sp_copy worker'), 'its worker is there');
$node->safe_psql('postgres', 'DROP SERVER k2 CASCADE');
like($node->safe_psql('postgres', q{SELECT state || ': ' || last_error FROM kafka.streaming_tables WHERE target = 'sp_copy'::regclass}),
	qr/^failed: source foreign table public.sp_topic2 was dropped \(DROP SERVER\)/, 'DROP SERVER CASCADE marks the stream failed');
ok(wait_for($workers_of->('sp_copy'), '0', 'sp_copy worker gone'), 'its worker stops');
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.resume_streaming_table('sp_copy')});
like($err, qr/source foreign table of streaming table public.sp_copy no longer exists/, 'resume refused');

# --- DROP USER MAPPING of a non-superuser owner stops its stream
$node->safe_psql('postgres', qq{
	CREATE ROLE streamer NOLOGIN;
	GRANT USAGE ON SCHEMA kafka TO streamer;
	CREATE SERVER k3 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	GRANT USAGE ON FOREIGN SERVER k3 TO streamer;
	CREATE USER MAPPING FOR streamer SERVER k3 OPTIONS (password_required 'false');
	CREATE FOREIGN TABLE sp_topic3 (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k3 OPTIONS (topic 'sp', format 'json');
	GRANT SELECT ON sp_topic3 TO streamer;
	CREATE TABLE sp_owned (event_id bigint, _partition int, _offset bigint);
	ALTER TABLE sp_owned OWNER TO streamer;
	SET ROLE streamer;
	SELECT kafka.create_streaming_table('sp_owned', source => 'sp_topic3');
	RESET ROLE;});
ok(wait_for(consumed('sp_owned'), '500', 'sp_owned'), 'a non-superuser\'s stream runs');
$node->safe_psql('postgres', 'DROP USER MAPPING FOR streamer SERVER k3');
like($node->safe_psql('postgres', q{SELECT state || ': ' || last_error FROM kafka.streaming_tables WHERE target = 'sp_owned'::regclass}),
	qr/^failed: user mapping for streamer on server k3 was dropped/, 'DROP USER MAPPING marks the stream failed');
ok(wait_for($workers_of->('sp_owned'), '0', 'sp_owned worker gone'), 'its worker stops');
($ret, $out, $err) = $node->psql('postgres', q{SELECT kafka.resume_streaming_table('sp_owned')});
like($err, qr/user mapping not found for user "streamer" on server "k3"/, 'resume refused without a mapping');

my $log = slurp_file($node->logfile);
unlike($log, qr/relcache reference leak/, 'no relcache reference leak logged');
unlike($log, qr/cache lookup failed/, 'no worker looped on a dropped object');

done_testing();
