/*
 * The network of `keys ca` (CONFIG_NETWORKING, overlay-smsc911x.conf): TLS 1.2
 * connections through Zephyr's sockets, whose mbedTLS runs in this image and does
 * its cryptography through PSA in TF-M. The Rust side (rust/zephyr-ns, feature "net")
 * drives the provisioning protocol and calls only these few functions; it never
 * sees the credential's private key.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zephyr/init.h>
#include <zephyr/kernel.h>
#include <zephyr/net/socket.h>
#include <zephyr/net/tls_credentials.h>
#include <zephyr/random/random.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

/* The prototypes, as the Rust side declares them (cargo xtask headers). */
#include "secure_inference_ns.h"
#include "si_net.h"

/* si_bootstrap_{ca,cert,key}[] from the Kconfig's credential folder (pem_to_c.py). */
#include "si_bootstrap_creds.h"

/* The security tag of the bootstrap credential in Zephyr's TLS credential store. */
#define SI_TAG_BOOTSTRAP 0x5b00

/* What failed: si_net_connect's *stage. */
#define SI_NET_UNREACHABLE 0
#define SI_NET_TLS 1

static int si_creds_added;

/* mbedTLS's heap (Zephyr 4.0 builds it without MBEDTLS_THREADING_C) is shared by
 * `keys ca`'s TLS socket and the broker connection's own context (src/broker_tls.c):
 * one lock around every use. Zephyr's mutexes are recursive for their owner. */
K_MUTEX_DEFINE(si_net_mutex);

static int si_net_connect_locked(const char *host, uint16_t port, uint32_t timeout_ms,
				 int *stage);

void si_net_lock(void)
{
	(void)k_mutex_lock(&si_net_mutex, K_FOREVER);
}

void si_net_unlock(void)
{
	(void)k_mutex_unlock(&si_net_mutex);
}

static int si_net_init(void)
{
	int err;

	if (SI_BOOTSTRAP_CA_LEN == 0 || SI_BOOTSTRAP_CERT_LEN == 0 || SI_BOOTSTRAP_KEY_LEN == 0) {
		return 0;
	}
	err = tls_credential_add(SI_TAG_BOOTSTRAP, TLS_CREDENTIAL_CA_CERTIFICATE, si_bootstrap_ca,
				 SI_BOOTSTRAP_CA_LEN);
	if (err == 0) {
		err = tls_credential_add(SI_TAG_BOOTSTRAP, TLS_CREDENTIAL_SERVER_CERTIFICATE,
					 si_bootstrap_cert, SI_BOOTSTRAP_CERT_LEN);
	}
	if (err == 0) {
		err = tls_credential_add(SI_TAG_BOOTSTRAP, TLS_CREDENTIAL_PRIVATE_KEY,
					 si_bootstrap_key, SI_BOOTSTRAP_KEY_LEN);
	}
	si_creds_added = err == 0;
	if (err != 0) {
		printk("secure-inference: bootstrap credential not loaded (%d)\n", err);
	}
	return 0;
}

SYS_INIT(si_net_init, APPLICATION, CONFIG_APPLICATION_INIT_PRIORITY);

/* The CA certificate (DER) that `keys ca` checks the issued certificate against;
 * NULL and 0 when the build has no credential. */
const uint8_t *si_net_trust_anchor(size_t *len)
{
	*len = si_creds_added ? SI_BOOTSTRAP_CA_LEN : 0;
	return si_creds_added ? si_bootstrap_ca : NULL;
}

const char *si_net_bootstrap_host(void)
{
	return CONFIG_BOOTSTRAP_SERVER_HOST;
}

uint16_t si_net_bootstrap_port(void)
{
	return CONFIG_BOOTSTRAP_SERVER_PORT;
}

int si_net_resolve(const char *host, uint16_t port, struct sockaddr_in *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons(port);
#if defined(CONFIG_SECURE_INFER_LOCALHOST_IS_QEMU_HOST)
	/* QEMU's user network: its gateway is the host's loopback. */
	if (strcmp(host, "localhost") == 0) {
		host = "10.0.2.2";
	}
#endif
	if (zsock_inet_pton(AF_INET, host, &addr->sin_addr) == 1) {
		return 0;
	}
#if defined(CONFIG_DNS_RESOLVER)
	struct zsock_addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	struct zsock_addrinfo *res = NULL;

	if (zsock_getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL) {
		addr->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		zsock_freeaddrinfo(res);
		return 0;
	}
#endif
	return -EHOSTUNREACH;
}

/*
 * A TLS 1.2 connection to host:port with the bootstrap credential, the server's
 * certificate checked against the CA and for `host`. Returns the socket, or a
 * negative errno with *stage saying whether the server was unreachable or TLS failed.
 * A socket returned holds si_net_lock until si_net_close.
 */
int si_net_connect(const char *host, uint16_t port, uint32_t timeout_ms, int *stage)
{
	si_net_lock();
	int fd = si_net_connect_locked(host, port, timeout_ms, stage);

	if (fd < 0) {
		si_net_unlock();
	}
	return fd;
}

static int si_net_connect_locked(const char *host, uint16_t port, uint32_t timeout_ms,
				 int *stage)
{
	static const sec_tag_t tags[] = {SI_TAG_BOOTSTRAP};
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			  .tv_usec = (timeout_ms % 1000) * 1000};
	struct sockaddr_in addr;
	int fd;
	int err;

	*stage = SI_NET_UNREACHABLE;
	if (!si_creds_added) {
		return -ENOENT;
	}
	err = si_net_resolve(host, port, &addr);
	if (err != 0) {
		return err;
	}
	fd = zsock_socket(AF_INET, SOCK_STREAM, IPPROTO_TLS_1_2);
	if (fd < 0) {
		return -errno;
	}
	if (zsock_setsockopt(fd, SOL_TLS, TLS_SEC_TAG_LIST, tags, sizeof(tags)) < 0 ||
	    zsock_setsockopt(fd, SOL_TLS, TLS_HOSTNAME, host, strlen(host) + 1) < 0 ||
	    zsock_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    zsock_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		zsock_close(fd);
		return err;
	}
	if (zsock_connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		zsock_close(fd);
		/* Zephyr's TLS sockets hand over in connect(): what is not a TCP
		 * failure is the handshake's. */
		if (err != -ECONNREFUSED && err != -ETIMEDOUT && err != -ENETUNREACH &&
		    err != -EHOSTUNREACH) {
			*stage = SI_NET_TLS;
		}
		return err;
	}
	return fd;
}

/* Sends all of buf; 0 or a negative errno. */
int si_net_send(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = zsock_send(fd, buf, len, 0);

		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			/* Nothing taken: the socket will not make progress. */
			return -EIO;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Up to len bytes; 0 when the peer closed, a negative errno on failure or timeout. */
int si_net_recv(int fd, uint8_t *buf, size_t len)
{
	ssize_t n = zsock_recv(fd, buf, len, 0);

	return n < 0 ? -errno : (int)n;
}

void si_net_close(int fd)
{
	zsock_close(fd);
	si_net_unlock();
}

void si_net_sleep_ms(uint32_t ms)
{
	/* The retry backoff is seconds at most; clamp to k_msleep's range anyway. */
	k_msleep(ms > INT32_MAX ? INT32_MAX : (int32_t)ms);
}

uint64_t si_net_seed(void)
{
	uint64_t seed = 0;

	sys_rand_get(&seed, sizeof(seed));
	return seed;
}

/* Words for the network's failures: the errnos a connection meets, and the mbedTLS
 * errors of the broker's handshake (src/broker_tls.c). NULL for other codes. */
const char *si_net_strerror(int code)
{
	switch (code) {
	case -ENOENT:
		return "no bootstrap credential in this build (CONFIG_SECURE_INFER_BOOTSTRAP_CREDS)";
	case -ECONNREFUSED:
		return "connection refused";
	case -ETIMEDOUT:
	case -EAGAIN:
	case MBEDTLS_ERR_SSL_TIMEOUT:
		return "timed out";
	case -EHOSTUNREACH:
		return "host unreachable";
	case -ENETUNREACH:
		return "network unreachable";
	case -ECONNRESET:
		return "connection reset by the peer";
	case -ECONNABORTED:
		/* What Zephyr's TLS sockets report for a failed handshake. */
		return "the TLS handshake failed (a certificate refused by either side?)";
	case -ENOTCONN:
		return "not connected";
	case -EIO:
		return "I/O error";
	case -ENOMEM:
	case -ENOBUFS:
		return "out of network buffers";
	case -EPIPE:
		return "the connection is closed";
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
	case MBEDTLS_ERR_X509_ALLOC_FAILED:
		return "out of mbedTLS heap (CONFIG_MBEDTLS_HEAP_SIZE)";
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		return "the server's certificate does not verify (not from the CA, or not for this name)";
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		return "the server ended the handshake with an alert";
	case MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE:
		return "no common TLS parameters with the server";
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
		return "the server closed the connection";
	case MBEDTLS_ERR_PK_BAD_INPUT_DATA:
		return "the Client TLS key is not usable";
	default:
		break;
	}
	/* X.509 errors come with the ASN.1 error that caused them added in: name them by
	 * their high-level part. */
	if (code <= -0x2000 && code > -0x3000) {
		return "a certificate does not parse or is not acceptable";
	}
	return NULL;
}
