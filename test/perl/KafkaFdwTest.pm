
=pod

=head1 NAME

KafkaFdwTest - loopback Kafka brokers and kafka_fdw nodes for TAP tests

=head1 SYNOPSIS

  use PostgreSQL::Test::Utils;
  use Test::More;
  use KafkaFdwTest;

  my $broker = start_broker(brokers => 3, topics => ['orders:3']);
  create_topic($broker, 'events', 4);
  my $sent = produce(broker => $broker, topic => 'events', count => 1000,
                     partitions => 4, md5 => 1);
  $broker->ctl('broker_down 2');      # dies unless the reply is "ok ..."

  my $node = new_node('main', broker => $broker);
  is($node->safe_psql('postgres', 'SELECT count(*) FROM ...'), 1000);

  my ($ok, $out, $err) = run_cmd(['kcat', '-L', '-b', $broker->bootstrap]);

=head1 DESCRIPTION

Brokers are kafka_test_broker processes (librdkafka's mock cluster on
127.0.0.1) private to the test file; they are stopped in an END block, and
die with the test process even if it is killed.  run_tests.sh sets
KAFKA_TEST_BROKER_BIN, KAFKA_TEST_PRODUCE, KT_PYTHON and SRCDIR; when they
are missing the paths are derived from this file's location.

=cut

package KafkaFdwTest;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time usleep);

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(extension_equals_fresh_install start_broker start_schema_registry new_node produce
  create_topic topic_checksum run_cmd timed_psql start_psql proc_status
  rss_anon_growth sanitizer_allowance_mib $srcdir start_produce finish_produce wait_for_value
  wait_for_active
  query_retrying stream_worker_pid stream_consumed kcat_produce_keyed consumer_group_offsets);

our $srcdir = $ENV{SRCDIR}
  // File::Spec->rel2abs(dirname(__FILE__) . '/../..');
my $broker_bin = $ENV{KAFKA_TEST_BROKER_BIN}
  // "$srcdir/test/broker/kafka_test_broker";
my $produce_py = $ENV{KAFKA_TEST_PRODUCE} // "$srcdir/test/fixtures/produce.py";
my $python = $ENV{KT_PYTHON} // '/usr/bin/python3';
my $registry_py = $ENV{KAFKA_TEST_SCHEMA_REGISTRY_BIN}
  // "$srcdir/test/fixtures/schema_registry.py";

my @brokers;
my @registries;

=pod

=over

=item start_broker(%opts)

Starts a test broker: C<brokers> (default 3), C<topics> (list of
C<NAME:PARTITIONS>).  Returns a KafkaFdwTest::Broker with C<bootstrap>,
C<state_dir>, C<ctl($command)>, C<ctl_reply($command)>, C<create_topic>,
C<stop>, C<logfile>.

=cut

sub start_broker
{
	my (%opts) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('broker');
	my $number = scalar(@brokers) + 1;
	(my $test = basename_noext($0)) =~ s/[^A-Za-z0-9_]/_/g;
	my $log = "$PostgreSQL::Test::Utils::log_path/${test}_broker$number.log";
	my @cmd = (
		$broker_bin, '--state-dir', $dir, '--exit-with-parent',
		'--brokers', $opts{brokers} // 3,
		map { ('--topic', $_) } @{ $opts{topics} // [] });

	croak "test broker $broker_bin is not built" unless -x $broker_bin;
	my $self = bless {
		state_dir => $dir,
		log => $log,
		brokers => $opts{brokers} // 3,
	}, 'KafkaFdwTest::Broker';
	push @brokers, $self;
	my $pid = spawn_daemon($self, 'test broker', \@cmd, '>', $log, "$dir/bootstrap");
	$self->{bootstrap} = PostgreSQL::Test::Utils::slurp_file("$dir/bootstrap");
	chomp $self->{bootstrap};
	note "test broker $number (pid $pid) at $self->{bootstrap}";
	return $self;
}

=pod

=item start_schema_registry(%opts)

Starts the fixture Schema Registry (test/fixtures/schema_registry.py) on
127.0.0.1: C<user> and C<password> make it require HTTP basic auth, C<tls_cert>
and C<tls_key> (PEM files) make it speak HTTPS.
Returns a KafkaFdwTest::SchemaRegistry with C<url>, C<user>, C<password>,
C<state_dir>, C<down> / C<up> (503 to every request while down),
C<requests> (the lines of its request log), C<stop> and C<restart> (the
same port: a registry that was unreachable comes back).

=cut

sub start_schema_registry
{
	my (%opts) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('schema_registry');
	my $self = bless {
		state_dir => $dir,
		user => $opts{user},
		password => $opts{password},
		tls_cert => $opts{tls_cert},
		tls_key => $opts{tls_key},
	}, 'KafkaFdwTest::SchemaRegistry';
	$self->start(0);
	push @registries, $self;
	return $self;
}

=pod

=item create_topic($broker, $name, $partitions)

=cut

sub create_topic
{
	my ($broker, $name, $partitions) = @_;
	return $broker->ctl("create_topic $name $partitions");
}

=pod

=item new_node($name, %opts)

A PostgreSQL::Test::Cluster node with kafka_fdw preloaded and created in the
postgres database.  Options: C<broker> (sets kafka_fdw_test.bootstrap_servers),
C<schema_registry> (sets kafka_fdw_test.schema_registry_url, _user, _password),
C<conf> (extra postgresql.conf text), C<init> (hashref for init()),
C<preload> (default 1), C<create_extension> (default 1), C<start> (default 1).
Dies with the server log or the CREATE EXTENSION error when kafka_fdw cannot
be loaded, rather than failing later in an obscure way.

=cut

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });

	my $conf = "max_worker_processes = 16\nlc_messages = 'C'\n";
	$conf .= "shared_preload_libraries = 'kafka_fdw'\n"
	  if $opts{preload} // 1;
	$conf .= "kafka_fdw_test.bootstrap_servers = '" . $opts{broker}->bootstrap . "'\n"
	  if $opts{broker};
	if (my $registry = $opts{schema_registry})
	{
		$conf .= "kafka_fdw_test.schema_registry_url = '" . $registry->url . "'\n";
		$conf .= "kafka_fdw_test.schema_registry_user = '" . ($registry->user // '') . "'\n";
		$conf .= "kafka_fdw_test.schema_registry_password = '" . ($registry->password // '') . "'\n";
	}
	$conf .= "$opts{conf}\n" if defined $opts{conf};
	$node->append_conf('postgresql.conf', $conf);

	return $node unless $opts{start} // 1;

	unless ($node->start(fail_ok => 1))
	{
		my $log = slurp_or_empty($node->logfile);
		my @lines = split /\n/, $log;
		splice(@lines, 0, @lines - 20) if @lines > 20;
		croak "node $name did not start (is kafka_fdw installed? make install):\n"
		  . join("\n", @lines);
	}
	if ($opts{create_extension} // 1)
	{
		my ($ret, $out, $err) =
		  $node->psql('postgres', 'CREATE EXTENSION kafka_fdw');
		croak "CREATE EXTENSION kafka_fdw failed on node $name: $err"
		  if $ret != 0;
	}
	return $node;
}

=pod

=item produce(%opts)

Runs test/fixtures/produce.py.  C<broker> (or C<bootstrap>), C<topic>,
C<count>; every other key becomes an option: C<< value_size => 100 >> is
C<--value-size 100>, a true C<< json => 1 >> is C<--json>, an array ref
repeats the option (C<< X => ['acks=all'] >>).  Returns the decoded JSON
summary (topic, count, partitions, md5 when C<< md5 => 1 >>); dies if
produce.py fails.

=cut

sub produce
{
	my (%opts) = @_;
	my $out = run_produce_py(%opts);
	my @lines = grep { /^\{/ } split /\n/, $out;
	return @lines ? decode_json($lines[-1]) : undef;
}

=pod

=item topic_checksum(broker => $broker, topic => $topic)

Reads the topic back with an independent client (confluent-kafka) from the
low to the high watermarks; returns { count, md5 } with the canonical
checksum documented in produce.py.

=cut

sub topic_checksum
{
	my (%opts) = @_;
	my $out = run_produce_py(%opts, checksum => 1);
	my @lines = grep { /^\{/ } split /\n/, $out;
	return decode_json($lines[-1]);
}

sub run_produce_py
{
	my (%opts) = @_;
	my $broker = delete $opts{broker};
	my $bootstrap = delete $opts{bootstrap} // ($broker && $broker->bootstrap)
	  // croak "produce needs broker or bootstrap";
	my $timeout = delete $opts{timeout} // 300;
	my @cmd = ($python, $produce_py, '--bootstrap', $bootstrap);
	push @cmd, '--state-dir', $broker->state_dir if $broker;
	foreach my $key (sort keys %opts)
	{
		my $value = $opts{$key};
		(my $flag = $key) =~ tr/_/-/;
		$flag = length($flag) == 1 ? "-$flag" : "--$flag";
		if (ref $value eq 'ARRAY')
		{
			push @cmd, map { ($flag, $_) } @$value;
		}
		elsif ($key =~ /^(json|md5|null_keys|idempotent|quiet|checksum)$/)
		{
			push @cmd, $flag if $value;
		}
		else
		{
			push @cmd, $flag, $value;
		}
	}
	my ($ok, $out, $err) = run_cmd(\@cmd, $timeout);
	croak "produce.py failed: @cmd\n$err$out" unless $ok;
	return $out;
}

=pod

=item run_cmd(\@cmd [, $timeout_seconds])

Runs a command without a shell; returns ($success, $stdout, $stderr).  A
command still running after the timeout (default 180 s) is killed and
counts as failed.

=cut

sub run_cmd
{
	my ($cmd, $timeout) = @_;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout($timeout // 180));
	};
	if (my $e = $@)
	{
		$err .= "\n$e";
		$ok = 0;
	}
	return ($ok ? 1 : 0, $out, $err);
}

=pod

=item timed_psql($node, $sql)

Runs SQL in its own psql (ON_ERROR_STOP); returns (elapsed seconds,
success, stdout, stderr).

=item start_psql($node, $sql)

Starts SQL in its own psql in the background; returns the IPC::Run handle
and references to its stdout and stderr.

=cut

sub psql_command
{
	my ($node, $sql) = @_;
	return [ 'psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('postgres'), '-c', $sql ];
}

sub timed_psql
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $start = time;
	my $ok = IPC::Run::run(psql_command($node, $sql), '>', \$out, '2>', \$err);
	return (time - $start, $ok, $out, $err);
}

sub start_psql
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(psql_command($node, $sql), '>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

=pod

=item proc_status($pid, $field)

A numeric field of /proc/PID/status (RssAnon in kB, Threads ...), or undef.

=item rss_anon_growth($node, $session, $backend, $sql, $poll_us)

Runs SQL in the BackgroundPsql $session (whose backend pid is $backend) and
samples the backend's RssAnon every $poll_us microseconds until the session
prints that the statement ended.  Returns (growth over the value before, in
MiB; number of samples).

=item sanitizer_allowance_mib()

What the AddressSanitizer runtime may keep of a server process's memory on
top of what the extension holds: its quarantine of freed blocks
(quarantine_size_mb of ASAN_OPTIONS, which the suite's sanitizer pass sets
for the server and its tests alike; 256 MiB when not given).  0 outside the
sanitizer pass.  Memory bounds add it: the uninstrumented pass checks the
extension's own bound, the sanitized one that bound with the sanitizer's
quarantine.

=cut

sub sanitizer_allowance_mib
{
	my $options = $ENV{ASAN_OPTIONS};
	return 0 unless defined $options;
	return $options =~ /(?:^|:)quarantine_size_mb=(\d+)/ ? $1 : 256;
}

sub proc_status
{
	my ($pid, $field) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>) { return $1 if /^$field:\s+(\d+)/; }
	return undef;
}

sub rss_anon_growth
{
	my ($node, $session, $backend, $sql, $poll_us) = @_;
	my $base = proc_status($backend, 'RssAnon');
	$session->query_until(qr/started/, "\\echo started\n$sql\n\\echo finished\n");
	my $peak = $base;
	my $polls = 0;
	my $deadline = time() + 600;
	# the session's own output says when the statement is done: no other
	# connection is made while sampling, so samples come every $poll_us
	while (1)
	{
		my $rss = proc_status($backend, 'RssAnon');
		$peak = $rss if defined $rss && $rss > $peak;
		$polls++;
		$session->{run}->pump_nb;
		last if $session->{stdout} =~ /^finished\r?$/m;
		croak "rss_anon_growth: $sql did not finish" if time() > $deadline;
		usleep($poll_us);
	}
	$session->{stdout} = '';
	$session->query('SELECT 1');
	return (($peak - $base) / 1024, $polls);
}

sub basename_noext
{
	my ($path) = @_;
	my $name = File::Basename::basename($path);
	$name =~ s/\.[^.]+$//;
	return $name;
}

# Starts a fixture process (the test broker, the schema registry) with its
# output in $log (opened with $mode, '>' or '>>'), records its pid in
# $self->{pid} and waits until it has written $ready_file; croaks with the
# log when it dies or takes more than 30 s.
sub spawn_daemon
{
	my ($self, $what, $cmd, $mode, $log, $ready_file) = @_;
	my $pid = fork();
	croak "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, $mode, $log) or POSIX::_exit(127);
		open(STDERR, '>&', \*STDOUT);
		exec(@$cmd) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	my $deadline = time() + 30;
	until (-s $ready_file)
	{
		if (waitpid($pid, WNOHANG) == $pid || time() > $deadline)
		{
			delete $self->{pid};
			croak "$what did not start:\n" . slurp_or_empty($log);
		}
		usleep(50_000);
	}
	return $pid;
}

# Stops a process started by spawn_daemon: TERM, then KILL after 5 s.
sub stop_daemon
{
	my ($self) = @_;
	my $pid = delete $self->{pid};
	return unless $pid;
	kill 'TERM', $pid;
	for (1 .. 100)
	{
		return if waitpid($pid, WNOHANG) == $pid;
		usleep(50_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return;
}

sub slurp_or_empty
{
	my ($path) = @_;
	return -f $path ? PostgreSQL::Test::Utils::slurp_file($path) : '';
}

=pod

=item start_produce(%opts)

produce() in the background: the same options, run in a forked child so the
test can act while the records go out.  Returns a handle for
finish_produce.

=item finish_produce($handle [, $timeout_seconds])

Waits for a start_produce child (default 300 s, then it is killed); returns
the decoded JSON summary as produce() does, dies if producing failed.

=cut

sub start_produce
{
	my (%opts) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('produce');
	my $pid = fork();
	croak "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# the child must not run the parent's END blocks (they stop the
		# brokers and the nodes): leave with _exit
		my $status = 1;
		eval {
			my $out = run_produce_py(%opts);
			open(my $fh, '>', "$dir/out") or die "$dir/out: $!";
			print $fh $out;
			close($fh) or die "$dir/out: $!";
			$status = 0;
		};
		if ($@ && open(my $fh, '>', "$dir/error"))
		{
			print $fh $@;
			close($fh);
		}
		POSIX::_exit($status);
	}
	return { pid => $pid, dir => $dir, what => "produce $opts{count} to $opts{topic}" };
}

sub finish_produce
{
	my ($handle, $timeout) = @_;
	my $deadline = time() + ($timeout // 300);
	my $status;
	while (1)
	{
		if (waitpid($handle->{pid}, WNOHANG) == $handle->{pid})
		{
			$status = $?;
			last;
		}
		if (time() > $deadline)
		{
			kill 'KILL', $handle->{pid};
			waitpid($handle->{pid}, 0);
			croak "$handle->{what} did not finish in time";
		}
		usleep(20_000);
	}
	croak "$handle->{what} failed: " . slurp_or_empty("$handle->{dir}/error")
	  if $status != 0;
	my @lines = grep { /^\{/ } split /\n/, slurp_or_empty("$handle->{dir}/out");
	return @lines ? decode_json($lines[-1]) : undef;
}

# Poll $sql in database $db of $node until it returns $expected, for at
# most $seconds of wall-clock time (the suite asserts values, not time),
# through a server restart; the pause between tries grows from 50 ms to
# 300 ms.
# Returns 1, or 0 after a diag naming $what with the last value seen.
sub wait_for_value
{
	my ($node, $db, $sql, $expected, $what, $seconds) = @_;
	my $deadline = time() + $seconds;
	my $pause = 0.05;
	my $got;
	while (1)
	{
		$got = query_retrying($node, $sql, $db);
		return 1 if $got eq $expected;
		last if time() > $deadline;
		# each try is a new psql and backend: back off to 0.3 s
		usleep($pause * 1_000_000);
		$pause = $pause * 1.5 < 0.3 ? $pause * 1.5 : 0.3;
	}
	diag("$what: got '$got', expected '$expected'");
	return 0;
}

# Waits, for at most $seconds by the clock, until backend or worker $pid of
# $node is active (pg_stat_activity); returns whether it is.  For tests that
# kill a worker mid-batch: one that is already idle again is killed there.
sub wait_for_active
{
	my ($node, $pid, $seconds) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		return 1 if query_retrying($node,
			"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'") eq '1';
		usleep(5_000);
	}
	return 0;
}

# The result of $sql in database $db (default postgres) of $node, retried
# every 100 ms (for at most a minute) while the server restarts, as it does
# after a backend or worker is SIGKILLed; any other error dies.
sub query_retrying
{
	my ($node, $sql, $db) = @_;
	for (1 .. 600)
	{
		# psql refused at once (the server restarting) may exit before it
		# reads the query: IPC::Run then dies writing it (Broken pipe)
		my ($ret, $out, $err) = eval { $node->psql($db // 'postgres', $sql) };
		if (!defined $ret)
		{
			croak "$sql: $@" unless $@ =~ /Broken pipe/;
			($ret, $err) = (2, 'closed');
		}
		return $out if $ret == 0;
		croak "$sql: $err"
		  unless $err =~ /terminating|shut down|starting up|recovery|connect|closed/;
		usleep(100_000);
	}
	croak "no answer to $sql";
}

# The pid of the worker of streaming table public.$stream, waiting up to a
# minute for it to start; undef if it does not.
sub stream_worker_pid
{
	my ($node, $stream) = @_;
	for (1 .. 600)
	{
		my $pid = query_retrying($node, qq{SELECT pid FROM pg_stat_activity
			WHERE backend_type = 'kafka_fdw stream worker'
			  AND application_name = 'kafka_fdw stream public.$stream'});
		return $pid if $pid;
		usleep(100_000);
	}
	return undef;
}

# The records streaming table $stream has committed: the sum of its offsets.
sub stream_consumed
{
	my ($node, $stream) = @_;
	return query_retrying($node, qq{SELECT coalesce(sum(next_offset), 0)
		FROM kafka.stream_offsets WHERE stream = '$stream'::regclass});
}

# The offsets consumer group $group committed on partitions 0 .. $partitions
# - 1 of $topic and their high watermarks, read by an independent client
# (confluent-kafka's OffsetFetch, as lag tools do): [[partition, committed,
# high], ...], committed -1001 where the group has none.
sub consumer_group_offsets
{
	my ($bootstrap, $group, $topic, $partitions) = @_;
	my $script = q{
import json, sys
from confluent_kafka import Consumer, TopicPartition
bs, group, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({'bootstrap.servers': bs, 'group.id': group, 'enable.auto.commit': False})
out = []
for tp in c.committed([TopicPartition(topic, p) for p in range(n)], timeout=30):
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=30)
    out.append([tp.partition, tp.offset, hi])
c.close()
print(json.dumps(out))
};
	my ($ok, $out, $err) = run_cmd([ $python, '-c', $script, $bootstrap, $group, $topic, $partitions ], 120);
	croak "reading the offsets of consumer group $group failed: $err" unless $ok;
	return decode_json((grep { /^\[/ } split /\n/, $out)[-1]);
}

# Produce "key|value" lines to $topic with kcat (-K '|'), more kcat
# options after them (-Z: an empty value is a tombstone; -p 0; -H name=v).
sub kcat_produce_keyed
{
	my ($bootstrap, $topic, $lines, @options) = @_;
	my $input = join("\n", @$lines) . "\n";
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'kcat', '-P', '-b', $bootstrap, '-t', $topic, '-K', '|', @options ],
		'<', \$input, '>', \$out, '2>', \$err, IPC::Run::timeout(300))
	  or die "kcat failed: $err";
	return;
}

END
{
	local $?;
	$_->stop foreach reverse @brokers;
	$_->stop foreach reverse @registries;
}

# Are the objects of extension kafka_fdw in database $db of $node those of a
# fresh install of $version (undef: the default version)?  Lists the
# differences with diag; returns true when there are none.
sub extension_equals_fresh_install
{
	my ($node, $db, $version) = @_;
	my $describe = q{
WITH members AS (
  SELECT classid, objid, objsubid FROM pg_depend
   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kafka_fdw')),
lines AS (
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
  UNION ALL
  SELECT format('function %s acl=%s %s', p.oid::regprocedure, p.proacl, pg_get_functiondef(p.oid))
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
   WHERE p.prokind IN ('f', 'p')
  UNION ALL
  SELECT format('relation %s kind=%s options=%s acl=%s rls=%s', c.oid::regclass, c.relkind,
                c.reloptions, c.relacl, c.relrowsecurity)
    FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
  UNION ALL
  SELECT format('column %s %s %s %s notnull=%s default=%s acl=%s', a.attrelid::regclass, a.attnum,
                a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid), a.attacl)
    FROM pg_attribute a JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s %s %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = co.conrelid
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = i.indrelid
  UNION ALL
  SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
   WHERE c.relkind = 'v'
  UNION ALL
  SELECT format('policy %s %s %s %s', p.polrelid::regclass, p.polname, p.polcmd,
                pg_get_expr(p.polqual, p.polrelid))
    FROM pg_policy p JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = p.polrelid
  UNION ALL
  SELECT format('event trigger %s %s %s %s %s', e.evtname, e.evtevent, e.evttags, e.evtfoid::regproc, e.evtenabled)
    FROM pg_event_trigger e JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
  UNION ALL
  SELECT format('initial privileges %s %s %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
                ip.privtype, ip.initprivs)
    FROM pg_init_privs ip JOIN members m ON m.classid = ip.classoid AND m.objid = ip.objoid
  UNION ALL
  SELECT format('comment %s %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
    FROM pg_description d JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid
  UNION ALL
  SELECT format('extension %s config %s %s', e.extversion,
                (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(e.extconfig) c),
                e.extcondition)
    FROM pg_extension e WHERE e.extname = 'kafka_fdw')
SELECT line FROM lines ORDER BY line};
	my $fresh = 'fresh_install_' . ($version // 'default');
	$fresh =~ s/\W/_/g;
	$node->safe_psql($db, "CREATE DATABASE $fresh");
	$node->safe_psql($fresh, 'CREATE EXTENSION kafka_fdw' . (defined $version ? " VERSION '$version'" : ''));
	my @updated = split /\n/, $node->safe_psql($db, $describe);
	my @installed = split /\n/, $node->safe_psql($fresh, $describe);
	$node->safe_psql($db, "DROP DATABASE $fresh");
	my %in_installed = map { $_ => 1 } @installed;
	my %in_updated = map { $_ => 1 } @updated;
	my @only_updated = grep { !$in_installed{$_} } @updated;
	my @only_installed = grep { !$in_updated{$_} } @installed;
	Test::More::diag("only after the update: $_") for @only_updated;
	Test::More::diag("only in a fresh install: $_") for @only_installed;
	return @updated > 50 && @only_updated + @only_installed == 0;
}


package KafkaFdwTest::SchemaRegistry;

use strict;
use warnings;

use Carp;
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep);

sub url { return $_[0]->{url}; }
sub user { return $_[0]->{user}; }
sub password { return $_[0]->{password}; }
sub state_dir { return $_[0]->{state_dir}; }

sub start
{
	my ($self, $port) = @_;
	my $dir = $self->{state_dir};
	my @cmd = ($python, $registry_py, '--state-dir', $dir, '--port', $port);
	push @cmd, '--user', $self->{user}, '--password', $self->{password} // ''
	  if defined $self->{user};
	push @cmd, '--tls-cert', $self->{tls_cert}, '--tls-key', $self->{tls_key}
	  if defined $self->{tls_cert};
	unlink "$dir/url";
	my $log = "$dir/registry.log";
	my $pid = KafkaFdwTest::spawn_daemon($self, 'schema registry', \@cmd, '>>', $log,
		"$dir/url");
	$self->{url} = PostgreSQL::Test::Utils::slurp_file("$dir/url");
	chomp $self->{url};
	Test::More::note("schema registry (pid $pid) at $self->{url}");
	return $self;
}

sub down
{
	my ($self) = @_;
	open(my $fh, '>', "$self->{state_dir}/down") or croak "down: $!";
	close $fh;
	return;
}

sub up
{
	my ($self) = @_;
	unlink "$self->{state_dir}/down";
	return;
}

sub requests
{
	my ($self) = @_;
	my $log = KafkaFdwTest::slurp_or_empty("$self->{state_dir}/requests.log");
	return split /\n/, $log;
}

# Starts it again on the same port (after stop).  Schemas registered before
# are served again: the fixture keeps them in its state directory.
sub restart
{
	my ($self) = @_;
	my ($port) = $self->{url} =~ /:(\d+)$/;
	$self->stop;
	return $self->start($port);
}

sub stop
{
	my ($self) = @_;
	return KafkaFdwTest::stop_daemon($self);
}

package KafkaFdwTest::Broker;

use strict;
use warnings;

use Carp;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(usleep);

sub bootstrap { return $_[0]->{bootstrap}; }
sub state_dir { return $_[0]->{state_dir}; }
sub logfile { return $_[0]->{log}; }
sub broker_count { return $_[0]->{brokers}; }

# One control command; returns the reply line ("ok ..." or "error ...").
sub ctl_reply
{
	my ($self, $command) = @_;
	my $port = PostgreSQL::Test::Utils::slurp_file("$self->{state_dir}/control_port");
	chomp $port;
	my $sock = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto => 'tcp',
		Timeout => 30) or croak "cannot reach the test broker control port $port: $!";
	print $sock "$command\n";
	my $reply = <$sock>;
	close $sock;
	croak "no reply from the test broker to \"$command\"" unless defined $reply;
	$reply =~ s/\r?\n\z//;
	return $reply;
}

# One control command; dies unless the broker answers "ok ...".
sub ctl
{
	my ($self, $command) = @_;
	my $reply = $self->ctl_reply($command);
	croak "test broker refused \"$command\": $reply" unless $reply =~ /^ok\b/;
	return $reply;
}

sub create_topic
{
	my ($self, $name, $partitions) = @_;
	return $self->ctl("create_topic $name $partitions");
}

sub stop
{
	my ($self) = @_;
	return KafkaFdwTest::stop_daemon($self);
}

=pod

=back

=cut


1;
