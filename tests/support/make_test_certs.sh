#!/bin/sh
# Test certificates for the HTTPS tests, made fresh in DIR (valid for two days):
#   ca.pem            a test CA
#   server.pem/.key   for localhost and 127.0.0.1, signed by ca.pem. 127.0.0.1 is in it twice, as an
#                     IP and as a DNS subjectAltName: Mbed TLS 2.28 checks only DNS names (tls.hpp)
#   ip-only.pem/.key  the same but 127.0.0.1 only as an IP subjectAltName (shows that limitation)
#   other-ca.pem      an unrelated CA, which must not be trusted for server.pem
# EC P-256 keys: quick to make, and what Mbed TLS handles by default.
#
#   tests/support/make_test_certs.sh DIR
set -eu
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

# openssl's chatter stays out of the test log unless it fails.
run() {
  "$@" 2>openssl.log || { cat openssl.log >&2; exit 1; }
}

ca() {  # ca NAME SUBJECT
  # shellcheck disable=SC2086
  run openssl req -x509 $ec -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() {  # leaf NAME SUBJECT_ALT_NAMES
  # shellcheck disable=SC2086
  run openssl req -new $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=rigagent test server"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$2" >"$1.ext"
  run openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -CAserial ca.srl -days 2 \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

ca ca "rigagent test CA"
ca other-ca "rigagent unrelated test CA"
leaf server "DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1"
leaf ip-only "DNS:localhost,IP:127.0.0.1"
rm -f openssl.log
