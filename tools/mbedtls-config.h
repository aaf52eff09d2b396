/*
 * Mbed TLS 2.28 configuration of rigagent: a TLS 1.2 client, and nothing else.
 *
 * tools/build-mbedtls.sh builds Debian's own source package (mbedtls) with this file as its
 * include/mbedtls/config.h, and cmake/Dependencies.cmake compiles every object that includes an
 * Mbed TLS header with MBEDTLS_CONFIG_FILE set to that installed copy: the headers' structures
 * depend on these options, so the library and its users must see the same ones. A change here
 * changes the recipe stamp of tools/build-mbedtls.sh, so existing builds are redone.
 *
 * Debian's libmbedtls-dev is built with upstream's default configuration (plus threading, HAVEGE,
 * MD2/MD4, CMAC, DTLS-SRTP): a static link with it pulls in DES, ARC4, Camellia, CCM, DHM,
 * PKCS#5/#12, the TLS server, the debug module and the library's test certificates, none of which
 * a client needs. What rigagent uses (agent/net/tls.cpp, agent/upstream/serf/protocol.cpp):
 *   - a TLS 1.2 client (mbedtls_ssl_conf_min_version TLS 1.2; 2.28 has no usable TLS 1.3 client),
 *     SNI and host name check (mbedtls_ssl_set_hostname), no ALPN, no session resumption, no
 *     renegotiation, no client certificate;
 *   - the server's chain checked against a PEM CA bundle (mbedtls_x509_crt_parse_file, by default
 *     Debian's /etc/ssl/certs/ca-certificates.crt), no CRLs;
 *   - key exchange groups x25519, secp256r1, secp384r1, secp521r1 (tls.cpp's list: a group it
 *     lists that the library lacks fails every handshake: "Invalid value in SSL config");
 *   - entropy + CTR_DRBG; mbedtls_strerror (error messages name Mbed TLS's reason);
 *   - base64 (the Serf keyring key).
 *
 * Ciphersuites (all there are with the options below): ECDHE-ECDSA and ECDHE-RSA with
 * AES-128-GCM-SHA256, AES-256-GCM-SHA384 and CHACHA20-POLY1305-SHA256. No CBC suites: every TLS 1.2
 * server with an ECDHE suite that an ordinary CA certificate is served by also has AES-GCM (it is
 * in every mainstream TLS stack since 2012, and Mozilla's "intermediate" server profile offers
 * only AEAD suites), and CBC would add the CBC record code with its Lucky-13 countermeasures and
 * encrypt-then-MAC. No static RSA, DHE, PSK or static ECDH key exchange.
 *
 * Certificates: RSA keys (2048 bits or more: the default X.509 profile) with PKCS#1 v1.5 or PSS
 * signatures, and ECDSA keys on the curves above; SHA-224/256/384/512. SHA-1 stays because 30 of
 * the 144 roots in Debian's CA bundle are self-signed with SHA-1 and would otherwise not even
 * parse, so that chains to them would fail (a root's own signature is never checked, and the
 * default X.509 profile refuses SHA-1 in a chain).
 */
#ifndef MBEDTLS_CONFIG_H
#define MBEDTLS_CONFIG_H

/* System */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity periods */
#define MBEDTLS_FS_IO                   /* mbedtls_x509_crt_parse_file */
/* Each HTTP client has its own TLS context; the mutexes (CTR_DRBG, RSA, entropy) keep one safe if
   it is ever shared between threads. Debian's build has them too. */
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* Random numbers: the OS (getrandom, /dev/urandom) through the entropy pool, into CTR_DRBG. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* Symmetric: AES-GCM and ChaCha20-Poly1305 records; AES for CTR_DRBG too. AES-NI on x86-64 only
   (the host builds); on ARM the portable code. */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

/* Hashes. The smaller SHA-256/512 code: a client hashes a handshake and a certificate chain per
   connection, too little for the unrolled code to pay for its size. */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA512_SMALLER

/* Public keys */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21                /* RSASSA-PSS certificate signatures */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM           /* fast reduction: a handshake's ECDHE and ECDSA on a board */
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_SECP521R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDH_LEGACY_CONTEXT
#define MBEDTLS_ECDSA_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C

/* ASN.1, PEM, X.509 certificates (no CRLs, no CSRs, no writing) */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C             /* ECDSA signatures (check_config.h requires it) */
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT

/* TLS: 1.2, client only */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES   /* the server learns why the client gave up */

/* Error strings (mbedtls_strerror); MBEDTLS_NET_C only for the names of its error codes, which
   agent/net/tls.cpp returns from its own socket callbacks (net_sockets.c itself is not linked). */
#define MBEDTLS_ERROR_C
#define MBEDTLS_NET_C

#include "mbedtls/check_config.h"

#endif /* MBEDTLS_CONFIG_H */
