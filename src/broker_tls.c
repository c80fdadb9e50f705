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
 * the few functions below. mbedTLS's heap has no lock of its own in Zephyr 4.0
 * (no MBEDTLS_THREADING_C), so this connection and `keys ca`'s (src/net.c) take
 * si_net_lock around every mbedTLS call.
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
#define SI_TLS_STAGE_SETUP 2

/* The broker connection: the publisher's thread is its only user. */
static struct {
	int fd;
	/* The handshake completed: a close sends close_notify, unless... */
	bool open;
	/* ...a write or read failed, after which nothing more is written. */
	bool broken;
	/* Until when the current operation may wait for the broker (k_uptime_get). */
	int64_t deadline;
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
 * key's policy does not allow (as PSA would answer), then ECDSA. PSA lets the
 * signature overlap the hash, so both go through buffers of this frame. */
psa_status_t __wrap_psa_sign_hash(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *hash,
				  size_t hash_length, uint8_t *signature, size_t signature_size,
				  size_t *signature_length)
{
	uint8_t digest[32];
	uint8_t rs[64];

	if (key != SI_TLS_KEY_ID) {
		return __real_psa_sign_hash(key, alg, hash, hash_length, signature,
					    signature_size, signature_length);
	}
	*signature_length = 0;
	if (alg != PSA_ALG_ECDSA(PSA_ALG_SHA_256)) {
		return PSA_ERROR_NOT_PERMITTED;
	}
	if (hash_length != sizeof(digest)) {
		return PSA_ERROR_INVALID_ARGUMENT;
	}
	if (signature_size < sizeof(rs)) {
		return PSA_ERROR_BUFFER_TOO_SMALL;
	}
	memcpy(digest, hash, sizeof(digest));
	psa_status_t status = si_identity_tls_sign(digest, rs);

	if (status == PSA_SUCCESS) {
		memcpy(signature, rs, sizeof(rs));
		*signature_length = sizeof(rs);
	}
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
	/* EAGAIN (SO_SNDTIMEO) or ENOBUFS (Zephyr's own send wait, as long): nothing
	 * taken for 10 s, so the broker stopped reading. */
	return errno == EAGAIN || errno == ENOBUFS ? -ETIMEDOUT : -errno;
}

/* Reads what arrives before the connection's deadline; WANT_READ once it has passed,
 * which mbedTLS documents as resumable (the caller decides whether to go on). */
static int si_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	int64_t left = si_broker.deadline - k_uptime_get();
	struct zsock_pollfd pfd = {.fd = fd, .events = ZSOCK_POLLIN};

	if (left <= 0) {
		return MBEDTLS_ERR_SSL_WANT_READ;
	}
	int ready = zsock_poll(&pfd, 1, (int)MIN(left, INT32_MAX));

	if (ready == 0) {
		return MBEDTLS_ERR_SSL_WANT_READ;
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

static bool si_deadline_passed(void)
{
	return k_uptime_get() >= si_broker.deadline;
}

void si_tls_close(void)
{
	si_net_lock();
	if (si_broker.open && !si_broker.broken) {
		/* Bounded like any write: a broker that stopped reading costs one wait. */
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
	si_broker.broken = false;
	si_net_unlock();
}

/*
 * Opens TCP and TLS 1.2 to host:port within about timeout_ms (TCP's connect has
 * Zephyr's own limit, CONFIG_NET_SOCKETS_CONNECT_TIMEOUT): the server's certificate
 * checked against the CA of the bootstrap credential and for `host`; the client's,
 * `cert` (DER), with the key in the secure world. 0, or a negative errno (*stage 0:
 * unreachable; 2: no credential in this build) or mbedTLS error (*stage 1: the
 * handshake failed).
 */
int si_tls_open(const char *host, uint16_t port, const uint8_t *cert, size_t cert_len,
		uint32_t timeout_ms, int *stage)
{
	size_t ca_len;
	const uint8_t *ca = si_net_trust_anchor(&ca_len);
	/* Writes wait at most the timeout too. */
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct sockaddr_in addr;
	int err;

	si_tls_close();
	*stage = SI_TLS_STAGE_SETUP;
	if (ca == NULL) {
		return -ENOENT;
	}
	*stage = SI_TLS_STAGE_UNREACHABLE;
	err = si_net_resolve(host, port, &addr);
	if (err != 0) {
		return err;
	}
	si_net_lock();
	si_broker.deadline = k_uptime_get() + timeout_ms;
	si_broker.fd = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (si_broker.fd < 0) {
		err = -errno;
		goto out;
	}
	if (zsock_setsockopt(si_broker.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    zsock_connect(si_broker.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		goto out;
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
		/* TLS 1.2 whatever else an overlay enables: the suite below is 1.2's. */
		mbedtls_ssl_conf_min_tls_version(&si_broker.conf, MBEDTLS_SSL_VERSION_TLS1_2);
		mbedtls_ssl_conf_max_tls_version(&si_broker.conf, MBEDTLS_SSL_VERSION_TLS1_2);
		mbedtls_ssl_conf_ciphersuites(&si_broker.conf, si_suites);
		err = mbedtls_ssl_conf_own_cert(&si_broker.conf, &si_broker.own, &si_broker.key);
	}
	if (err == 0) {
		err = mbedtls_ssl_setup(&si_broker.ssl, &si_broker.conf);
	}
	if (err == 0) {
		err = mbedtls_ssl_set_hostname(&si_broker.ssl, host);
	}
	if (err == 0) {
		mbedtls_ssl_set_bio(&si_broker.ssl, &si_broker.fd, si_bio_send, si_bio_recv, NULL);
		do {
			err = mbedtls_ssl_handshake(&si_broker.ssl);
		} while ((err == MBEDTLS_ERR_SSL_WANT_READ || err == MBEDTLS_ERR_SSL_WANT_WRITE) &&
			 !si_deadline_passed());
		if (err == MBEDTLS_ERR_SSL_WANT_READ || err == MBEDTLS_ERR_SSL_WANT_WRITE) {
			err = MBEDTLS_ERR_SSL_TIMEOUT;
		}
	}
	if (err == 0) {
		si_broker.open = true;
	}
out:
	si_net_unlock();
	if (err != 0) {
		si_tls_close();
	}
	return err;
}

/* Writes all of buf: 0 or a negative error. */
int si_tls_send(const uint8_t *buf, size_t len)
{
	int err = 0;

	if (!si_broker.open || si_broker.broken) {
		return -ENOTCONN;
	}
	si_net_lock();
	while (len > 0) {
		int n = mbedtls_ssl_write(&si_broker.ssl, buf, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			continue;
		}
		if (n <= 0) {
			err = n < 0 ? n : -EIO;
			si_broker.broken = true;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	si_net_unlock();
	return err;
}

/* Up to len bytes that arrive within timeout_ms: their count, 0 when none did,
 * SI_TLS_CLOSED when the peer closed, or a negative error. */
int si_tls_recv(uint8_t *buf, size_t len, uint32_t timeout_ms)
{
	int n;

	if (!si_broker.open || si_broker.broken) {
		return -ENOTCONN;
	}
	si_net_lock();
	si_broker.deadline = k_uptime_get() + MAX(timeout_ms, 1);
	for (;;) {
		n = mbedtls_ssl_read(&si_broker.ssl, buf, len);
		if (n > 0) {
			break;
		}
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (si_deadline_passed()) {
				n = 0;
				break;
			}
			continue;
		}
		si_broker.broken = true;
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			n = SI_TLS_CLOSED;
		}
		break;
	}
	si_net_unlock();
	return n;
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
