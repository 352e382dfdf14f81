# The user documentation stays honest: the README is a short overview with
# the two set-up commands exactly as the scripts are called, every relative
# link between the documents reaches a file and every #anchor a heading
# (GitHub's slugs), and doc/security.md lists every librdkafka property the
# policy in src/common/kafka_properties.c knows.  Needs no server or broker.

use strict;
use warnings;

use FindBin;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root = $ENV{SRCDIR} // File::Spec->rel2abs("$FindBin::Bin/../..");

sub slurp
{
	my ($path) = @_;
	open(my $fh, '<:encoding(UTF-8)', $path) or die "cannot read $path: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# The documents whose links are checked (relative to the root).
my @docs = ('README.md', 'test/README.md', 'src/codec/README.md');
opendir(my $dh, "$root/doc") or die "cannot open $root/doc: $!";
push @docs, map { "doc/$_" } sort grep { /\.md$/ } readdir $dh;
closedir $dh;

# Every expected document exists: error hints and other documents link to
# them by these names.
for my $name (qw(reading foreign-tables producing streaming-tables formats
	delta security operations benchmarks architecture))
{
	ok(-f "$root/doc/$name.md", "doc/$name.md exists");
}

# --- the README: short, with the two commands as they are called ---------

my $readme = slurp("$root/README.md");
my $lines = () = $readme =~ /\n/g;
cmp_ok($lines, '<=', 220, "README.md is at most 220 lines ($lines)");
like($readme, qr/^    bash scripts\/demo\.sh /m, 'README shows "bash scripts/demo.sh"');
like($readme, qr/^    bash scripts\/test\.sh /m, 'README shows "bash scripts/test.sh"');
ok(-f "$root/scripts/demo.sh" && -f "$root/scripts/test.sh", 'both scripts exist');
like(slurp("$root/.ci/run"), qr/^bash scripts\/test\.sh$/m, '.ci/run runs the second command');

# --- links and anchors ------------------------------------------------------

# The lines of a Markdown text outside fenced and indented code blocks
# (four spaces after a blank line), with inline code spans removed.
sub prose_lines
{
	my ($text) = @_;
	my (@out, $fence, $code);
	my $prev_blank = 1;
	for my $line (split /\n/, $text)
	{
		my $blank = $line =~ /^\s*$/;
		if ($line =~ /^\s*(```|~~~)/)
		{
			$fence = !$fence;
		}
		elsif (!$fence)
		{
			$code = $line =~ /^(    |\t)/ && ($prev_blank || $code) if !$blank;
			push @out, $line if !$code;
		}
		$prev_blank = $blank;
	}
	# code spans may wrap: remove them from the whole text
	(my $prose = join("\n", @out)) =~ s/`[^`]*`//g;
	return split /\n/, $prose;
}

# GitHub's anchor for a heading: the rendered text lower-cased, everything
# but letters, digits, spaces, '-' and '_' dropped, spaces to '-'; repeated
# headings get -1, -2, ...
sub anchors
{
	my ($text) = @_;
	my (%anchors, %seen, $fence);
	for my $line (split /\n/, $text)
	{
		if ($line =~ /^\s*(```|~~~)/)
		{
			$fence = !$fence;
			next;
		}
		next if $fence;
		next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;
		my $heading = $1;
		$heading =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;	# links: their text
		$heading =~ s/[`*]//g;					# code and emphasis marks
		my $slug = lc $heading;
		$slug =~ s/[^\p{L}\p{N} _-]//g;
		$slug =~ s/ /-/g;
		my $n = $seen{$slug}++;
		$anchors{ $n ? "$slug-$n" : $slug } = 1;
	}
	return \%anchors;
}

my %anchor_cache;
my $links = 0;
for my $doc (@docs)
{
	my $text = slurp("$root/$doc");
	my $dir = dirname($doc);
	for my $line (prose_lines($text))
	{
		while ($line =~ /\]\(([^)\s]+)\)/g)
		{
			my $target = $1;
			next if $target =~ /^[a-z][a-z0-9+.-]*:/i;	# http:, https:, mailto:
			$links++;
			my ($file, $anchor) = $target =~ /^([^#]*)(?:#(.*))?$/;
			my $path = $file eq '' ? $doc : File::Spec->canonpath("$dir/$file");
			1 while $path =~ s{(^|/)(?!\.\./)[^/]+/\.\./}{$1};	# a/b/../c -> a/c
			$path =~ s{^\./}{};
			if (!-e "$root/$path")
			{
				fail("$doc: link to $target: $path does not exist");
				next;
			}
			next unless defined $anchor;
			if ($path !~ /\.md$/)
			{
				fail("$doc: link to $target: an anchor into a file that is not Markdown");
				next;
			}
			$anchor_cache{$path} //= anchors(slurp("$root/$path"));
			ok($anchor_cache{$path}{$anchor}, "$doc: #$anchor is a heading of $path")
			  or diag "headings of $path: " . join(', ', sort keys %{ $anchor_cache{$path} });
		}
	}
}
cmp_ok($links, '>=', 30, "relative links found and checked ($links)");

# --- the librdkafka property list -------------------------------------------

my $policy = slurp("$root/src/common/kafka_properties.c");
my ($rules) = $policy =~ /property_rules\[\]\s*=\s*\{(.*?)\n\};/s;
ok(defined $rules, 'the property table of kafka_properties.c is found');
my @properties = ($rules // '') =~ /^\s*\{"([^"]+)",\s*RULE_/mg;
cmp_ok(scalar @properties, '>=', 100, scalar(@properties) . ' properties in the policy');
push @properties, 'test.mock.*' if $policy =~ /"test\.mock\."/;
my $security = slurp("$root/doc/security.md");
my @missing = grep { index($security, "`$_`") < 0 } @properties;
is(join(', ', @missing), '', 'doc/security.md names every property of the policy');

done_testing();
