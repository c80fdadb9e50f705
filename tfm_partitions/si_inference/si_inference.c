/*
 * The inference partition's entry point. Only C sees the signal that TF-M's manifest
 * tool generates (psa_manifest/si_inference.h); everything else is Rust
 * (rust/tfm-partitions).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include "psa/service.h"
#include "psa_manifest/si_inference.h"
#include "si_partitions.h"

void si_inference_main(void)
{
	si_inference_init();
	for (;;) {
		psa_signal_t signals = psa_wait(SI_INFERENCE_SIGNAL, PSA_BLOCK);

		if (signals & SI_INFERENCE_SIGNAL) {
			si_inference_serve(SI_INFERENCE_SIGNAL);
		}
	}
}
