/*
 * What the network's two C files share (src/net.c, src/broker_tls.c) beyond what
 * secure_inference_ns.h declares (the functions Rust calls or exports).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SI_NET_H
#define SI_NET_H

#include <stddef.h>
#include <stdint.h>

#include <zephyr/net/socket.h>

/* host (IPv4 address, "localhost", or a name for DNS) and port as an address; 0 or
 * -EHOSTUNREACH. */
int si_net_resolve(const char *host, uint16_t port, struct sockaddr_in *addr);

/* The lock around every use of mbedTLS (its heap has none of its own). */
void si_net_lock(void);
void si_net_unlock(void);

#endif /* SI_NET_H */
