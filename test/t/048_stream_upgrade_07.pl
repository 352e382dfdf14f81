# ALTER EXTENSION kafka_fdw UPDATE from 0.6 (installed from its frozen
# script) to the current version with streams running: a stream into a
# table and one into a kafka foreign table.
#   - Before the update (the 0.6 catalog under the new library) the streams
#     run and kafka.from_protobuf does not exist.
#   - The update only adds the Protobuf functions: every stream runs on,
#     every record lands once, the group mirror goes on, and the objects
#     are those of a fresh install.
#   - After it kafka.from_protobuf and kafka.to_protobuf work with a
#     descriptor set built by protoc.

use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 1);
my $bs = $broker->bootstrap;
my $node = new_node('upgrade07', broker => $broker, create_extension => 0,
	conf => 'kafka_fdw.max_stream_workers = 8');
$broker->create_topic($_, 2) for qw(src out_a);

$node->safe_psql('postgres', q{CREATE EXTENSION kafka_fdw VERSION '0.6'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	'0.6', 'the released version installs');

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw OPTIONS (bootstrap_servers '$bs');
	CREATE USER MAPPING FOR PUBLIC SERVER k;
	CREATE FOREIGN TABLE src_topic (event_id bigint, user_id int,
		_partition int OPTIONS (kafka 'partition'), _offset bigint OPTIONS (kafka 'offset'))
	  SERVER k OPTIONS (topic 'src', format 'json');
	CREATE FOREIGN TABLE out_a (event_id bigint, user_id int) SERVER k OPTIONS (topic 'out_a', format 'json');
	SELECT kafka.create_streaming_table('t_plain', source => 'src_topic', max_offsets_per_trigger => 500);
	SELECT kafka.create_streaming_table('out_a', source => 'src_topic', max_offsets_per_trigger => 500);
});

sub query { return $node->safe_psql('postgres', @_); }
sub wait_for { return wait_for_value($node, 'postgres', @_, 120); }

my $produced = 0;
sub produce_more
{
	my ($n) = @_;
	produce(broker => $broker, topic => 'src', count => $n, start => $produced, json => 1, partitions => 2);
	$produced += $n;
	return;
}

my $offsets = q{SELECT sum(next_offset) FROM kafka.stream_offsets WHERE stream = '%s'::regclass};
my @streams = qw(t_plain out_a);
sub all_consumed
{
	my ($what) = @_;
	my $ok = 1;
	$ok &&= wait_for(sprintf($offsets, $_), "$produced", "$_ $what") for @streams;
	return $ok;
}

sub group_offsets
{
	my ($group) = @_;
	return join ',', map { "$_->[0]:$_->[1]" } @{ consumer_group_offsets($bs, $group, 'src', 2) };
}
sub catalog_offsets
{
	my ($stream) = @_;
	return query(qq{SELECT string_agg("partition" || ':' || next_offset, ',' ORDER BY "partition")
		FROM kafka.stream_offsets WHERE stream = '$stream'::regclass});
}

produce_more(3000);
ok(all_consumed('before'), 'the streams run on 0.6');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT kafka.from_protobuf('\x0801', 'M', '\x')});
like($stderr, qr/function kafka\.from_protobuf\(unknown, unknown, unknown\) does not exist/,
	'there is no kafka.from_protobuf on 0.6');

# update while the workers ingest what keeps coming
my $bg = start_produce(broker => $broker, topic => 'src', count => 10000, start => $produced, json => 1,
	partitions => 2);
$produced += 10000;
query(q{ALTER EXTENSION kafka_fdw UPDATE});
is(query(q{SELECT extversion FROM pg_extension WHERE extname = 'kafka_fdw'}),
	query(q{SELECT default_version FROM pg_available_extensions WHERE name = 'kafka_fdw'}),
	'updated to the current version');
finish_produce($bg);

produce_more(2000);
ok(all_consumed('after'), 'every stream runs on after the update');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT (_partition, _offset)) FROM t_plain}), "$produced $produced",
	'every record once in the table across the update');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT event_id) FROM out_a}), "$produced $produced",
	'every record once in the kafka target across the update');
{
	my ($catalog, $group) = ('', '');
	for (1 .. 600)
	{
		$catalog = catalog_offsets('t_plain');
		$group = group_offsets('kafka_fdw.postgres.public.t_plain');
		last if $group eq $catalog;
		usleep(100_000);
	}
	is($group, $catalog, 'the stream into a table mirrors its offsets to its group across the update');
}

# the new functions, with a descriptor set protoc built
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
open(my $fh, '>', "$dir/m.proto") or die;
print $fh qq{syntax = "proto3";\npackage up;\nmessage M { int32 a = 1; string b = 2; }\n};
close $fh;
system('protoc', "--proto_path=$dir", "--descriptor_set_out=$dir/m.desc", '--include_imports', "$dir/m.proto") == 0
	or die "protoc failed";
chmod 0644, "$dir/m.desc";
my $desc = unpack('H*', slurp_file("$dir/m.desc", ':raw'));
is(query(qq{SELECT kafka.from_protobuf('\\x0801120178', 'up.M', '\\x$desc')::text}), '{"a": 1, "b": "x"}',
	'kafka.from_protobuf decodes after the update');
query(q{CREATE TYPE up_m AS (a int, b text)});
is(query(qq{SELECT encode(kafka.to_protobuf(ROW(1, 'x')::up_m, 'up.M', '\\x$desc'), 'hex')}), '0801120178',
	'kafka.to_protobuf encodes after the update');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no server process crashed');
ok(extension_equals_fresh_install($node, 'postgres', undef), 'updated extension objects equal a fresh install');

done_testing();
