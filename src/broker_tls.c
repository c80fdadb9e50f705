/*
 * The broker connection of `azure` (CONFIG_NETWORKING): TLS 1.2 with the device's
 * Client TLS certificate (key 0x5001), whose private key stays in the secure world.
 *
 * Zephyr 4.0's TLS sockets take a private key only as bytes, so this connection has
 * an mbedTLS context of its own over a plain TCP socket. Its key is a PSA "opaque"
 * key with an identifier no TF-M key has (SI_TLS_KEY_ID): mbedTLS asks PSA for the
 * key's attributes and for a signature, and the two PSA calls are wrapped at link
 * time (-Wl,--wrap, CMakeLists.txt) so that, for this identifier only, the
 * attributes come from here and the signature from the identity partition's TLS_SIGN
 * (rust/zephyr-ns). Every other key goes to TF-M's crypto service as before.
 *
 * Also here: the publisher's thread and its lock, which the Rust side uses through
 * the few functions below.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "secure_inference_ns.h"
#include "si_net.h"

/* The Client TLS key as mbedTLS sees it: a vendor key identifier (PSA reserves
 * 0x40000000-0x7fffffff for vendors) that TF-M's crypto service never hands out
 * (its volatile and built-in keys are near the top of that range). */
#define SI_TLS_KEY_ID ((psa_key_id_t)0x40005001)

/* What si_tls_open's *stage says failed. */
#define SI_TLS_STAGE_UNREACHABLE 0
#define SI_TLS_STAGE_HANDSHAKE 1

/* The broker connection: the publisher's thread is its only user. */
static struct {
	int fd;
	bool open;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt own;
	mbedtls_pk_context key;
} si_broker = {.fd = -1};

/* One cipher suite: ECDHE-ECDSA with AES-128-GCM, whose CertificateVerify hash is
 * SHA-256, the only digest TLS_SIGN signs. */
static const int si_suites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};

psa_status_t __real_psa_sign_hash(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *hash,
				  size_t hash_length, uint8_t *signature, size_t signature_size,
				  size_t *signature_length);
psa_status_t __real_psa_get_key_attributes(psa_key_id_t key, psa_key_attributes_t *attributes);

/* The Client TLS key's attributes: a P-256 key pair that signs SHA-256 digests with
 * ECDSA. mbedTLS reads them to choose the handshake's signature algorithm. */
psa_status_t __wrap_psa_get_key_attributes(psa_key_id_t key, psa_key_attributes_t *attributes)
{
	if (key != SI_TLS_KEY_ID) {
		return __real_psa_get_key_attributes(key, attributes);
	}
	*attributes = psa_key_attributes_init();
	psa_set_key_type(attributes, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(attributes, 256);
	psa_set_key_usage_flags(attributes, PSA_KEY_USAGE_SIGN_HASH);
	psa_set_key_algorithm(attributes, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
	return PSA_SUCCESS;
}

/* A signature with the Client TLS key: the identity partition's TLS_SIGN, r || s as
 * PSA returns ECDSA signatures. mbedTLS first tries deterministic ECDSA, which this
 * key's policy does not allow (as PSA would answer), then ECDSA. */
psa_status_t __wrap_psa_sign_hash(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *hash,
				  size_t hash_length, uint8_t *signature, size_t signature_size,
				  size_t *signature_length)
{
	if (key != SI_TLS_KEY_ID) {
		return __real_psa_sign_hash(key, alg, hash, hash_length, signature,
					    signature_size, signature_length);
	}
	if (alg != PSA_ALG_ECDSA(PSA_ALG_SHA_256)) {
		return PSA_ERROR_NOT_PERMITTED;
	}
	if (hash_length != 32) {
		return PSA_ERROR_INVALID_ARGUMENT;
	}
	if (signature_size < 64) {
		return PSA_ERROR_BUFFER_TOO_SMALL;
	}
	psa_status_t status = si_identity_tls_sign(hash, signature);

	*signature_length = status == PSA_SUCCESS ? 64 : 0;
	return status;
}

static int si_tls_random(void *ctx, unsigned char *out, size_t len)
{
	ARG_UNUSED(ctx);
	return psa_generate_random(out, len) == PSA_SUCCESS ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int si_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n = zsock_send(fd, buf, len, 0);

	if (n >= 0) {
		return (int)n;
	}
	/* EAGAIN: SO_SNDTIMEO passed with nothing taken, so the broker stopped reading. */
	return errno == EAGAIN ? -ETIMEDOUT : -errno;
}

/* mbedTLS's read with a timeout (mbedtls_ssl_conf_read_timeout, 0: none). */
static int si_bio_recv_timeout(void *ctx, unsigned char *buf, size_t len, uint32_t timeout_ms)
{
	int fd = *(int *)ctx;
	struct zsock_pollfd pfd = {.fd = fd, .events = ZSOCK_POLLIN};
	int ready = zsock_poll(&pfd, 1, timeout_ms == 0 ? -1 : (int)MIN(timeout_ms, INT32_MAX));

	if (ready == 0) {
		return MBEDTLS_ERR_SSL_TIMEOUT;
	}
	if (ready < 0) {
		return -errno;
	}
	ssize_t n = zsock_recv(fd, buf, len, 0);

	if (n >= 0) {
		return (int)n;
	}
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : -errno;
}

void si_tls_close(void)
{
	if (si_broker.open) {
		(void)mbedtls_ssl_close_notify(&si_broker.ssl);
	}
	if (si_broker.fd >= 0) {
		zsock_close(si_broker.fd);
		si_broker.fd = -1;
	}
	mbedtls_ssl_free(&si_broker.ssl);
	mbedtls_ssl_config_free(&si_broker.conf);
	mbedtls_x509_crt_free(&si_broker.ca);
	mbedtls_x509_crt_free(&si_broker.own);
	mbedtls_pk_free(&si_broker.key);
	si_broker.open = false;
}

/*
 * Opens TCP and TLS to host:port: the server's certificate checked against the CA
 * of the bootstrap credential and for `host`; the client's, `cert` (DER), with the
 * key in the secure world. 0, or a negative errno (*stage 0: unreachable) or mbedTLS
 * error (*stage 1: the handshake failed).
 */
int si_tls_open(const char *host, uint16_t port, const uint8_t *cert, size_t cert_len,
		uint32_t timeout_ms, int *stage)
{
	size_t ca_len;
	const uint8_t *ca = si_net_trust_anchor(&ca_len);
	struct sockaddr_in addr;
	int err;

	si_tls_close();
	*stage = SI_TLS_STAGE_UNREACHABLE;
	if (ca == NULL) {
		return -ENOENT;
	}
	err = si_net_resolve(host, port, &addr);
	if (err != 0) {
		return err;
	}
	si_broker.fd = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (si_broker.fd < 0) {
		return -errno;
	}
	/* Writes wait at most the timeout too; reads have mbedTLS's (below). */
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	if (zsock_setsockopt(si_broker.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		si_tls_close();
		return err;
	}
	if (zsock_connect(si_broker.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		si_tls_close();
		return err;
	}

	*stage = SI_TLS_STAGE_HANDSHAKE;
	mbedtls_ssl_init(&si_broker.ssl);
	mbedtls_ssl_config_init(&si_broker.conf);
	mbedtls_x509_crt_init(&si_broker.ca);
	mbedtls_x509_crt_init(&si_broker.own);
	mbedtls_pk_init(&si_broker.key);
	err = mbedtls_x509_crt_parse_der(&si_broker.ca, ca, ca_len);
	if (err == 0) {
		err = mbedtls_x509_crt_parse_der(&si_broker.own, cert, cert_len);
	}
	if (err == 0) {
		err = mbedtls_pk_setup_opaque(&si_broker.key, SI_TLS_KEY_ID);
	}
	if (err == 0) {
		err = mbedtls_ssl_config_defaults(&si_broker.conf, MBEDTLS_SSL_IS_CLIENT,
						  MBEDTLS_SSL_TRANSPORT_STREAM,
						  MBEDTLS_SSL_PRESET_DEFAULT);
	}
	if (err == 0) {
		mbedtls_ssl_conf_authmode(&si_broker.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(&si_broker.conf, &si_broker.ca, NULL);
		mbedtls_ssl_conf_rng(&si_broker.conf, si_tls_random, NULL);
		mbedtls_ssl_conf_ciphersuites(&si_broker.conf, si_suites);
		mbedtls_ssl_conf_read_timeout(&si_broker.conf, timeout_ms);
		err = mbedtls_ssl_conf_own_cert(&si_broker.conf, &si_broker.own, &si_broker.key);
	}
	if (err == 0) {
		err = mbedtls_ssl_setup(&si_broker.ssl, &si_broker.conf);
	}
	if (err == 0) {
		err = mbedtls_ssl_set_hostname(&si_broker.ssl, host);
	}
	if (err == 0) {
		mbedtls_ssl_set_bio(&si_broker.ssl, &si_broker.fd, si_bio_send, NULL,
				    si_bio_recv_timeout);
		do {
			err = mbedtls_ssl_handshake(&si_broker.ssl);
		} while (err == MBEDTLS_ERR_SSL_WANT_READ || err == MBEDTLS_ERR_SSL_WANT_WRITE);
	}
	if (err != 0) {
		si_tls_close();
		return err;
	}
	si_broker.open = true;
	return 0;
}

/* Writes all of buf: 0 or a negative error. */
int si_tls_send(const uint8_t *buf, size_t len)
{
	if (!si_broker.open) {
		return -ENOTCONN;
	}
	while (len > 0) {
		int n = mbedtls_ssl_write(&si_broker.ssl, buf, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? n : -EIO;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Up to len bytes that arrive within timeout_ms: their count, 0 when none did,
 * SI_TLS_CLOSED when the peer closed, or a negative error. */
int si_tls_recv(uint8_t *buf, size_t len, uint32_t timeout_ms)
{
	if (!si_broker.open) {
		return -ENOTCONN;
	}
	mbedtls_ssl_conf_read_timeout(&si_broker.conf, MAX(timeout_ms, 1));
	for (;;) {
		int n = mbedtls_ssl_read(&si_broker.ssl, buf, len);

		if (n > 0) {
			return n;
		}
		if (n == MBEDTLS_ERR_SSL_TIMEOUT) {
			return 0;
		}
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			continue;
		}
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			return SI_TLS_CLOSED;
		}
		return n;
	}
}

/* The publisher's thread and the lock it shares with the shell's thread. */
K_MUTEX_DEFINE(si_azure_mutex);
K_THREAD_STACK_DEFINE(si_azure_stack, CONFIG_SECURE_INFER_AZURE_STACK_SIZE);
static struct k_thread si_azure_thread;
static bool si_azure_spawned;

/* The queue of results waiting for the broker's acknowledgement: the slots live
 * here because their count is a Kconfig choice. */
static uint8_t si_azure_slots[CONFIG_NONSECURE_AZURE_QUEUE * SI_AZURE_SLOT_BYTES] __aligned(8);

void si_azure_lock(void)
{
	(void)k_mutex_lock(&si_azure_mutex, K_FOREVER);
}

void si_azure_unlock(void)
{
	(void)k_mutex_unlock(&si_azure_mutex);
}

static void si_azure_entry(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	si_azure_main(si_azure_slots, CONFIG_NONSECURE_AZURE_QUEUE);
}

/* Starts the publisher's thread; the previous one must have been joined. */
void si_azure_spawn(void)
{
	k_tid_t tid = k_thread_create(&si_azure_thread, si_azure_stack,
				      K_THREAD_STACK_SIZEOF(si_azure_stack), si_azure_entry, NULL,
				      NULL, NULL, K_PRIO_PREEMPT(8), 0, K_NO_WAIT);

	k_thread_name_set(tid, "azure");
	si_azure_spawned = true;
}

/* Waits for the publisher's thread to end (it ends once it is told to stop). */
void si_azure_join(void)
{
	if (si_azure_spawned) {
		(void)k_thread_join(&si_azure_thread, K_FOREVER);
		si_azure_spawned = false;
	}
}

uint64_t si_uptime_ms(void)
{
	return (uint64_t)k_uptime_get();
}
