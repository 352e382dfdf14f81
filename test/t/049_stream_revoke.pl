# A stream worker checks before each batch what it depends on: the owner's
# USAGE on the server revoked and its user mapping dropped stop the stream
# (nothing written or advanced, the error says which privilege); DROP
# SERVER ... CASCADE and a resume after the source was dropped stop it with
# a clear error instead of a worker looping on a missing catalog entry.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('revoke', broker => $broker);

$broker->create_topic($_, 1) for qw(priv gone);

# wait until $sql returns $expected (polls; the suite asserts values, not time)
sub wait_for { return wait_for_value($node, 'postgres', @_, 30); }

sub stream_error
{
	my ($stream) = @_;
	return $node->safe_psql('postgres',
		"SELECT state || ': ' || coalesce(last_error, '') FROM kafka.streaming_tables WHERE target = '$stream'::regclass");
}

# --- the owner's privileges are checked each batch
$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k;
	CREATE ROLE streamer NOLOGIN;
	GRANT USAGE ON SCHEMA kafka TO streamer;
	GRANT USAGE ON FOREIGN SERVER k TO streamer;
	CREATE USER MAPPING FOR streamer SERVER k OPTIONS (password_required 'false');
	CREATE FOREIGN TABLE priv_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'priv', format 'json');
	GRANT SELECT ON priv_topic TO streamer;
	CREATE TABLE priv (event_id bigint, _partition int, _offset bigint);
	ALTER TABLE priv OWNER TO streamer;
	SET ROLE streamer;
	SELECT kafka.create_streaming_table('priv', source => 'priv_topic');
	RESET ROLE;});
produce(broker => $broker, topic => 'priv', count => 20, json => 1);
ok(wait_for('SELECT count(*) FROM priv', '20', 'priv'), "a non-superuser's stream runs");

$node->safe_psql('postgres', 'REVOKE USAGE ON FOREIGN SERVER k FROM streamer');
produce(broker => $broker, topic => 'priv', count => 10, start => 20, json => 1);
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'priv'::regclass}, 'failed', 'usage revoked'),
	'REVOKE USAGE ON FOREIGN SERVER stops the stream');
like(stream_error('priv'), qr/^failed: permission denied for foreign server k.*USAGE/,
	'the error says which privilege');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || (SELECT next_offset FROM kafka.stream_offsets WHERE stream = 'priv'::regclass) FROM priv}),
	'20 20', 'nothing written or advanced without USAGE');

$node->safe_psql('postgres', q{GRANT USAGE ON FOREIGN SERVER k TO streamer;
	SELECT kafka.resume_streaming_table('priv');});
ok(wait_for('SELECT count(*) FROM priv', '30', 'regranted'), 'granted again and resumed: the stream catches up');
$node->safe_psql('postgres', 'DROP USER MAPPING FOR streamer SERVER k');
produce(broker => $broker, topic => 'priv', count => 10, start => 30, json => 1);
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'priv'::regclass}, 'failed', 'mapping dropped'),
	'DROP USER MAPPING stops the stream');
# The event trigger on DROP USER MAPPING marks the stream failed at once; a
# worker that reaches its next batch first says the mapping is not found.
like(stream_error('priv'),
	qr/^failed: (user mapping not found for user "streamer" on server "k"|user mapping for streamer on server k was dropped)/,
	'the error names the missing user mapping');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || (SELECT next_offset FROM kafka.stream_offsets WHERE stream = 'priv'::regclass) FROM priv}),
	'30 30', 'nothing written or advanced without a user mapping');

# --- DROP SERVER ... CASCADE drops the source under the running worker
$node->safe_psql('postgres', qq{
	CREATE SERVER k2 FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR CURRENT_USER SERVER k2;
	CREATE FOREIGN TABLE gone_topic (event_id bigint,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k2 OPTIONS (topic 'gone', format 'json');
	CREATE TABLE gone (event_id bigint, _partition int, _offset bigint);
	SELECT kafka.create_streaming_table('gone', source => 'gone_topic');});
produce(broker => $broker, topic => 'gone', count => 10, json => 1);
ok(wait_for('SELECT count(*) FROM gone', '10', 'gone'), 'the stream on the second server runs');
$node->safe_psql('postgres', 'DROP SERVER k2 CASCADE');
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'gone'::regclass}, 'failed', 'server dropped'),
	'DROP SERVER ... CASCADE stops the stream');
like(stream_error('gone'), qr/^failed: .*source foreign table .*(no longer exists|was dropped)/,
	'the error says the source is gone');
ok(wait_for(q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kafka_fdw stream public.gone'}, '0', 'worker gone'),
	'its worker exits');

# resuming a stream whose source is gone: refused, or the worker stops it again
$node->psql('postgres', q{SELECT kafka.resume_streaming_table('gone')});
ok(wait_for(q{SELECT state FROM kafka.streaming_tables WHERE target = 'gone'::regclass}, 'failed', 'resumed without source'),
	'a resumed stream without its source is failed again');
like(stream_error('gone'), qr/^failed: .*source foreign table .*(no longer exists|was dropped)/,
	'with the same clear error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM gone'), '10', 'and nothing more in the target');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no process crashed');
unlike(slurp_file($node->logfile), qr/cache lookup failed/, 'no worker looped on a missing catalog entry');

done_testing();
