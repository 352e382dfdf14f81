# The Schema Registry over HTTPS: with the registry's CA given by the server
# option schema_registry_ca_location, to_avro registers and from_avro (in a
# fresh session, so nothing is cached) fetches the schema over TLS; without
# it, or with another CA, certificate verification fails with a clear error
# naming the registry, never a silent downgrade to an unverified connection.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use KafkaFdwTest;

# A throwaway CA and a certificate for 127.0.0.1 signed by it, plus a second
# CA that signed nothing we serve.
my $pki = PostgreSQL::Test::Utils::tempdir('pki');
sub openssl
{
	my @args = @_;
	my ($ok, $out, $err) = run_cmd([ 'openssl', @args ]);
	ok($ok, "openssl $args[0]") or diag($err);
	return;
}
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
	'-subj', '/CN=kafka_fdw test CA', '-keyout', "$pki/ca.key", '-out', "$pki/ca.pem");
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
	'-subj', '/CN=other CA', '-keyout', "$pki/other.key", '-out', "$pki/other.pem");
openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
	'-keyout', "$pki/server.key", '-out', "$pki/server.csr");
open(my $ext, '>', "$pki/server.ext") or die "server.ext: $!";
print $ext "subjectAltName = IP:127.0.0.1\n";
close $ext;
openssl('x509', '-req', '-in', "$pki/server.csr", '-CA', "$pki/ca.pem",
	'-CAkey', "$pki/ca.key", '-CAcreateserial', '-days', '2',
	'-extfile', "$pki/server.ext", '-out', "$pki/server.pem");
chmod 0644, glob("$pki/*");

my $broker = start_broker(brokers => 1);
my $registry = start_schema_registry(user => 'sr-user', password => 'sr-tls-pw',
	tls_cert => "$pki/server.pem", tls_key => "$pki/server.key");
my $url = $registry->url;
like($url, qr{^https://127\.0\.0\.1:\d+$}, 'the registry speaks https');

my $bs = $broker->bootstrap;
my $node = new_node('avro_tls', broker => $broker,
	conf => "statement_timeout = '60s'\ntimezone = 'UTC'");

$node->safe_psql('postgres', qq{
	CREATE SERVER tls FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url',
	           schema_registry_ca_location '$pki/ca.pem');
	CREATE SERVER no_ca FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url');
	CREATE SERVER wrong_ca FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url',
	           schema_registry_ca_location '$pki/other.pem');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER tls
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-tls-pw');
	CREATE USER MAPPING FOR CURRENT_USER SERVER no_ca
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-tls-pw');
	CREATE USER MAPPING FOR CURRENT_USER SERVER wrong_ca
	  OPTIONS (schema_registry_user 'sr-user', schema_registry_password 'sr-tls-pw');
	RESET log_statement;
	CREATE TYPE payment AS (id int, amount numeric(10,2), note text);
	CREATE TABLE encoded AS
	  SELECT kafka.to_avro(ROW(7, 12.34, 'über TLS')::payment, 'tls', 'payments-value') AS value;
});

is($node->safe_psql('postgres', q{SELECT get_byte(value, 0) FROM encoded}),
	'0', 'to_avro registered the schema over https (Confluent header)');
ok((grep { m{^POST /subjects/payments-value} } $registry->requests),
	'the registration reached the https registry');

# A new session has an empty schema cache: from_avro must fetch by id.
is($node->safe_psql('postgres', q{
	SELECT (kafka.from_avro(value, NULL::payment, server => 'tls')).* FROM encoded}),
	'7|12.34|über TLS', 'from_avro fetched the schema over https and decoded');
ok((grep { m{^GET /schemas/ids/\d+ 200} } $registry->requests),
	'the schema was fetched by id over https');

my ($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.from_avro(value, server => 'no_ca') FROM encoded});
isnt($ret, 0, 'without the CA the certificate is not trusted');
like($err, qr/schema registry/i, 'the error names the schema registry');
like($err, qr/certificate|SSL|TLS/i, 'the error says it is about the certificate');
unlike($err, qr/sr-tls-pw/, 'no password in the error');

($ret, $out, $err) = $node->psql('postgres', q{
	SELECT kafka.from_avro(value, server => 'wrong_ca') FROM encoded});
isnt($ret, 0, 'a certificate from another CA is refused');
like($err, qr/certificate|SSL|TLS/i, 'and the error says why');

# The CA file is a server file: only a superuser may name one.
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	GRANT USAGE ON FOREIGN DATA WRAPPER kafka_fdw TO mallory;});
($ret, $out, $err) = $node->psql('postgres', qq{
	SET ROLE mallory;
	CREATE SERVER mine FOREIGN DATA WRAPPER kafka_fdw
	  OPTIONS (bootstrap_servers '$bs', schema_registry_url '$url',
	           schema_registry_ca_location '$pki/ca.pem')});
isnt($ret, 0, 'a non-superuser cannot set schema_registry_ca_location');
like($err, qr/schema_registry_ca_location/, 'the error names the option');

done_testing();
