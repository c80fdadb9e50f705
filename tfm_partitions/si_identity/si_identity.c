/*
 * The device-identity partition's entry point. Only C sees the signal that TF-M's
 * manifest tool generates (psa_manifest/si_identity.h); everything else is Rust
 * (rust/tfm-partitions).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include "psa/service.h"
#include "psa_manifest/si_identity.h"
#include "si_partitions.h"
#include "tfm_sp_log.h"

/* One line per TLS handshake signature with the Client TLS key (TLS_SIGN), on the
 * secure console: the device's own record of when its TLS key was used. */
void si_identity_log_tls_signature(uint32_t count)
{
	LOG_INFFMT("[si_identity] TLS_SIGN #%u: a handshake signature with key 0x5001\r\n",
		   (unsigned int)count);
}

void si_identity_main(void)
{
	si_identity_init();
	for (;;) {
		psa_signal_t signals = psa_wait(SI_DEVICE_IDENTITY_SIGNAL, PSA_BLOCK);

		if (signals & SI_DEVICE_IDENTITY_SIGNAL) {
			si_identity_serve(SI_DEVICE_IDENTITY_SIGNAL);
		}
	}
}
