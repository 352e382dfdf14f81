# kafka.delta_export() writes files as the server's OS user, so it follows
# the rules of COPY TO a file and more: superuser or pg_write_server_files
# only; absolute paths without ".."; no symbolic link anywhere on the way or
# inside the table; files created exclusively, never through a planted link.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $node = new_node('delta_security');
my $base = $node->data_dir . '/security';
mkdir $base or die "mkdir $base: $!";

sub export_as
{
	my ($user, $path) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET client_min_messages = warning; SELECT version FROM kafka.delta_export('SELECT 1 AS a', '$path')",
		extra_params => [ '-U', $user ]);
	return ($ret, $out, $err);
}

sub entries
{
	my ($dir) = @_;
	opendir(my $dh, $dir) or return ();
	my @names = sort grep { !/^\.\.?$/ } readdir($dh);
	closedir($dh);
	return @names;
}

$node->safe_psql('postgres', q{
	CREATE ROLE plain_user LOGIN;
	CREATE ROLE file_writer LOGIN IN ROLE pg_write_server_files;
	GRANT USAGE ON SCHEMA kafka TO plain_user, file_writer;
});

# Privileges.
my ($ret, $out, $err) = export_as('plain_user', "$base/by_plain_user");
isnt($ret, 0, 'a role without pg_write_server_files is refused');
like($err, qr/permission denied to export to a Delta table/, 'with a clear error');
ok(!-e "$base/by_plain_user", 'and nothing is created');

($ret, $out, $err) = export_as('file_writer', "$base/by_file_writer");
is($ret, 0, 'a member of pg_write_server_files may export') or diag $err;
ok(-f "$base/by_file_writer/_delta_log/00000000000000000000.json", 'its table exists');

# Paths.
($ret, $out, $err) = export_as('postgres', "$base/a/../escaped");
like($err, qr/must not contain "\.\."/, '".." is refused');
ok(!-e "$base/escaped" && !-e "$base/a", 'nothing created for a ".." path');

mkdir "$base/real" or die;
symlink("$base/real", "$base/link") or die "symlink: $!";
($ret, $out, $err) = export_as('postgres', "$base/link/table");
like($err, qr/goes through a symbolic link/, 'a symlinked directory on the way is refused');
like($err, qr/"\Q$base\E\/link" is a symbolic link/, 'the error names the link');
is_deeply([ entries("$base/real") ], [], 'nothing written behind the link');

mkdir "$base/real/table" or die;
symlink("$base/real/table", "$base/table_link") or die;
($ret, $out, $err) = export_as('postgres', "$base/table_link");
like($err, qr/goes through a symbolic link/, 'a symlinked table directory is refused');
is_deeply([ entries("$base/real/table") ], [], 'nothing written into the link target');

mkdir "$base/log_link" or die;
mkdir "$base/real/log" or die;
symlink("$base/real/log", "$base/log_link/_delta_log") or die;
($ret, $out, $err) = export_as('postgres', "$base/log_link");
like($err, qr/goes through a symbolic link/, 'a symlinked _delta_log is refused');
is_deeply([ entries("$base/real/log") ], [], 'no commit written through it');
is_deeply([ entries("$base/log_link") ], ['_delta_log'], 'and no data file left in the table directory');

# A link planted where the next commit goes: the commit fails, the link's
# target is not touched.
my $victim = "$base/victim.txt";
PostgreSQL::Test::Utils::append_to_file($victim, "precious\n");
($ret, $out, $err) = export_as('postgres', "$base/planted");
is($ret, 0, 'table for the planted link test created') or diag $err;
symlink($victim, "$base/planted/_delta_log/00000000000000000001.json") or die;
($ret, $out, $err) = export_as('postgres', "$base/planted");
isnt($ret, 0, 'an export onto a planted link fails');
like($err, qr/could not open file/, 'reading the linked version is refused');
is(slurp_file($victim), "precious\n", 'the link target is unchanged');
is(scalar(grep { /\.parquet$/ } entries("$base/planted")), 1, 'the failed export left no data file');

# A regular file where a directory is expected.
PostgreSQL::Test::Utils::append_to_file("$base/plain_file", "x");
($ret, $out, $err) = export_as('postgres', "$base/plain_file/table");
like($err, qr/is not a directory/, 'a file on the way is refused');

$node->stop;
done_testing();
