# Producing, checked with an independent consumer (kcat): commit delivers
# exactly the messages (keys, headers, partitions, timestamps); ROLLBACK, an
# error and ROLLBACK TO SAVEPOINT deliver nothing of what they undo;
# PREPARE TRANSACTION is refused; brokers down and a missing topic fail the
# COMMIT within message_timeout; cancel works while COMMIT waits, and the
# cancelled transaction's messages are never sent later; a transaction larger
# than kafka_fdw.produce_buffer_size spills to a temporary file, delivers
# everything, and the backend's memory stays bounded; large transactions
# place keyed messages exactly as librdkafka's partitioner does.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use KafkaFdwTest;

my $broker = start_broker(brokers => 3);
my $bs = $broker->bootstrap;
my $node = new_node('produce', broker => $broker,
	conf => "max_prepared_transactions = 2\nlog_temp_files = 0\nstatement_timeout = '120s'");

$node->safe_psql('postgres', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', message_timeout '3');
	CREATE SERVER patient FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', message_timeout '60');
	CREATE SERVER lz4 FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', "kafka.compression.type" 'lz4');
});

# Every message of a topic as kcat sees it: "partition key value headers"
# lines, sorted.
sub consume
{
	my ($topic, $format) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', $format // "%p %k %s %h\n" ], 120);
	die "kcat failed: $err" unless $ok;
	return join("\n", sort split /\n/, $out);
}

sub kcat_count
{
	my ($topic) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', "%k\n" ], 300);
	die "kcat failed: $err" unless $ok;
	my @keys = split /\n/, $out;
	my %distinct = map { $_ => 1 } @keys;
	return (scalar(@keys), scalar(keys %distinct));
}

###########################################################################
# Commit delivers exactly the messages, with keys, headers, partitions and
# timestamps.
create_topic($broker, 'orders', 3);
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT count(kafka.produce('k', 'orders', 'key-' || i, 'value-' || i,
	    headers => ARRAY[('source', 'pg'), ('n', i::text)]::kafka.header[],
	    "partition" => i % 3))
	FROM generate_series(1, 1000) i;
	SELECT kafka.produce('k', 'orders', 'stamped', 'at a time', "partition" => 0,
	    "timestamp" => '2024-05-01 12:00:00.123+00');
	COMMIT;
});
my $expected = join("\n", sort(
	(map { sprintf('%d key-%d value-%d source=pg,n=%d', $_ % 3, $_, $_, $_) } 1 .. 1000),
	'0 stamped at a time '));
is(consume('orders'), $expected, 'kcat reads exactly the 1001 committed messages');
is(consume('orders', "%k %T\n") =~ /^stamped (\d+)$/m ? $1 : undef, '1714564800123',
	'the timestamp is the one given');

###########################################################################
# INSERT and COPY into a foreign table: JSON values, keys, partitions,
# timestamps, headers, as kcat sees them.
create_topic($broker, 'orders_table', 3);
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE orders_topic (
	    order_id bigint, customer text, amount numeric,
	    _key text OPTIONS (kafka 'key'), _partition int OPTIONS (kafka 'partition'),
	    _ts timestamptz OPTIONS (kafka 'timestamp'),
	    _source text OPTIONS (kafka 'header:source'))
	  SERVER k OPTIONS (topic 'orders_table', format 'json');
	INSERT INTO orders_topic
	SELECT i, 'c' || i, i * 0.25, 'k' || i, i % 3, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 ms', 'sql'
	FROM generate_series(1, 500) i;
});
# psql reads the script from stdin: the COPY data follows the command
$node->safe_psql('postgres', "COPY orders_topic (order_id, customer, _key, _partition, _ts) FROM STDIN;\n"
	  . "1000\tcopied\tk1000\t2\t2024-01-02 00:00:00+00\n\\.\n");
$expected = join("\n", sort(
	(map { sprintf('%d k%d {"order_id":%d,"customer":"c%d","amount":%s} %d source=sql',
			$_ % 3, $_, $_, $_, sprintf('%.2f', $_ / 4), 1704067200000 + $_) } 1 .. 500),
	'2 k1000 {"order_id":1000,"customer":"copied","amount":null} 1704153600000 '));
is(consume('orders_table', "%p %k %s %T %h\n"), $expected,
	'kcat reads exactly the inserted and copied rows, with keys, partitions, timestamps and headers');

# a table's message_timeout overrides its server's (60 s here)
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE quick (v text) SERVER patient OPTIONS (topic 'orders_table', format 'text', message_timeout '2');
	INSERT INTO quick VALUES ('warm');
});
$broker->ctl('broker_down all');
my ($elapsed0, $ok0, $out0, $err0) = timed_psql($node, q{INSERT INTO quick VALUES ('lost')});
ok(!$ok0, 'INSERT fails at COMMIT with the brokers down');
like($err0, qr/could not deliver messages to kafka topic "orders_table"/, 'naming the topic');
cmp_ok($elapsed0, '<', 8, sprintf('after the table\'s message_timeout of 2 s (%.2f s)', $elapsed0));
$broker->ctl('broker_up all');

###########################################################################
# ROLLBACK, an error before commit, ROLLBACK TO SAVEPOINT.
create_topic($broker, 'tx', 2);
$node->psql('postgres', q{
	BEGIN;
	SELECT kafka.produce('k', 'tx', 'a', 'rolled back');
	ROLLBACK;
	BEGIN;
	SELECT kafka.produce('k', 'tx', 'b', 'error before commit');
	SELECT 1 / 0;
	COMMIT;
	BEGIN;
	SELECT count(kafka.produce('k', 'tx', 'c' || i, 'kept')) FROM generate_series(1, 100) i;
	SAVEPOINT s1;
	SELECT count(kafka.produce('k', 'tx', 'd' || i, 'undone')) FROM generate_series(1, 100) i;
	SAVEPOINT s2;
	SELECT count(kafka.produce('k', 'tx', 'e' || i, 'undone')) FROM generate_series(1, 100) i;
	RELEASE s2;
	ROLLBACK TO s1;
	SELECT count(kafka.produce('k', 'tx', 'f' || i, 'kept')) FROM generate_series(1, 100) i;
	COMMIT;
}, on_error_stop => 0);
my $tx = consume('tx', "%k %s\n");
my @tx = split /\n/, $tx;
is(scalar(@tx), 200, 'only the 200 messages outside the rolled-back savepoint were delivered');
is(scalar(grep { /^[cf]\d+ kept$/ } @tx), 200, 'and they are the kept ones');

###########################################################################
# PREPARE TRANSACTION: refused with held messages, fine without.
my ($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT kafka.produce('k', 'tx', 'p', 'prepared');
	PREPARE TRANSACTION 'with_messages';
});
like($err, qr/cannot prepare a transaction that produced kafka messages/, 'PREPARE with held messages is refused');
($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SAVEPOINT s;
	SELECT kafka.produce('k', 'tx', 'p', 'undone');
	ROLLBACK TO s;
	PREPARE TRANSACTION 'without_messages';
	COMMIT PREPARED 'without_messages';
});
is($ret, 0, 'PREPARE without held messages (all undone) works');
my @after = split /\n/, consume('tx', "%k\n");
is(scalar(@after), 200, 'nothing more was delivered');

###########################################################################
# Brokers down: COMMIT fails within message_timeout (3 s), naming the topic.
# The aborted transaction's messages are never delivered later.
create_topic($broker, 'down', 3);
$node->safe_psql('postgres', q{SELECT kafka.produce('k', 'down', 'before', 'x')});
$broker->ctl('broker_down all');
my ($elapsed, $ok);
($elapsed, $ok, $out, $err) = timed_psql($node,
	q{SELECT count(kafka.produce('k', 'down', 'lost-' || i, 'x')) FROM generate_series(1, 5000) i});
ok(!$ok, 'COMMIT fails with the brokers down');
like($err, qr/could not deliver messages to kafka topic "down": Local: Message timed out/,
	'the error names the topic');
like($err, qr/within message_timeout \(3 s\)/, 'the hint names the timeout');
cmp_ok($elapsed, '>=', 2.5, sprintf('it waited for message_timeout (%.2f s)', $elapsed));
cmp_ok($elapsed, '<', 10, 'and not much longer');
$broker->ctl('broker_up all');

# a new transaction works at once
$node->safe_psql('postgres', q{SELECT kafka.produce('k', 'down', 'after', 'x')});
sleep(2);
is(consume('down', "%k\n"), "after\nbefore", 'nothing of the failed transaction was delivered, later ones are');

###########################################################################
# Cancel while COMMIT waits for down brokers (message_timeout 60 s).
$node->safe_psql('postgres', q{SELECT kafka.produce('patient', 'down', 'warm', 'x')});
$broker->ctl('broker_down all');
my ($h, $hout, $herr) = start_psql($node,
	q{SELECT count(kafka.produce('patient', 'down', 'cancelled-' || i, 'x')) FROM generate_series(1, 200000) i});
my $pid;
for (1 .. 200)
{
	$pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE '%cancelled-%' AND pid <> pg_backend_pid() AND state = 'active'");
	last if $pid;
	usleep(50_000);
}
ok($pid, 'COMMIT is running');
sleep(2);
ok($h->pumpable, 'and waiting for the brokers');
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
$elapsed = time - $t0;
cmp_ok($elapsed, '<', 1.0, sprintf('cancel during COMMIT returned in %.2f s', $elapsed));
like($$herr, qr/canceling statement due to user request/, 'cancelled');
$broker->ctl('broker_up all');
sleep(3);
is(consume('down', "%k\n"), "after\nbefore\nwarm", 'nothing of the cancelled transaction was delivered');

###########################################################################
# A missing topic fails the commit.
$broker->ctl('topic_error nosuchtopic UNKNOWN_TOPIC_OR_PART');
($elapsed, $ok, $out, $err) = timed_psql($node, q{SELECT kafka.produce('k', 'nosuchtopic', 'k', 'v')});
ok(!$ok, 'COMMIT to a missing topic fails');
like($err, qr/could not deliver messages to kafka topic "nosuchtopic": Broker: Unknown topic or partition/,
	'the error says the topic is unknown');
cmp_ok($elapsed, '<', 10, sprintf('within the message timeout (%.2f s)', $elapsed));
# as does a transaction large enough to look up the topic's partitions
($elapsed, $ok, $out, $err) = timed_psql($node,
	q{SELECT count(kafka.produce('k', 'nosuchtopic', 'k' || i, 'v')) FROM generate_series(1, 5000) i});
ok(!$ok, 'COMMIT of 5000 messages to a missing topic fails');
like($err, qr/could not deliver messages to kafka topic "nosuchtopic": Broker: Unknown topic or partition/,
	'the same way');
cmp_ok($elapsed, '<', 10, sprintf('within the message timeout (%.2f s)', $elapsed));
$broker->ctl('topic_error nosuchtopic 0');

###########################################################################
# Spill: exact delivery of a transaction past the buffer, with a savepoint
# rolled back inside the spilled part.
create_topic($broker, 'spill', 4);
$node->safe_psql('postgres', q{
	SET kafka_fdw.produce_buffer_size = '64kB';
	BEGIN;
	SELECT count(kafka.produce('k', 'spill', 'a' || i, repeat('x', 200) || i)) FROM generate_series(1, 20000) i;
	SAVEPOINT s;
	SELECT count(kafka.produce('k', 'spill', 'b' || i, repeat('y', 200) || i)) FROM generate_series(1, 5000) i;
	ROLLBACK TO s;
	SELECT count(kafka.produce('k', 'spill', 'c' || i, repeat('z', 200) || i)) FROM generate_series(1, 100) i;
	COMMIT;
});
my $spill = consume('spill', "%k %s\n");
my @spill = split /\n/, $spill;
is(scalar(@spill), 20100, 'every message of the spilled transaction was delivered, none undone');
is(scalar(grep { /^a(\d+) x{200}\1$/ || /^c(\d+) z{200}\1$/ } @spill), 20100, 'byte for byte');
like(slurp_file($node->logfile), qr/temporary file: path .*pgsql_tmp/, 'the messages spilled to a temporary file');

# A transaction whose spilled messages were all rolled back commits cleanly.
($elapsed, $ok, $out, $err) = timed_psql($node, q{
	SET kafka_fdw.produce_buffer_size = '64kB';
	BEGIN;
	SAVEPOINT s;
	SELECT count(kafka.produce('k', 'spill', 'u' || i, repeat('u', 200))) FROM generate_series(1, 2000) i;
	ROLLBACK TO s;
	COMMIT;
});
ok($ok, 'COMMIT after rolling back every spilled message');
unlike($err, qr/WARNING/, 'without a warning (no temporary file left open)');
is(scalar(split /\n/, consume('spill', "%k\n")), 20100, 'and nothing more was delivered');

# The spill file is written by a thread of its own; temp_file_limit still
# holds, and the transaction delivers nothing.
($elapsed, $ok, $out, $err) = timed_psql($node, q{
	SET kafka_fdw.produce_buffer_size = '64kB';
	SET temp_file_limit = '1MB';
	BEGIN;
	SELECT count(kafka.produce('k', 'spill', 't' || i, repeat('t', 200))) FROM generate_series(1, 20000) i;
	COMMIT;
});
ok(!$ok, 'a spill past temp_file_limit fails');
like($err, qr/temporary file size exceeds temp_file_limit \(1024kB\)/, 'naming the limit');
is(scalar(split /\n/, consume('spill', "%k\n")), 20100, 'and nothing of it was delivered');

# Spilled records larger than what is read back at a time, between small
# ones, with headers and timestamps.
create_topic($broker, 'spill_large', 1);
$node->safe_psql('postgres', qq{
	CREATE SERVER large FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', "kafka.message.max.bytes" '8000000');
	SET kafka_fdw.produce_buffer_size = '64kB';
	BEGIN;
	SELECT count(kafka.produce('large', 'spill_large', 's' || i,
	                           CASE WHEN i % 3 = 0 THEN repeat(chr(97 + i), 1500000 + i) ELSE repeat('x', 300 + i) END,
	                           CASE WHEN i % 2 = 0 THEN ARRAY[ROW('h', convert_to('v' || i, 'UTF8'))::kafka.header] END,
	                           "timestamp" => CASE WHEN i = 4 THEN timestamptz '2024-01-01 00:00:00+00' END))
	  FROM generate_series(1, 8) i;
	COMMIT;
});
is(consume('spill_large', "%k %S %h\n"),
	join("\n", map { "s$_ " . ($_ % 3 == 0 ? 1500000 + $_ : 300 + $_) . ' ' . ($_ % 2 == 0 ? "h=v$_" : '') } 1 .. 8),
	'large spilled records are delivered whole, in order, with their headers');

###########################################################################
# Large transactions hand their keyed messages to librdkafka grouped by
# partition, placed as librdkafka's partitioner places them: every message
# lands where the same message lands from small transactions (which
# librdkafka places itself), and each partition keeps the order of the rows.
# With the default partitioner and with murmur2 (the Java client's), explicit
# partitions in between and a run of messages without a key.
$node->safe_psql('postgres', qq{
	CREATE SERVER murmur FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', "kafka.partitioner" 'murmur2_random');
});
sub produce_placed
{
	my ($server, $topic, $from, $to) = @_;
	my ($ok, $out, $err) = $node->psql('postgres', qq{
		SET client_min_messages = debug1;
		SELECT count(kafka.produce('$server', '$topic',
		    CASE WHEN i NOT BETWEEN 6001 AND 6050 THEN 'key-' || i END, 'v' || i,
		    "partition" => CASE WHEN i % 10 = 3 THEN 5 END))
		FROM generate_series($from, $to) i;
	});
	die "producing to $topic failed: $err" unless $ok == 0;
	return $err =~ /delivered (\d+) kafka messages \((\d+) grouped by partition\)/ ? ($1, $2) : ();
}
# partition => the values in the order kcat reads them
sub per_partition
{
	my ($topic) = @_;
	my ($ok, $out, $err) = run_cmd([ 'kcat', '-C', '-b', $bs, '-t', $topic, '-e', '-q',
		'-o', 'beginning', '-f', "%p %s\n" ], 120);
	die "kcat failed: $err" unless $ok;
	my %values;
	for (split /\n/, $out)
	{
		my ($p, $v) = split / /;
		push @{ $values{$p} }, substr($v, 1);
	}
	return \%values;
}
for my $server ('k', 'murmur')
{
	create_topic($broker, "placed_${server}_one", 6);
	create_topic($broker, "placed_${server}_small", 6);
	my ($delivered, $grouped) = produce_placed($server, "placed_${server}_one", 1, 12000);
	is($delivered, 12000, "$server: one transaction of 12000 messages");
	# the batches holding the messages without a key are not grouped
	cmp_ok($grouped, '>=', 12000 - 2 * 1024, "$server: $grouped of them handed over grouped by partition");
	for my $chunk (0 .. 5)
	{
		my ($small, $small_grouped) = produce_placed($server, "placed_${server}_small",
			$chunk * 2000 + 1, $chunk * 2000 + 2000);
		die "small transactions are not grouped" unless $small_grouped == 0;
	}
	my $keyed = sub { join("\n", grep { !/^\d+  / } split /\n/, consume($_[0], "%p %k %s\n")) };
	my $one = $keyed->("placed_${server}_one");
	is(scalar(split /\n/, $one), 11950, "$server: every keyed message delivered");
	is($one, $keyed->("placed_${server}_small"),
		"$server: each keyed message in the partition librdkafka chooses for it");
	is(scalar(grep { /^(\d+) key-(\d+) / && $2 % 10 == 3 && $1 != 5 } split /\n/, $one), 0,
		"$server: explicit partitions kept");
	my $values = per_partition("placed_${server}_one");
	my ($total, $ordered) = (0, 1);
	for my $p (keys %$values)
	{
		my @v = @{ $values->{$p} };
		$total += @v;
		$ordered &&= !grep { $v[$_] <= $v[$_ - 1] } 1 .. $#v;
	}
	is($total, 12000, "$server: with the 50 messages without a key");
	ok($ordered, "$server: each partition in the order of the rows");
}

###########################################################################
# Memory: a 250 MB transaction with the default 16 MB buffer; RssAnon stays
# bounded by the buffer and librdkafka's queue, not the transaction.
create_topic($broker, 'big', 8);
my $session = $node->background_psql('postgres', on_error_stop => 0);
my $backend = $session->query_safe('SELECT pg_backend_pid()');
$backend =~ s/\s+//g;
$session->query_safe(q{SELECT kafka.produce('lz4', 'big', 'warm', 'up')});
my ($growth_mib, $polls) = rss_anon_growth($node, $session, $backend,
	q{SELECT count(kafka.produce('lz4', 'big', i::text, repeat(md5(i::text), 30))) FROM generate_series(1, 250000) i;},
	20_000);
$session->quit;
my $bound = 160 + sanitizer_allowance_mib();
cmp_ok($growth_mib, '<', $bound,
	sprintf('RssAnon grew by %.0f MiB (peak of %d samples, bound %d MiB) producing 250 MB', $growth_mib, $polls, $bound));
cmp_ok($polls, '>', 5, 'sampled during the transaction');
my ($count, $distinct) = kcat_count('big');
is("$count $distinct", '250001 250001', 'all 250000 messages (and the first) were delivered once');

$node->stop;
done_testing();
