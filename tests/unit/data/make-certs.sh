#!/bin/sh
# make-certs.sh - TEST-ONLY certificates for tests/unit/test_cert_info.c.
#
#   make-certs.sh OUTDIR HEADER
#
# Generates throwaway keys and certificates into OUTDIR with the openssl
# command line tool, then writes HEADER (a C header defining
# GH_CERT_TEST_DIR as OUTDIR; tests/unit/meson.build runs this script as a
# custom_target whose output is HEADER, so the test is rebuilt after it).
# Nothing generated here is committed: the keys are random on every run and
# protect nothing. The certificates' expected values are openssl's own
# reading of them, written next to each one:
#
#   NAME.der NAME.pem  the certificate (NAME-chain.pem: it, then its issuer)
#   NAME.txt           subject= issuer= (-nameopt RFC2253,-esc_msb),
#                      serial= (-serial), fingerprint= (-fingerprint -sha256),
#                      not_before= not_after= (seconds since the epoch)
#
# Certificates (keys: P-384 CA, P-256, P-521, RSA-2048, RSA-3072):
#   ca          P-384 self-signed CA (basicConstraints CA:TRUE)
#   ec_server   P-256 server: DNS SANs incl. a wildcard and mixed case, an
#               IP SAN, serial with the top bit set (DER sign byte)
#   rsa_client  RSA-2048 client: SPIFFE URI SAN, a DNS SAN, an email SAN,
#               serial 0x0f (leading zero nibble)
#   cn_only     P-521, no subjectAltName extension, notAfter past 2050
#               (GeneralizedTime)
#   escape      RSA-3072, subject needing RFC 4514 escaping: , + " ; < > \
#               leading '#', leading and trailing space, a TAB, UTF-8
#   long        P-256, subject longer than 512 bytes when printed
#   strings     P-256, T61String and BMPString values (string_mask default)
#   attrs       P-256, two CNs, DC, UID, emailAddress and an attribute
#               type openssl's default config does not know
#   mvrdn       P-256, a multi-valued RDN (CN=multi+UID=u1), which wolfSSL
#               5.7.2's ASN template parser refuses
#   many        P-256, 40 DNS SANs, one 300-byte DNS SAN, 10 URI SANs
#   expired     P-256, notAfter one day BEFORE notBefore (-days -1)
#   critext     P-256, an unknown critical extension (wolfCrypt refuses it)
#   ed25519     Ed25519 key (a key type this wolfSSL build does not parse)
set -eu

out=$1
header=$2
mkdir -p "$out"
cd "$out"
umask 077

# No system openssl.cnf: everything the certificates get is spelled here.
cat > openssl.cnf <<'EOF'
# TEST-ONLY configuration written by tests/unit/data/make-certs.sh
oid_section = test_oids
[test_oids]
gatehouseTestAttr = 1.3.6.1.4.1.55555.1.2
[req]
distinguished_name = dn
prompt = no
string_mask = utf8only
[req_default_mask]
distinguished_name = dn
prompt = no
string_mask = default
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_none]
basicConstraints = critical,CA:FALSE
[ec_server_ext]
basicConstraints = critical,CA:FALSE
subjectAltName = DNS:www.example.com,DNS:example.com,DNS:*.api.example.com,DNS:MiXeD.Example.ORG,IP:192.0.2.1,IP:2001:db8::1
[rsa_client_ext]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = clientAuth
subjectAltName = URI:spiffe://example.org/ns/prod/sa/api,DNS:client.example.net,email:client@example.net
[critext_ext]
basicConstraints = critical,CA:FALSE
1.3.6.1.4.1.55555.9 = critical,ASN1:UTF8String:unknown
[plain_ext]
basicConstraints = critical,CA:FALSE
subjectAltName = DNS:plain.example.com
EOF

# many: 40 DNS names, one 300 bytes long, 10 URIs.
{
    echo "[many_ext]"
    echo "basicConstraints = critical,CA:FALSE"
    printf 'subjectAltName = '
    i=0
    while [ $i -lt 40 ]; do
        printf 'DNS:h%02d.many.example,' $i
        i=$((i + 1))
    done
    long=$(printf '%0300d' 0 | tr 0 a)
    printf 'DNS:%s,' "$long"
    i=0
    while [ $i -lt 10 ]; do
        printf 'URI:spiffe://example.org/u%d,' $i
        i=$((i + 1))
    done
    echo 'DNS:last.many.example'
} >> openssl.cnf

export OPENSSL_CONF="$PWD/openssl.cnf"

key() { # NAME ALG...
    n=$1
    shift
    openssl genpkey "$@" -out "$n.key" 2>/dev/null
}

info() { # NAME
    n=$1
    openssl x509 -in "$n.pem" -outform DER -out "$n.der"
    nb=$(openssl x509 -in "$n.pem" -noout -startdate | sed 's/^notBefore=//')
    na=$(openssl x509 -in "$n.pem" -noout -enddate | sed 's/^notAfter=//')
    {
        # OPENSSL_CONF=/dev/null: print gatehouseTestAttr as an unknown OID
        OPENSSL_CONF=/dev/null openssl x509 -in "$n.pem" -noout -subject -nameopt RFC2253,-esc_msb
        OPENSSL_CONF=/dev/null openssl x509 -in "$n.pem" -noout -issuer -nameopt RFC2253,-esc_msb
        openssl x509 -in "$n.pem" -noout -serial
        openssl x509 -in "$n.pem" -noout -fingerprint -sha256 | sed 's/^[^=]*=/fingerprint=/'
        echo "not_before=$(date -u -d "$nb" +%s)"
        echo "not_after=$(date -u -d "$na" +%s)"
    } > "$n.txt"
}

# leaf NAME KEYALG-ARGS... -- REQ-ARGS... ; signed by ca with extensions $ext,
# serial $serial, $days days.
leaf() {
    n=$1
    shift
    openssl req -new -key "$n.key" "$@" -out "$n.csr"
    openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -set_serial "$serial" \
        -days "$days" -extfile openssl.cnf -extensions "$ext" -out "$n.pem" 2>/dev/null
    cat "$n.pem" ca.pem > "$n-chain.pem"
    info "$n"
}

key ca -algorithm EC -pkeyopt ec_paramgen_curve:P-384
openssl req -new -x509 -key ca.key -days 3650 -set_serial 0x01 -extensions ca_ext \
    -subj '/O=Gatehouse Tests/CN=Gatehouse Test CA' -out ca.pem
info ca

key ec_server -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x00a1b2c3d4e5f60718 days=825 ext=ec_server_ext
leaf ec_server -subj '/C=DE/O=Example/CN=www.example.com'

key rsa_client -algorithm RSA -pkeyopt rsa_keygen_bits:2048
serial=0x0f days=30 ext=rsa_client_ext
leaf rsa_client -subj '/O=Example/OU=Clients/CN=client one'

key cn_only -algorithm EC -pkeyopt ec_paramgen_curve:P-521
serial=0x7fffffffffffffffffffffffffffffffffffffff days=30000 ext=leaf_none
leaf cn_only -subj '/CN=Legacy.Example.COM/O=Example'

key escape -algorithm RSA -pkeyopt rsa_keygen_bits:3072
serial=4660 days=30 ext=plain_ext
leaf escape -utf8 -subj "$(printf '/C=US/ST=Z\303\274rich/O=Example\\, Inc. \\+ "Friends"/OU=#hash/OU= leading/OU=trail /OU=tab\there/CN=semi;colon<lt>gt\\\\back=eq')"

key long -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x1234 days=30 ext=plain_ext
ou=$(printf '%060d' 0 | tr 0 o)
leaf long -subj "/O=Long/OU=1$ou/OU=2$ou/OU=3$ou/OU=4$ou/OU=5$ou/OU=6$ou/OU=7$ou/OU=8$ou/OU=9$ou/CN=long.example.com"

key strings -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x2345 days=30 ext=plain_ext
openssl req -new -key strings.key -section req_default_mask -utf8 \
    -subj "$(printf '/O=\316\251 Omega Ltd/CN=Z\303\274rich Gr\303\274\303\237e')" -out strings.csr
openssl x509 -req -in strings.csr -CA ca.pem -CAkey ca.key -set_serial "$serial" \
    -days "$days" -extfile openssl.cnf -extensions "$ext" -out strings.pem 2>/dev/null
cat strings.pem ca.pem > strings-chain.pem
info strings

key attrs -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x3456 days=30 ext=plain_ext
leaf attrs -subj '/CN=first.example/DC=org/DC=example/gatehouseTestAttr=foo/emailAddress=a@example.org/UID=u1/CN=attrs'

key mvrdn -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x3457 days=30 ext=plain_ext
leaf mvrdn -multivalue-rdn -subj '/O=Example/CN=multi+UID=u1'

key many -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x4567 days=30 ext=many_ext
leaf many -subj '/CN=many.example'

key expired -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x6789 days=-1 ext=plain_ext
leaf expired -subj '/CN=expired.example'

key critext -algorithm EC -pkeyopt ec_paramgen_curve:P-256
serial=0x789a days=30 ext=critext_ext
leaf critext -subj '/CN=critext.example'

key ed25519 -algorithm ED25519
serial=0x5678 days=30 ext=plain_ext
leaf ed25519 -subj '/CN=ed25519.example'

rm -f ./*.csr
cd - >/dev/null
cat > "$header" <<EOF
/* Generated by tests/unit/data/make-certs.sh: TEST-ONLY certificates. */
#define GH_CERT_TEST_DIR "$out"
EOF
