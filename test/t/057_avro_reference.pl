# Our Avro decoder against the reference, libavro-c (test/verify/avro_reference):
# random schemas (nested records, unions, arrays, maps, enums, fixed, every
# primitive, namespaces and references to named types) and random values written by libavro-c are decoded by libavro-c
# and by kafka.from_avro, in one batch query, and must agree; each payload
# cut short by a byte must be refused by both.  Then the schema check that
# runs libavro-c's parser after ours: what it refuses is refused with its
# reason in the DETAIL (a table's avro_schema, from_avro's schema argument, a
# registry schema), and the two forms we accept although libavro-c refuses
# them are accepted.
#
# The two renderings are compared after this normalisation, walking the
# schema:
# - unions: libavro-c writes {"<branch type name>": value} (null bare), we
#   write the value; the branch libavro-c names is the schema used below;
# - bytes and fixed: libavro-c writes one character per byte (U+0000 to
#   U+00FF), we write "\x<hex>";
# - float and double: libavro-c prints 17 digits of the double, we print the
#   shortest text that reads back to the same float or double (and jsonb has
#   no negative zero): equal when ours reads back to libavro-c's value (for
#   a float: lies within half a unit in the last place of the float), zeros
#   of either sign alike;
# - everything else (null, boolean, int, long, string, enum, array, map,
#   record) must be equal as JSON.
# The values avoid what one of the renderings cannot express (see the
# tool's header): NaN and infinities, NUL in strings, zero bytes in bytes
# and fixed.
#
# The cases depend on the seed only: KT_AVRO_REFERENCE_SEED=<n> reruns a
# failing one (the seed is printed on failure), KT_AVRO_REFERENCE_CASES=<schemas>x<values>
# changes the size.

use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

my $tool = "$srcdir/test/verify/avro_reference";
BAIL_OUT("$tool is missing: make testtools") unless -x $tool;

my $seed = $ENV{KT_AVRO_REFERENCE_SEED} // 17;
my ($nschemas, $nvalues) = split /x/, ($ENV{KT_AVRO_REFERENCE_CASES} // '60x8');
my $registry = start_schema_registry();
my $url = $registry->url;
my $node = new_node('avro_reference', conf => "statement_timeout = '120s'");
$node->safe_psql('postgres',
	"CREATE DATABASE ref ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('ref', 'CREATE EXTENSION kafka_fdw');

my $json = JSON::PP->new->utf8->allow_nonref;

sub run_tool
{
	my ($input, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $tool, @args ], '<', \$input, '>', \$out, '2>', \$err)
	  or die "avro_reference @args failed: $err";
	return split /\n/, $out;
}

# ---- the cases: libavro-c writes, libavro-c and we read

my @cases;
for my $line (run_tool('', 'generate', $seed, $nschemas, $nvalues))
{
	my ($schema, $hex) = split /\t/, $line, 2;
	push @cases, { schema => $schema, hex => $hex, truncated => 0 };
	push @cases, { schema => $schema, hex => substr($hex, 0, -2), truncated => 1 }
	  if length($hex) >= 2;
}
cmp_ok(scalar(grep { !$_->{truncated} } @cases), '>=', 400,
	'a few hundred random schema and value cases');

my @reference = run_tool(join('', map { "$_->{schema}\t$_->{hex}\n" } @cases), 'decode');
is(scalar(@reference), scalar(@cases), 'libavro-c answered every case');

my $csv = "$PostgreSQL::Test::Utils::tmp_check/avro_reference_cases.csv";
open(my $fh, '>', $csv) or die "$csv: $!";
for my $i (0 .. $#cases)
{
	print $fh join(',', $i, map { '"' . ($_ =~ s/"/""/gr) . '"' } $cases[$i]{schema}, $cases[$i]{hex}), "\n";
}
close($fh);

my $start = time;
my $ours = $node->safe_psql('ref', qq{
	CREATE TABLE cases (i int PRIMARY KEY, schema text, payload text);
	COPY cases FROM '$csv' WITH (FORMAT csv);
	CREATE FUNCTION ours(value bytea, schema text) RETURNS text
	LANGUAGE plpgsql AS \$\$
	BEGIN
		RETURN kafka.from_avro(value, schema => schema)::text;
	EXCEPTION WHEN OTHERS THEN
		RETURN 'ERROR: ' || SQLSTATE || ' ' || SQLERRM;
	END \$\$;
	-- in hex: psql drops Unicode noncharacters (U+FFFE, U+3FFFE...) it prints
	SELECT i || E'\\t' || encode(convert_to(ours(decode(payload, 'hex'), schema), 'UTF8'), 'hex')
	FROM cases ORDER BY i;
});
my %ours = map { my ($i, $hex) = split /\t/, $_, 2; ($i => pack('H*', $hex)) } split /\n/, $ours;
note(sprintf('%d cases decoded by kafka.from_avro in %.1f s', scalar(@cases), time - $start));

# The named types of a schema by name (the generator's names are unique
# without their namespace), for references by name or full name.
my %named;

sub register_names
{
	my ($schema) = @_;
	if (ref $schema eq 'ARRAY')
	{
		register_names($_) for @$schema;
	}
	elsif (ref $schema eq 'HASH')
	{
		$named{ $schema->{name} =~ s/.*\.//r } = $schema
		  if $schema->{type} =~ /^(record|enum|fixed)$/;
		register_names($_->{type}) for @{ $schema->{fields} // [] };
		register_names($schema->{items}) if $schema->{items};
		register_names($schema->{values}) if $schema->{values};
	}
}

sub resolve
{
	my ($schema) = @_;
	return $schema if ref $schema;
	return $named{ $schema =~ s/.*\.//r } // $schema;
}

sub type_of
{
	my ($schema) = @_;
	return ref $schema eq 'ARRAY' ? 'union' : ref $schema ? $schema->{type} : $schema;
}

sub branch_names
{
	my ($schema) = @_;
	my $type = type_of($schema);
	return ($type) unless $type =~ /^(record|enum|fixed)$/;
	return ($schema->{name}, $schema->{name} =~ s/.*\.//r);
}

sub bytes_hex
{
	my ($text) = @_;
	return undef if grep { ord($_) > 255 } split //, $text;
	return '\\x' . join('', map { sprintf('%02x', ord($_)) } split //, $text);
}

# libavro-c's $ref is the exact value (17 digits); our $our reads back to
# it: as a double, or as a float when it lies within half a float's unit in
# the last place of it (Perl's pack 'f' turns FLT_MAX into infinity).
sub same_real
{
	my ($ref, $our, $single) = @_;
	return 0 if ref $ref || ref $our || !defined $ref || !defined $our;
	# as doubles: JSON::PP reads "1133200045271526300" as an integer
	$ref = 0 + sprintf('%.17g', $ref);
	$our = 0 + sprintf('%.17g', $our);
	return 1 if $ref == $our;
	return 0 unless $single;
	my (undef, $exponent) = POSIX::frexp($ref);
	my $ulp = 2**(($exponent - 24) < -149 ? -149 : $exponent - 24);
	return abs($our - $ref) <= $ulp / 2;
}

# '' when libavro-c's $ref and our $our are the same value of $schema, else
# where and how they differ.
sub differ
{
	my ($schema, $ref, $our, $path) = @_;
	$schema = resolve($schema);
	my $type = type_of($schema);
	my $show = sub { "$path: libavro-c " . $json->canonical->encode($ref) . ", ours " . $json->canonical->encode($our) };

	if ($type eq 'union')
	{
		return defined $our ? $show->() : '' unless defined $ref;
		return $show->() unless ref $ref eq 'HASH' && keys %$ref == 1;
		my ($name) = keys %$ref;
		for my $branch (@$schema)
		{
			my $resolved = resolve($branch);
			return differ($resolved, $ref->{$name}, $our, "$path<$name>")
			  if grep { $_ eq $name } branch_names($resolved);
		}
		return "$path: libavro-c names branch $name, which the union does not have";
	}
	return defined $our ? $show->() : '' if $type eq 'null';
	return $show->() unless defined $ref && defined $our;
	if ($type eq 'boolean')
	{
		return JSON::PP::is_bool($ref) && JSON::PP::is_bool($our) && !$ref == !$our ? '' : $show->();
	}
	if ($type eq 'int' || $type eq 'long' || $type eq 'string' || $type eq 'enum')
	{
		return !ref $our && "$ref" eq "$our" ? '' : $show->();
	}
	return same_real($ref, $our, 1) ? '' : $show->() if $type eq 'float';
	return same_real($ref, $our, 0) ? '' : $show->() if $type eq 'double';
	if ($type eq 'bytes' || $type eq 'fixed')
	{
		my $hex = bytes_hex($ref);
		return $show->() unless defined $hex && !ref $our && $hex eq $our;
		return $type eq 'fixed' && length($ref) != $schema->{size} ? $show->() : '';
	}
	if ($type eq 'array')
	{
		return $show->() unless ref $ref eq 'ARRAY' && ref $our eq 'ARRAY' && @$ref == @$our;
		for my $i (0 .. $#$ref)
		{
			my $d = differ($schema->{items}, $ref->[$i], $our->[$i], "$path\[$i]");
			return $d if $d;
		}
		return '';
	}
	if ($type eq 'map' || $type eq 'record')
	{
		return $show->() unless ref $ref eq 'HASH' && ref $our eq 'HASH';
		my @keys = sort keys %$ref;
		return $show->() unless join("\0", @keys) eq join("\0", sort keys %$our);
		if ($type eq 'record')
		{
			my @fields = sort map { $_->{name} } @{ $schema->{fields} };
			return "$path: libavro-c's record has fields @keys, the schema @fields"
			  unless join("\0", @keys) eq join("\0", @fields);
		}
		for my $key (@keys)
		{
			my $inner = $type eq 'map' ? $schema->{values}
			  : (grep { $_->{name} eq $key } @{ $schema->{fields} })[0]{type};
			my $d = differ($inner, $ref->{$key}, $our->{$key}, "$path.$key");
			return $d if $d;
		}
		return '';
	}
	return "$path: unexpected schema type $type";
}

my ($agreed, $refused, @failures) = (0, 0);
for my $i (0 .. $#cases)
{
	my $case = $cases[$i];
	my $ref_text = $reference[$i] // 'ERROR: no answer';
	my $our_text = $ours{$i} // 'ERROR: no answer';
	my $problem;

	if ($case->{truncated})
	{
		if ($ref_text !~ /^ERROR: / || $our_text !~ /^ERROR: 22P03 /)
		{
			$problem = "a payload cut short: libavro-c $ref_text, ours $our_text";
		}
		else
		{
			$refused++;
		}
	}
	elsif ($ref_text =~ /^ERROR: / || $our_text =~ /^ERROR: /)
	{
		$problem = "libavro-c $ref_text, ours $our_text";
	}
	else
	{
		my $schema = $json->decode($case->{schema});
		%named = ();
		register_names($schema);
		$problem = differ($schema, $json->decode($ref_text), $json->decode($our_text), '$');
		$agreed++ unless $problem;
	}
	push @failures, "case $i: schema $case->{schema}\n  payload $case->{hex}\n  $problem"
	  if $problem;
}
is(scalar(@failures), 0,
	"libavro-c and kafka.from_avro agree on every case ($agreed values read alike, $refused cut payloads refused by both)")
  or diag(scalar(@failures) . " disagreements, seed $seed (KT_AVRO_REFERENCE_SEED=$seed reruns it); the first:\n"
	  . join("\n", @failures[ 0 .. ($#failures < 4 ? $#failures : 4) ]));

# ---- linking libavro-c: no symbol of ours may stand in for one of its own
# (PostgreSQL loads the extension RTLD_GLOBAL: libavro-c's calls to its
# own avro_value_to_json would reach ours)

{
	my $pkglibdir = `pg_config --pkglibdir`;
	chomp $pkglibdir;
	my $module = "$pkglibdir/kafka_fdw.so";
	my ($libavro) = `ldd $module` =~ /(\S*libavro\.so\S*) \(/;
	ok(defined $libavro, 'kafka_fdw.so is linked with libavro-c');
	my %theirs = map { (split)[2] => 1 } grep { /^\S+ [TDBRVW] / } `nm -D --defined-only $libavro`;
	my @clashes = grep { $theirs{$_} } map { (split)[2] } grep { /^\S+ [TDBRVW] / } `nm -D --defined-only $module`;
	cmp_ok(scalar(keys %theirs), '>', 100, 'libavro-c\'s symbols listed');
	is("@clashes", '', 'no global symbol of kafka_fdw.so is one of libavro-c\'s');
}

# ---- schemas: libavro-c's parser after ours

$node->safe_psql('ref', qq{
	CREATE SERVER k FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '127.0.0.1:9', schema_registry_url '$url');
});

# {"type": <schema>}: libavro-c (and Python's parser) refuse it
my $nested = '{"type":{"type":"int"}}';
my ($rc, $out, $err) = $node->psql('ref',
	"SELECT kafka.from_avro('\\x02'::bytea, schema => '$nested')");
like($err, qr/ERROR:  invalid value for option "avro_schema": schema is refused by libavro-c's parser\nDETAIL:  libavro-c: "type" field must be a string\./,
	"from_avro's schema: libavro-c's refusal, its reason in the DETAIL");
($rc, $out, $err) = $node->psql('ref',
	"CREATE FOREIGN TABLE t (v jsonb) SERVER k OPTIONS (topic 't', format 'avro', avro_schema '{\"type\":[\"null\",\"int\"]}')");
like($err, qr/ERROR:  invalid value for option "avro_schema": schema is refused by libavro-c's parser\nDETAIL:  libavro-c: "type" field must be a string\./,
	"a table's avro_schema: libavro-c's refusal in the DETAIL");

# a registry schema: refused when used, libavro-c's reason in the message
my $http = HTTP::Tiny->new(timeout => 30);
my $registered = $http->post("$url/subjects/nested-value/versions", {
	headers => { 'Content-Type' => 'application/vnd.schemaregistry.v1+json' },
	content => encode_json({ schema => '{"type":"record","name":"r","fields":[{"name":"a","type":"int"}],"x":' . $nested . '}' }) });
my $registered2 = $http->post("$url/subjects/nested2-value/versions", {
	headers => { 'Content-Type' => 'application/vnd.schemaregistry.v1+json' },
	content => encode_json({ schema => $nested }) });
ok($registered->{success} && $registered2->{success}, 'schemas registered in the fixture registry');
my $ok_id = decode_json($registered->{content})->{id};
my $nested_id = decode_json($registered2->{content})->{id};
is($node->safe_psql('ref',
		sprintf(q{SELECT kafka.from_avro('\x00%08x02'::bytea, server => 'k')}, $ok_id)),
	'{"a": 1}', 'a registry schema libavro-c accepts (unknown attributes and all) decodes');
($rc, $out, $err) = $node->psql('ref',
	sprintf(q{SELECT kafka.from_avro('\x00%08x02'::bytea, server => 'k')}, $nested_id));
like($err, qr/schema id $nested_id is not a valid Avro schema: schema is refused by libavro-c's parser: "type" field must be a string/,
	"a registry schema libavro-c refuses: its reason in the error");

# accepted although libavro-c 1.11 refuses them (as the Java and Python
# parsers accept them): type "error", and a type of the null namespace named
# from inside another namespace
is($node->safe_psql('ref', q{
	SELECT kafka.from_avro('\x04'::bytea,
	  schema => '{"type":"error","name":"e","fields":[{"name":"code","type":"int"}]}')}),
	'{"code": 2}', 'a schema of type "error" is accepted and decodes');
is($node->safe_psql('ref', q{
	SELECT kafka.from_avro('\x0406'::bytea, schema => '{"type":"record","name":"r","namespace":"a","fields":[
	  {"name":"x","type":{"type":"record","name":"s","namespace":"","fields":[{"name":"n","type":"int"}]}},
	  {"name":"y","type":"s"}]}')}),
	'{"x": {"n": 2}, "y": {"n": 3}}', 'a null-namespace type named from inside a namespace is accepted');

# a name resolves in its namespace first, the null namespace only after
is($node->safe_psql('ref', q{
	SELECT kafka.from_avro('\x0202410242'::bytea, schema => '{"type":"record","name":"r","namespace":"a","fields":[
	  {"name":"x","type":{"type":"record","name":"s","namespace":"","fields":[{"name":"n","type":"int"}]}},
	  {"name":"y","type":{"type":"record","name":"s","fields":[{"name":"m","type":"string"}]}},
	  {"name":"z","type":"s"}]}')}),
	'{"x": {"n": 1}, "y": {"m": "A"}, "z": {"m": "B"}}',
	'"s" inside namespace "a" is "a.s" when both "s" and "a.s" exist');

# attributes Avro has beyond the types, and attributes of its users: both
# parsers accept them
is($node->safe_psql('ref', q{
	SELECT kafka.from_avro('\x020e'::bytea, schema => '{"type":"record","name":"r","doc":"d",
	  "aliases":["old_r"],"connect.name":"x.r","fields":[
	  {"name":"id","type":{"type":"int","connect.type":"int32"},"default":0,"order":"descending","aliases":["key"],"doc":"i"},
	  {"name":"d","type":{"type":"int","logicalType":"date"},"default":0}]}')}),
	'{"d": "1970-01-08", "id": 1}', 'doc, aliases, defaults, order, logicalType and foreign attributes are accepted');

# what both parsers refuse keeps our own message, without a DETAIL
($rc, $out, $err) = $node->psql('ref',
	q{SELECT kafka.from_avro('\x00'::bytea, schema => '{"type":"enum","name":"e","symbols":[]}')});
like($err, qr/ERROR:  invalid value for option "avro_schema": enum "e" has no "symbols"/,
	'a schema both refuse: our message');
unlike($err, qr/DETAIL/, '... without a DETAIL');

done_testing();
